"""LocalLlm against a local server speaking Ollama's API, through the official client."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

from eaio_addon.llm import LocalLlm
from ollama import AsyncClient
import pytest

from tests.helpers import wait_until
from tests.ollama_server import ChatStep, Script, start_server

MODEL = "eaio-test:3b"
LIGHT = "eaio-test:1b"

EXPLANATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "explanation": {"type": "string"},
        "rank": {"type": "integer", "minimum": 1},
    },
    "required": ["title", "explanation", "rank"],
    "additionalProperties": False,
}
GOOD = {"title": "Pre-cool before the peak", "explanation": "Cooling earlier uses cheaper hours.", "rank": 1}
MESSAGES = [{"role": "system", "content": "Explain the recommendation."}, {"role": "user", "content": "Why pre-cool?"}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_model_present_ready() -> None:
    server = await start_server(Script(models=[MODEL, LIGHT]))
    llm = LocalLlm(server.url, MODEL, LIGHT)
    try:
        await llm.start()
        status = llm.status()
        assert status["available"] is True
        assert status["state"] == "ready"
        assert status["model"] == MODEL and status["light_model"] == LIGHT
        assert status["pull_progress"] is None and status["error"] is None
        assert not any(path == "/api/pull" for path, _ in server.requests)
        assert llm.choose_model() == MODEL
    finally:
        await llm.close()
        await server.stop()


async def test_model_name_without_tag_matches_latest() -> None:
    server = await start_server(Script(models=["eaio-test:latest"]))
    llm = LocalLlm(server.url, "eaio-test", "eaio-test")
    try:
        await llm.start()
        assert llm.status()["state"] == "ready"
    finally:
        await llm.close()
        await server.stop()


async def test_missing_model_pulled_with_progress(caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(Script(models=[LIGHT], pullable={MODEL: 2_000_000_000}, pull_steps=10))
    llm = LocalLlm(server.url, MODEL, LIGHT)
    caplog.set_level(logging.INFO, logger="eaio_addon.llm")
    try:
        await llm.start()
        status = llm.status()
        assert status["state"] == "ready" and status["available"]
        assert status["pull_progress"] == 100.0
        assert MODEL in server.models
        pulls = [body for path, body in server.requests if path == "/api/pull"]
        assert pulls == [{"model": MODEL, "insecure": False, "stream": True}]
        progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"Pulling {MODEL}")]
        assert any("50 %" in line for line in progress), progress
        assert any("success" in line and "100 %" in line for line in progress), progress
        assert f"Pulled {MODEL}" in caplog.text
    finally:
        await llm.close()
        await server.stop()


async def test_model_that_cannot_be_pulled_runs_without_llm() -> None:
    server = await start_server(Script(models=[LIGHT], pullable={}))
    llm = LocalLlm(server.url, MODEL, LIGHT)
    try:
        await llm.start()
        status = llm.status()
        assert status["state"] == "model_missing" and not status["available"]
        assert "file does not exist" in status["error"]
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None and reply.model is None and "model_missing" in (reply.error or "")
        assert server.chat_requests() == []
    finally:
        await llm.close()
        await server.stop()


async def test_unreachable_server_runs_without_llm_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    llm = LocalLlm(f"http://127.0.0.1:{_free_port()}", MODEL, LIGHT, request_timeout_s=2)
    try:
        await llm.start()
        status = llm.status()
        assert status["state"] == "unreachable" and not status["available"]
        assert "Failed to connect to Ollama" in status["error"]
        assert "running without the LLM" in caplog.text
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None and "unreachable" in (reply.error or "")
        answer = await llm.ask_with_tools(MESSAGES, None)
        assert answer.text == "" and "unreachable" in (answer.error or "")
    finally:
        await llm.close()


async def test_no_url_disabled() -> None:
    llm = LocalLlm(None, MODEL, LIGHT)
    await llm.start()
    status = llm.status()
    assert status == {"available": False, "state": "disabled", "model": None, "light_model": LIGHT,
                      "pull_progress": None, "error": "no Ollama URL configured", "last_model_used": None}
    assert llm.choose_model() is None
    reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
    assert reply.data is None and "disabled" in (reply.error or "")
    await llm.close()


async def test_structured_reply_valid() -> None:
    server = await start_server(Script(models=[MODEL, LIGHT], chat=[ChatStep(content=json.dumps(GOOD))]))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data == GOOD
        assert reply.model == MODEL and reply.attempts == 1 and reply.error is None
        (request,) = server.chat_requests()
        assert request["format"] == EXPLANATION_SCHEMA
        assert request["stream"] is False
        assert request["messages"] == MESSAGES
        assert llm.status()["last_model_used"] == MODEL
        assert llm.history()[-1] | {"at": 0} == {"purpose": "explain", "model": MODEL, "ok": True, "error": None,
                                                 "attempts": 1, "at": 0}
    finally:
        await llm.close()
        await server.stop()


async def test_invalid_json_retried_once_then_template() -> None:
    steps = [ChatStep(content='{"title": "Pre-cool", "explanation": '), ChatStep(content='{"title": "x", "rank": 0}')]
    server = await start_server(Script(models=[MODEL, LIGHT], chat=steps))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None
        assert reply.attempts == 2
        assert reply.model == MODEL
        assert reply.error is not None
        requests = server.chat_requests()
        assert len(requests) == 2
        # The retry tells the model what was wrong with its first reply.
        retry = requests[1]["messages"]
        assert retry[:2] == MESSAGES
        assert retry[2] == {"role": "assistant", "content": '{"title": "Pre-cool", "explanation": '}
        assert retry[3]["role"] == "user" and "not JSON" in retry[3]["content"]
        assert llm.status()["last_model_used"] is None
        assert llm.history()[-1]["ok"] is False
    finally:
        await llm.close()
        await server.stop()


async def test_schema_violation_corrected_on_retry() -> None:
    steps = [ChatStep(content=json.dumps({**GOOD, "rank": 0})), ChatStep(content=json.dumps(GOOD))]
    server = await start_server(Script(models=[MODEL, LIGHT], chat=steps))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data == GOOD and reply.attempts == 2 and reply.error is None
        feedback = server.chat_requests()[1]["messages"][-1]["content"]
        assert "rank: 0 is less than the minimum of 1" in feedback
    finally:
        await llm.close()
        await server.stop()


async def test_slow_reply_past_timeout() -> None:
    server = await start_server(Script(models=[MODEL, LIGHT], chat=[ChatStep(content=json.dumps(GOOD), delay_s=1.5)]))
    llm = LocalLlm(server.url, MODEL, LIGHT, request_timeout_s=0.3, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None and reply.attempts == 1
        assert "within 0.3 s" in (reply.error or "")
        # A slow model is not a dead server: the next request is still tried.
        assert llm.status()["state"] == "ready"
    finally:
        await llm.close()
        await server.stop()


async def test_server_going_away_mid_run() -> None:
    server = await start_server(Script(models=[MODEL, LIGHT], chat=[ChatStep(content=json.dumps(GOOD)),
                                                                    ChatStep(drop=True)]))
    llm = LocalLlm(server.url, MODEL, LIGHT, request_timeout_s=5, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        first = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert first.data == GOOD
        dropped = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert dropped.data is None and "unreachable" in (dropped.error or "")
        assert llm.status()["state"] == "unreachable"
        await server.stop()
        gone = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert gone.data is None and gone.model is None and gone.attempts == 0
        assert llm.status()["last_model_used"] == MODEL
    finally:
        await llm.close()
        await server.stop()


async def test_memory_pressure_uses_light_model() -> None:
    used = {"pct": 50.0}
    server = await start_server(Script(models=[MODEL, LIGHT], structured=GOOD))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_limit_pct=80.0, memory_probe=lambda: used["pct"])
    try:
        await llm.start()
        assert llm.choose_model() == MODEL
        used["pct"] = 91.0
        assert llm.choose_model() == LIGHT
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data == GOOD and reply.model == LIGHT
        assert server.chat_requests()[-1]["model"] == LIGHT
        assert llm.status()["last_model_used"] == LIGHT
        assert [h["model"] for h in llm.history()] == [LIGHT]
    finally:
        await llm.close()
        await server.stop()


async def test_memory_pressure_without_light_model_defers() -> None:
    server = await start_server(Script(models=[MODEL], structured=GOOD))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 95.0)
    try:
        await llm.start()
        assert llm.status()["state"] == "ready"
        assert llm.choose_model() is None
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None and "deferred" in (reply.error or "")
        assert server.chat_requests() == []
    finally:
        await llm.close()
        await server.stop()


async def test_default_script_cites_first_user_message_streamed_and_not() -> None:
    server = await start_server()
    client = AsyncClient(host=server.url)
    try:
        whole = await client.chat(model="eaio-test", messages=MESSAGES)
        assert whole.message.content == 'Test model answer to: "Why pre-cool?"'
        parts = [part async for part in await client.chat(model="eaio-test", messages=MESSAGES, stream=True)]
        assert "".join(p.message.content or "" for p in parts) == whole.message.content
        assert parts[-1].done and not any(p.done for p in parts[:-1])
        with pytest.raises(Exception, match="not found") as info:
            await client.chat(model="no-such-model", messages=MESSAGES)
        assert getattr(info.value, "status_code", None) == 404
    finally:
        await client.close()
        await server.stop()


async def test_comes_back_after_the_server_returns() -> None:
    port = _free_port()
    llm = LocalLlm(f"http://127.0.0.1:{port}", MODEL, LIGHT, memory_probe=lambda: 40.0, recheck_after_s=0.0)
    try:
        await llm.start()
        assert llm.status()["state"] == "unreachable"
        server = await start_server(Script(models=[MODEL, LIGHT], structured=GOOD), port=port)
        try:
            reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
            assert reply.data == GOOD and reply.model == MODEL
            assert llm.status()["state"] == "ready" and llm.status()["error"] is None
        finally:
            await server.stop()
    finally:
        await llm.close()


async def test_pull_under_way_visible_in_status() -> None:
    server = await start_server(Script(models=[LIGHT], pullable={MODEL: 1_000}, pull_steps=20, pull_step_delay_s=0.05))
    llm = LocalLlm(server.url, MODEL, LIGHT)
    try:
        starting = asyncio.create_task(llm.start())
        await wait_until(lambda: llm.status()["state"] == "pulling" and 0 < (llm.status()["pull_progress"] or 0) < 100,
                         within=10, what="pull under way")
        # While pulling, callers get their templates instead of waiting.
        assert llm.choose_model() is None
        await starting
        assert llm.status()["state"] == "ready" and llm.status()["pull_progress"] == 100.0
    finally:
        await llm.close()
        await server.stop()


async def test_model_removed_after_start() -> None:
    server = await start_server(Script(models=[MODEL, LIGHT], structured=GOOD))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 40.0)
    try:
        await llm.start()
        server.models.discard(MODEL)
        reply = await llm.structured(MESSAGES, EXPLANATION_SCHEMA, purpose="explain")
        assert reply.data is None and "not found" in (reply.error or "")
        assert llm.status()["state"] == "model_missing" and not llm.available
    finally:
        await llm.close()
        await server.stop()

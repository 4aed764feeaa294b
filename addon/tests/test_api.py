"""The HTTP API: tokens, ingress, and honest answers when there is nothing to work on yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import stat
from typing import Any

import aiohttp
from eaio_addon.api import SUPERVISOR_INGRESS_ADDRESS, is_ingress
from eaio_addon.api_token import TOKEN_FILE, load_or_create_api_token
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
import pytest

from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Runtime, str]]:
    ha = FakeHomeAssistant()
    await ha.start()
    runtime = Runtime(Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                               ha_token="good-token", data_dir=tmp_path, options=parse_options({"backfill_days": 0}),
                               host="127.0.0.1", port=0, reconnect_cap=0.2, recorder_lag=0.0))
    await runtime.start()
    await wait_until(lambda: runtime.collector.backfill.state == "done")
    yield runtime, f"http://127.0.0.1:{runtime.port}"
    await runtime.stop()
    await ha.stop()


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, await (resp.json() if resp.content_type == "application/json" else resp.text())


async def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
        async with session.post(url, headers=headers, **kwargs) as resp:
            return resp.status, await resp.json()


def test_the_token_is_made_once_and_private(tmp_path: Path) -> None:
    token, created = load_or_create_api_token(tmp_path)
    assert created and len(token) >= 40
    assert stat.S_IMODE((tmp_path / TOKEN_FILE).stat().st_mode) == 0o600
    (tmp_path / TOKEN_FILE).chmod(0o644)
    assert load_or_create_api_token(tmp_path) == (token, False)
    assert stat.S_IMODE((tmp_path / TOKEN_FILE).stat().st_mode) == 0o600
    (tmp_path / TOKEN_FILE).write_text("short\n")
    with pytest.raises(ValueError, match="no valid token"):
        load_or_create_api_token(tmp_path)


async def test_missing_or_wrong_token_is_refused(api: tuple[Runtime, str]) -> None:
    runtime, base = api
    for path in ("/api/health", "/api/recommendations", "/"):
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": runtime.api_token},
                        {"X-Ingress-Path": "/api/hassio_ingress/x", "X-Forwarded-For": SUPERVISOR_INGRESS_ADDRESS}):
            status, body = await _get(base + path, headers)
            assert (status, body) == (401, {"error": "unauthorized"}), (path, headers)
    status, body = await _post(base + "/api/optimize", {}, {})
    assert status == 401


async def test_health_and_recommendations_with_the_token(api: tuple[Runtime, str]) -> None:
    runtime, base = api
    auth = {"Authorization": f"Bearer {runtime.api_token}"}
    status, health = await _get(base + "/api/health", auth)
    assert status == 200
    assert set(health) >= {"status", "version", "ha_link", "backfill", "store", "llm"}
    assert health["ha_link"] == "connected" and health["status"] == "ok"
    assert health["backfill"]["state"] == "done"
    assert health["store"] == {"readings": 0, "outbox_pending": 0}
    assert health["llm"]["available"] is False and health["llm"]["error"] == "no Ollama URL configured"
    await runtime.submit_recommendations([{"id": "r1", "category": "load", "title": "Shift the dishwasher"}])
    status, body = await _get(base + "/api/recommendations", auth)
    assert status == 200 and body == {"recommendations": [{"id": "r1", "category": "load",
                                                            "title": "Shift the dishwasher"}]}
    status, page = await _get(base + "/", auth)
    assert status == 200 and "<title>EAIO add-on</title>" in page
    assert "Shift the dishwasher" in page  # the open recommendation is drawn in the savings plot
    assert "http" not in page.split("<body>")[1].replace("http://127.0.0.1", "")  # nothing fetched from elsewhere


async def test_optimize_and_ask_on_an_empty_store_say_what_is_missing(api: tuple[Runtime, str]) -> None:
    runtime, base = api
    auth = {"Authorization": f"Bearer {runtime.api_token}"}
    status, body = await _post(base + "/api/optimize", {}, auth)
    assert status == 503  # nothing to work on yet: a failed run, with what is missing and why
    assert body["status"] == "failed" and body["recommendations"] == 0
    assert body["missing"] == ["analysis", "forecast", "load", "weather"]
    assert "no load history" in body["errors"]["analysis"] and "location" in body["errors"]["weather"]
    assert {"run_id", "status", "recommendations", "missing", "duration_s"} <= set(body)
    status, body = await _post(base + "/api/ask", {"question": "Why is my bill high?"}, auth)
    assert status == 200 and body["error"] == "llm_unavailable" and body["sources"] == ["last_run"]
    assert "not available" in body["answer"]
    for bad in ({"question": ""}, {"q": "x"}, "not json", [1, 2]):
        status, body = await _post(base + "/api/ask", bad, auth)
        assert status == 400 and body["error"] == "bad_request"
    status, body = await _post(base + "/api/optimize", "[", auth)
    assert status == 400


def test_ingress_is_trusted_only_from_the_supervisor_inside_the_supervisor() -> None:
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/abc"}
    assert is_ingress(SUPERVISOR_INGRESS_ADDRESS, ingress, trust_ingress=True)
    assert not is_ingress(SUPERVISOR_INGRESS_ADDRESS, ingress, trust_ingress=False)  # standalone
    assert not is_ingress(SUPERVISOR_INGRESS_ADDRESS, {}, trust_ingress=True)
    assert not is_ingress("172.30.32.1", ingress, trust_ingress=True)  # Home Assistant itself needs the token
    assert not is_ingress(None, ingress, trust_ingress=True)

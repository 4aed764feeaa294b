"""Hostile input is bounded: deep or huge JSON, odd Authorization headers, patterns with a trailing
newline, URLs of other schemes, absurd names and prices get a clear refusal, never a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from eaio_addon import bounded_json
from eaio_addon.option_types import OptionError
from eaio_addon.options import load_options, parse_options
from eaio_addon.runtime import Runtime, Settings
import pytest

from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until

DEEP = 30_000  # far past Python's recursion limit, well inside the API's 64 KiB


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    ha = FakeHomeAssistant()
    await ha.start()
    running = Runtime(Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                               ha_token="good-token", data_dir=tmp_path, options=parse_options({"backfill_days": 0}),
                               host="127.0.0.1", port=0, reconnect_cap=0.2, recorder_lag=0.0))
    await running.start()
    await wait_until(lambda: running.collector.backfill.state == "done")
    yield running
    await running.stop()
    await ha.stop()


async def _raw_request(url: str, authorization: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request written by hand: a client library would refuse to send these header bytes."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n").encode()
    writer.write(head + b"Authorization: " + authorization + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


NON_ASCII = [b"Bearer \xc3\xbc\xc3\xa4", b"Bearer \xff\xfe", "Bearer ü".encode("latin-1"), b"\xe2\x82\xac"]


@pytest.mark.parametrize("authorization", NON_ASCII)
async def test_a_non_ascii_authorization_is_a_401_on_the_api_and_the_mcp_gate(runtime: Runtime,
                                                                              authorization: bytes) -> None:
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}).encode()
    for url in (f"http://127.0.0.1:{runtime.port}/api/ask", runtime.mcp_url(), runtime.mcp_url("energy")):
        status, _ = await _raw_request(url, authorization, init)
        assert status == 401, (url, authorization)
    # The same hand-written request with the token passes the gate: the header, not the request, was refused.
    status, _ = await _raw_request(f"http://127.0.0.1:{runtime.port}/api/ask",
                                   f"Bearer {runtime.api_token}".encode(), b'{"question": ""}')
    assert status == 400


async def test_a_deeply_nested_body_is_a_400_naming_the_problem(runtime: Runtime,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {runtime.api_token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        for path in ("/api/ask", "/api/optimize"):
            for body in ("[" * DEEP + "]" * DEEP, '{"question": ' + '{"a": ' * 5000 + "1" + "}" * 5001):
                async with http.post(f"http://127.0.0.1:{runtime.port}{path}", data=body, headers=auth) as resp:
                    answer = await resp.json()
                    assert resp.status == 400, answer
                    assert answer["error"] == "bad_request" and "nested more than" in answer["message"]
        # Still answering, and nothing in the log carries the payload.
        async with http.get(f"http://127.0.0.1:{runtime.port}/api/health", headers=auth) as resp:
            assert resp.status == 200
        # The MCP gate's own JSON-RPC parser refuses deep nesting too (400, no traceback).
        mcp_auth = {**auth, "Accept": "application/json, text/event-stream"}
        async with http.post(runtime.mcp_url(), data="[" * DEEP + "]" * DEEP, headers=mcp_auth) as resp:
            assert resp.status == 400
        async with http.post(f"http://127.0.0.1:{runtime.port}/api/ask", json={"question": "why? " * 1000},
                             headers=auth) as resp:
            assert resp.status == 400 and "longer than 2000" in (await resp.json())["message"]
    assert not [r for r in caplog.records if r.exc_info]
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
    assert any("nested more than" in r.getMessage() for r in caplog.records)


def test_bounded_json_counts_depth_without_recursing() -> None:
    assert bounded_json.nesting_depth('{"a": [1, {"b": "[[[[ not brackets ]]"}]}') == 3
    assert bounded_json.nesting_depth('"\\"[[" ' + "[" * 10) == 10
    with pytest.raises(bounded_json.InputTooLarge, match="nested more than 32"):
        bounded_json.loads("[" * 200_000 + "]" * 200_000)
    with pytest.raises(bounded_json.InputTooLarge, match="more than the 10 allowed"):
        bounded_json.loads("[" + "1," * 10 + "1]", max_chars=10)
    assert bounded_json.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    line = bounded_json.excerpt("x" * 200_000)
    assert len(line) < 120 and "200000 chars" in line


@pytest.mark.parametrize(("suffix", "text"), [
    (".json", '{"entities": ' + "[" * DEEP + "]" * DEEP + "}"),
    (".yaml", "entities: " + "[" * DEEP + "]" * DEEP + "\n"),
    (".yaml", "entities:\n" + "".join("  " * i + "- \n" for i in range(3000))),
    (".json", '{"model": "' + "m" * (2 * 1024 * 1024) + '"}'),
])
def test_a_hostile_options_file_is_refused_with_a_short_error(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"options{suffix}"
    path.write_text(text)
    with pytest.raises(OptionError) as caught:
        load_options(path)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(("options", "where", "problem"), [
    ({"entities": ["sensor.outdoor\n"]}, "entities[0]", "does not match"),
    ({"tariff": [{"start": "07:00\n", "price": 0.3}]}, "tariff[0].start", "does not match"),
    ({"ev": {"energy_kwh": 10, "ready_by": "07:00\n"}}, "ev.ready_by", "does not match"),
    ({"ollama_url": "javascript://x"}, "ollama_url", "http:// or https://"),
    ({"ollama_url": "file://host/etc/passwd"}, "ollama_url", "http:// or https://"),
    ({"tariff": [{"start": "00:00", "price": 1e12}]}, "tariff[0].price", "outside"),
    ({"deferrable_loads": [{"name": "w" * 500, "power_kw": 1, "run_hours": 1}]}, "deferrable_loads[0].name",
     "longer than 64"),
    ({"deferrable_loads": [{"name": "dish\nwasher", "power_kw": 1, "run_hours": 1}]}, "deferrable_loads[0].name",
     "control character"),
    ({"model": "q" * 1000}, "model", "longer than 200"),
    ({"mqtt_allowed_topics": ["a/" * 200]}, "mqtt_allowed_topics[0]", "longer than 256"),
])
def test_options_out_of_bounds_are_refused_by_name(options: dict[str, Any], where: str, problem: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_options(options)
    assert caught.value.path == where and problem in str(caught.value)


def test_options_within_bounds_still_pass() -> None:
    options = parse_options({"ollama_url": "https://ollama.local:11434", "entities": ["sensor.outdoor"],
                             "tariff": [{"start": "00:00", "price": -0.05}, {"start": "07:00", "price": 999}]})
    assert options.ollama_url == "https://ollama.local:11434" and options.entities == ("sensor.outdoor",)

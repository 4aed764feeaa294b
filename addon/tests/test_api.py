"""The HTTP API: tokens, ingress, and honest answers when there is nothing to work on yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
import html
from pathlib import Path
import stat
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from eaio_addon.api import SUPERVISOR_INGRESS_ADDRESS, is_ingress
from eaio_addon.api_token import TOKEN_FILE, Sessions, load_or_create_api_token
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


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_every_answer_carries_headers_that_let_only_home_assistant_frame_it(api: tuple[Runtime, str]) -> None:
    runtime, base = api
    auth = {"Authorization": f"Bearer {runtime.api_token}"}
    async with aiohttp.ClientSession() as http:
        for path, headers, status in (("/", auth, 200), ("/api/health", auth, 200), ("/", BROWSER, 401),
                                      ("/api/health", {}, 401), ("/nothing", auth, 404)):
            async with http.get(base + path, headers=headers) as resp:
                assert resp.status == status, path
                csp = resp.headers["Content-Security-Policy"]
                # The fake Home Assistant's origin (from the websocket URL) and ingress ('self') may frame it.
                assert f"frame-ancestors 'self' http://{urlsplit(runtime.settings.ha_ws_url).netloc}" in csp
                assert "default-src 'none'" in csp and "script-src" not in csp
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Referrer-Policy"] == "no-referrer"
                assert "X-Frame-Options" not in resp.headers


async def test_a_browser_signs_in_once_and_then_has_a_session_cookie(api: tuple[Runtime, str]) -> None:
    runtime, base = api
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address, as a browser keeps them
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(base + "/", headers=BROWSER) as resp:
            page = await resp.text()
            assert resp.status == 401 and resp.content_type == "text/html"
            assert '<form method="post" action="login"' in page and 'name="token"' in page
        async with http.post(base + "/login", data={"token": "wrong"}, headers=BROWSER) as resp:
            assert resp.status == 401 and "not the add-on's API token" in html.unescape(await resp.text())
        assert not list(jar)
        async with http.post(base + "/login", data={"token": runtime.api_token}, headers=BROWSER,
                             allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "./"
            cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
            assert runtime.api_token not in cookie
        async with http.get(base + "/", headers=BROWSER) as resp:
            assert resp.status == 200 and "<title>EAIO add-on</title>" in await resp.text()
        async with http.get(base + "/api/health") as resp:
            assert resp.status == 200
        # A cookie opens pages, it changes nothing: a POST still needs the token.
        async with http.post(base + "/api/optimize", json={}) as resp:
            assert resp.status == 401
        # A wrong header is not rescued by the cookie.
        async with http.get(base + "/api/health", headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
    # Another browser without the cookie (or with a made-up one) gets the form again.
    async with aiohttp.ClientSession(cookies={"eaio_session": "made-up"}) as http, \
            http.get(base + "/", headers=BROWSER) as resp:
        assert resp.status == 401 and "Sign in" in await resp.text()


def test_sessions_expire_and_are_bounded() -> None:
    now = [0.0]
    sessions = Sessions(60.0, limit=3, clock=lambda: now[0])
    first = sessions.open()
    assert sessions.valid(first) and not sessions.valid("other") and not sessions.valid(None)
    now[0] = 61.0
    assert not sessions.valid(first)
    ids = [sessions.open() for _ in range(4)]
    assert [sessions.valid(i) for i in ids] == [False, True, True, True]

"""MCP clients that log in through Home Assistant: OAuth metadata pointing to Home Assistant, a 401 that says
where to look, tokens Home Assistant vouches for (asked once a minute per token), the add-on's own token beside
them; checked with the official MCP SDK's client session. And the MCP server offered by Supervisor discovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from eaio_addon.discovery import announce_mcp
from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, open_client_session
from eaio_addon.mcp_servers.ha_auth import HaAuth, ha_vouches_at
import pytest

from tests.test_mcp_servers import MemoryBackend

TOKEN = "addon-token"
HA_USER_TOKEN = "ha-access-token-of-a-person"


class HomeAssistantRest:
    """Home Assistant's REST API as far as the add-on asks it: ``GET /api/`` answers 200 for its own tokens."""

    def __init__(self) -> None:
        self.valid = {HA_USER_TOKEN}
        self.asked: list[str] = []
        self.server: TestServer | None = None
        self.url = ""

    async def api(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.asked.append(token)
        if token not in self.valid:
            return web.json_response({"message": "Invalid access token or password"}, status=401)
        return web.json_response({"message": "API running."})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/", self.api)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.url = f"http://127.0.0.1:{self.server.port}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup() -> AsyncIterator[tuple[McpHttpServer, HomeAssistantRest, Clock]]:
    ha = HomeAssistantRest()
    await ha.start()
    clock = Clock()
    async with aiohttp.ClientSession() as session:
        auth = HaAuth(lambda: ha.url, ha_vouches_at(lambda: session, ha.url), clock=clock)
        backend = MemoryBackend()
        server = McpHttpServer(lambda: backend, lambda: None, MqttSettings(None), lambda: TOKEN,  # type: ignore[arg-type,return-value]
                               auth)
        await server.start("127.0.0.1", 0)
        try:
            yield server, ha, clock
        finally:
            await server.stop()
            assert ha.server is not None
            await ha.server.close()


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_metadata_points_to_home_assistant(setup: tuple[McpHttpServer, HomeAssistantRest, Clock]) -> None:
    server, ha, _ = setup
    base = server.url().removesuffix("/mcp")
    status, headers, _ = await _get(server.url())
    assert status == 401
    assert headers["WWW-Authenticate"] == \
        f'Bearer realm="eaio", resource_metadata="{base}/.well-known/oauth-protected-resource"'
    status, _, resource = await _get(f"{base}/.well-known/oauth-protected-resource")
    assert status == 200 and resource["authorization_servers"] == [ha.url] and resource["resource"] == f"{base}/mcp"
    status, _, energy = await _get(f"{base}/.well-known/oauth-protected-resource/energy/mcp")
    assert energy["resource"] == f"{base}/energy/mcp"
    # Home Assistant's MCP client looks for authorization-server metadata at the MCP server's own origin.
    status, _, server_meta = await _get(f"{base}/.well-known/oauth-authorization-server")
    assert status == 200
    assert server_meta["authorization_endpoint"] == f"{ha.url}/auth/authorize"
    assert server_meta["token_endpoint"] == f"{ha.url}/auth/token"
    assert ha.asked == []  # metadata needs no token and asks nobody


async def test_tokens_home_assistant_vouches_for(setup: tuple[McpHttpServer, HomeAssistantRest, Clock]) -> None:
    server, ha, clock = setup
    for _ in range(2):  # two sessions, many requests: Home Assistant is asked once
        async with open_client_session(server.url(), HA_USER_TOKEN) as session:
            tools = await session.list_tools()
            assert "energy_status" in {t.name for t in tools.tools}
            await session.call_tool("energy_status", {})
    assert ha.asked == [HA_USER_TOKEN]
    async with open_client_session(server.url(), TOKEN) as session:  # the add-on's own token still works
        await session.list_tools()
    assert ha.asked == [HA_USER_TOKEN]
    with pytest.raises(PermissionError, match="refused the token"):
        async with open_client_session(server.url(), "made-up-token"):
            pass
    # A token Home Assistant revokes stops working within a minute.
    ha.valid.clear()
    clock.now += 61
    with pytest.raises(PermissionError):
        async with open_client_session(server.url(), HA_USER_TOKEN):
            pass
    # A header that is not ASCII is refused like any wrong token, not an error of the server.
    status, _, body = await _get(server.url(), {"Authorization": "Bearer t\u00f6ken"})
    assert status == 401 and body["error"] == "unauthorized"


async def test_without_home_assistants_address_there_is_no_oauth() -> None:
    async with aiohttp.ClientSession() as session:
        auth = HaAuth(lambda: None, ha_vouches_at(lambda: session, "http://127.0.0.1:9"))
        server = McpHttpServer(lambda: MemoryBackend(), lambda: None, MqttSettings(None), lambda: TOKEN,  # type: ignore[arg-type,return-value]
                               auth)
        await server.start("127.0.0.1", 0)
        try:
            status, headers, _ = await _get(server.url())
            assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="eaio"'
            status, _, _ = await _get(server.url().removesuffix("/mcp") + "/.well-known/oauth-protected-resource")
            assert status == 404
            # Home Assistant unreachable: the token is refused, the server stays up.
            with pytest.raises(PermissionError):
                async with open_client_session(server.url(), HA_USER_TOKEN):
                    pass
            async with open_client_session(server.url(), TOKEN) as s:
                await s.list_tools()
        finally:
            await server.stop()


async def test_mcp_server_offered_by_supervisor_discovery() -> None:
    seen: list[dict[str, Any]] = []

    async def discovery(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({"result": "ok", "data": {"uuid": "mcp1"}})

    app = web.Application()
    app.router.add_post("/discovery", discovery)
    supervisor = TestServer(app, host="127.0.0.1")
    await supervisor.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            assert await announce_mcp(session, "supervisor-token", 8100, host="a0d7b954-eaio",
                                      url=f"http://127.0.0.1:{supervisor.port}/discovery") == "mcp1"
    finally:
        await supervisor.close()
    # The address only: the client logs in through Home Assistant, no token travels here.
    assert seen == [{"service": "mcp", "config": {"url": "http://a0d7b954-eaio:8100/mcp"}}]

"""One ASGI app with every MCP server on streamable HTTP, behind a bearer token (the add-on's own, or
one Home Assistant issued and vouches for: ``ha_auth``).

Paths: ``/energy/mcp``, ``/modbus/mcp``, ``/bacnet/mcp``, ``/mqtt/mcp`` (one category each) and
``/mcp`` (all tools; their names start with the category). uvicorn runs inside the add-on's own
asyncio loop, so the tools call the store and the Home Assistant link directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
import hmac
import json
import logging

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
import uvicorn

from .. import __version__
from .backend import EnergyBackend, HaServices
from .energy_tools import add_energy_tools
from .fieldbus_tools import add_fieldbus_tools
from .ha_auth import AUTHORIZATION_SERVER_PATH, PROTECTED_RESOURCE_PATH, HaAuth
from .mqtt_tools import MqttSettings, add_mqtt_tools

_LOGGER = logging.getLogger(__name__)

SERVER_NAMES = ("energy", "modbus", "bacnet", "mqtt")
ALL_TOOLS = "all"  # the server at /mcp


def path_of(server_name: str) -> str:
    return "/mcp" if server_name == ALL_TOOLS else f"/{server_name}/mcp"


def build_servers(backend: Callable[[], EnergyBackend], ha: Callable[[], HaServices],
                  mqtt: MqttSettings) -> dict[str, MCPServer]:
    """Each category's server, and the one at /mcp with every tool."""
    adders: dict[str, Callable[[MCPServer], None]] = {
        "energy": lambda s: add_energy_tools(s, backend),
        "modbus": lambda s: add_fieldbus_tools(s, "modbus", ha),
        "bacnet": lambda s: add_fieldbus_tools(s, "bacnet", ha),
        "mqtt": lambda s: add_mqtt_tools(s, mqtt),
    }
    servers: dict[str, MCPServer] = {}
    for name, add in adders.items():
        servers[name] = MCPServer(f"eaio-{name}", version=__version__, instructions=f"EAIO {name} tools.")
        add(servers[name])
    everything = MCPServer("eaio", version=__version__,
                           instructions="EAIO tools; each name starts with its category: "
                                        + ", ".join(SERVER_NAMES) + ".")
    for add in adders.values():
        add(everything)
    servers[ALL_TOOLS] = everything
    return servers


class BearerGate:
    """Refuses every request without an accepted ``Authorization: Bearer`` token (401) before MCP sees it.

    Accepted: the add-on's own token, or, with ``ha_auth``, a token Home Assistant vouches for. The
    OAuth metadata that tells a client where to get such a token is served without one; a 401 points
    to it (``WWW-Authenticate: Bearer resource_metadata=...``).
    """

    def __init__(self, app: ASGIApp, token: Callable[[], str], ha_auth: HaAuth | None = None) -> None:
        self._app = app
        self._token = token
        self._ha_auth = ha_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        path = str(scope.get("path") or "")
        base = _origin(scope, headers)
        if path.startswith(PROTECTED_RESOURCE_PATH) or path == AUTHORIZATION_SERVER_PATH:
            await self._metadata(path, base, send)
            return
        given = headers.get(b"authorization", b"")
        scheme, _, raw = given.partition(b" ")
        token = raw.strip()
        expected = self._token().encode()
        # Bytes, not text: a header with any bytes at all is compared, never decoded into an error.
        if scheme.lower() == b"bearer" and expected and hmac.compare_digest(token, expected):
            await self._app(scope, receive, send)
            return
        if (scheme.lower() == b"bearer" and self._ha_auth is not None
                and await self._ha_auth.accepts(token.decode("latin-1"))):
            await self._app(scope, receive, send)
            return
        reason = "missing bearer token" if not given else "wrong bearer token"
        challenge = 'Bearer realm="eaio"'
        if self._ha_auth is not None and self._ha_auth.public_url():
            challenge += f', resource_metadata="{base}{PROTECTED_RESOURCE_PATH}"'
        await _send_json(send, 401, {"error": "unauthorized", "message": reason},
                         [(b"www-authenticate", challenge.encode())])

    async def _metadata(self, path: str, base: str, send: Send) -> None:
        auth = self._ha_auth
        body: dict[str, object] | None = None
        if auth is not None and path == AUTHORIZATION_SERVER_PATH:
            body = auth.authorization_server()
        elif auth is not None:
            # /.well-known/oauth-protected-resource/<path>: the metadata of the resource at <path>.
            body = auth.protected_resource(base + (path[len(PROTECTED_RESOURCE_PATH):] or path_of(ALL_TOOLS)))
        if body is None:
            await _send_json(send, 404, {"error": "not_found",
                                         "message": "no OAuth here: Home Assistant's address is not known"})
            return
        await _send_json(send, 200, body)


def _origin(scope: Scope, headers: dict[bytes, bytes]) -> str:
    host = headers.get(b"host", b"").decode("latin-1") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
    return f"{scope.get('scheme', 'http')}://{host}"


async def _send_json(send: Send, status: int, body: dict[str, object],
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": data})


def build_app(servers: dict[str, MCPServer], token: Callable[[], str], ha_auth: HaAuth | None = None) -> ASGIApp:
    routes: list[BaseRoute] = []
    for name, server in servers.items():
        # host="0.0.0.0": no DNS-rebinding host check; clients reach the add-on by many names, and the
        # bearer token is what guards it.
        routes.extend(server.streamable_http_app(streamable_http_path=path_of(name), host="0.0.0.0").routes)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for server in servers.values():
                await stack.enter_async_context(server.session_manager.run())
            yield

    return BearerGate(Starlette(routes=routes, lifespan=lifespan), token, ha_auth)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The add-on owns SIGTERM/SIGINT; uvicorn must not take them over.
        yield


class McpHttpServer:
    """The MCP servers on streamable HTTP; ``start``/``stop`` inside the running asyncio loop."""

    def __init__(self, backend: Callable[[], EnergyBackend], ha: Callable[[], HaServices], mqtt: MqttSettings,
                 token: Callable[[], str], ha_auth: HaAuth | None = None) -> None:
        self.servers = build_servers(backend, ha, mqtt)
        self._app = build_app(self.servers, token, ha_auth)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        if not _LOGGER.isEnabledFor(logging.DEBUG):
            # Every MCP request would log a line from the HTTP client and the session manager.
            for name in ("httpx2", "mcp.server.streamable_http", "mcp.server.streamable_http_manager",
                         "mcp.client.streamable_http"):
                logging.getLogger(name).setLevel(logging.WARNING)
        config = uvicorn.Config(self._app, host=host, port=port, lifespan="on", log_level="warning",
                                access_log=False)
        server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._serve(server, host, port), name="eaio-mcp-http")
        while not server.started:
            if self._task.done():  # the port is taken, or the app failed to start
                self._task.result()
                raise OSError(f"the MCP server did not start on {host}:{port}")
            await asyncio.sleep(0.01)
        self._server = server
        self._host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.port = int(server.servers[0].sockets[0].getsockname()[1])
        _LOGGER.info("MCP servers on http://%s:%d (%s)", host, self.port,
                     ", ".join(path_of(n) for n in (*SERVER_NAMES, ALL_TOOLS)))

    @staticmethod
    async def _serve(server: _EmbeddedServer, host: str, port: int) -> None:
        try:
            await server.serve()
        except SystemExit as exc:
            # uvicorn exits when it cannot listen; in a task that would stop the add-on's whole loop.
            raise OSError(f"cannot listen on {host}:{port} (the port is taken or the address is wrong)") from exc

    def url(self, server_name: str = ALL_TOOLS) -> str:
        if server_name not in (*SERVER_NAMES, ALL_TOOLS):
            raise ValueError(f"no MCP server {server_name!r}; there are {', '.join((*SERVER_NAMES, ALL_TOOLS))}")
        return f"http://{self._host}:{self.port}{path_of(server_name)}"

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 10)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._server = None


@contextlib.asynccontextmanager
async def open_client_session(url: str, token: str, *, request_timeout: float = 60.0) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session over streamable HTTP with the bearer token."""
    client: httpx2.AsyncClient = create_mcp_http_client(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(request_timeout, read=max(request_timeout, 300.0)))
    refused: list[int] = []

    async def note_refusal(response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            refused.append(response.status_code)

    # The SDK reports a refused token only as a generic error response; this names it.
    client.event_hooks = {"request": [], "response": [note_refusal]}
    try:
        async with (client, streamable_http_client(url, http_client=client) as (read, write),
                    ClientSession(read, write) as session):
            await session.initialize()
            yield session
    except Exception as exc:
        if refused:
            raise PermissionError(f"the MCP server at {url} refused the token ({refused[0]})") from exc
        raise



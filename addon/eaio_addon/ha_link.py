"""The link to Home Assistant: its websocket API, kept connected.

One connection carries everything: commands (``call``) answered by ``result`` messages, and the
event subscriptions, which are made again after every reconnect. A refused token stops the link
for good (``auth_failed``): retrying a wrong token only fills Home Assistant's log with failed
logins and may get the address banned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from enum import StrEnum
import itertools
import json
import logging
import random
from typing import Any

import aiohttp

_LOGGER = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0  # a day of history for many entities can take a while on a small machine
HEARTBEAT = 30.0  # websocket pings: a dead peer is noticed within about this long
STABLE_AFTER = 60.0  # a connection that lasted this long resets the back-off

EventHandler = Callable[[dict[str, Any]], None]
ConnectHook = Callable[[], Coroutine[Any, Any, None]]


class LinkState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


class LinkDown(ConnectionError):
    """The link is not connected, or dropped before the answer came."""


class AuthFailed(Exception):
    """Home Assistant refused the token."""


class HaError(Exception):
    """Home Assistant answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def websocket_url(ha_url: str) -> str:
    """The websocket address for a Home Assistant base URL (http://host:8123 → ws://host:8123/api/websocket)."""
    base = ha_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    return base if base.endswith("/websocket") else base + "/api/websocket"


class HaLink:
    """A websocket client that reconnects with back-off and resubscribes after each reconnect."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str, *,
                 backoff_initial: float = 1.0, backoff_cap: float = 30.0) -> None:
        self._session = session
        self.url = url
        self._token = token
        self._backoff_initial = backoff_initial
        self._backoff_cap = backoff_cap
        self.state = LinkState.CONNECTING
        self.auth_error: str | None = None
        self.ha_version: str | None = None
        self.connects = 0
        self.last_error: str | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subscriptions: list[tuple[str, EventHandler]] = []
        self._handlers: dict[int, EventHandler] = {}
        self._hooks: list[ConnectHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._stopping = False

    # --- public ---------------------------------------------------------------------------------

    def subscribe(self, event_type: str, handler: EventHandler) -> None:
        """Deliver every ``event_type`` event to ``handler`` (a quick callback), on every connection."""
        self._subscriptions.append((event_type, handler))

    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook`` (as a task) each time the link is up and subscribed."""
        self._hooks.append(hook)

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def call(self, payload: dict[str, Any]) -> Any:
        """Send one command and return its result; HaError on an error answer, LinkDown without one."""
        ws = self._ws
        if ws is None or not self.connected:
            raise LinkDown("not connected to Home Assistant")
        return await self._command(ws, payload, COMMAND_TIMEOUT)

    async def call_service(self, domain: str, service: str, data: dict[str, Any] | None = None, *,
                           return_response: bool = False) -> Any:
        result = await self.call({"type": "call_service", "domain": domain, "service": service,
                                  "service_data": data or {}, "return_response": return_response})
        return result.get("response") if isinstance(result, dict) else None

    async def run(self) -> None:
        """Stay connected until ``stop()`` or until Home Assistant refuses the token."""
        loop = asyncio.get_running_loop()
        delay = self._backoff_initial
        while not self._stopping:
            started = loop.time()
            try:
                await self._connection()
            except AuthFailed as exc:
                self.state = LinkState.AUTH_FAILED
                self.auth_error = str(exc)
                _LOGGER.error("Home Assistant refused the token at %s (%s). Not retrying: fix the token "
                              "and restart the add-on.", self.url, exc)
                return
            except Exception as exc:  # whatever broke this connection, the next one is tried
                self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not self._stopping:
                    _LOGGER.warning("Home Assistant link: %s; reconnecting in %.1f s", self.last_error, delay)
            if self._stopping:
                break
            if loop.time() - started > STABLE_AFTER:
                delay = self._backoff_initial
            # Jitter, so that several clients do not all knock at the same moment after a restart.
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._backoff_cap)
        self.state = LinkState.STOPPED

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        for task in list(self._hook_tasks):
            task.cancel()

    # --- one connection -------------------------------------------------------------------------

    async def _connection(self) -> None:
        self.state = LinkState.CONNECTING
        # No size limit: a chunk of history is one message and may be many megabytes.
        async with self._session.ws_connect(self.url, heartbeat=HEARTBEAT, max_msg_size=0) as ws:
            await self._authenticate(ws)
            reader = asyncio.create_task(self._read(ws), name="eaio-ha-link-reader")
            self._ws = ws
            try:
                self._handlers.clear()
                for event_type, handler in self._subscriptions:
                    msg_id = next(self._ids)
                    # Registered before asking: the first event may follow the result immediately.
                    self._handlers[msg_id] = handler
                    await self._command(ws, {"type": "subscribe_events", "event_type": event_type},
                                        AUTH_TIMEOUT, msg_id=msg_id)
                self.state = LinkState.CONNECTED
                self.connects += 1
                self.last_error = None
                self._connected.set()
                _LOGGER.info("Connected to Home Assistant %s at %s", self.ha_version or "", self.url)
                for hook in self._hooks:
                    task = asyncio.create_task(hook(), name="eaio-ha-link-hook")
                    self._hook_tasks.add(task)
                    task.add_done_callback(self._hook_done)
                await reader
            finally:
                self._connected.clear()
                self._ws = None
                if self.state is LinkState.CONNECTED and not self._stopping:
                    _LOGGER.warning("Lost the connection to Home Assistant")
                self.state = LinkState.CONNECTING
                reader.cancel()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(LinkDown("the connection to Home Assistant dropped"))
                self._pending.clear()
        if not self._stopping:
            raise LinkDown("Home Assistant closed the connection")

    def _hook_done(self, task: asyncio.Task[None]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(exc, LinkDown):
            _LOGGER.error("A task run on connecting to Home Assistant failed", exc_info=exc)

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        first = await ws.receive_json(timeout=AUTH_TIMEOUT)
        if first.get("type") != "auth_required":
            raise ValueError(f"expected auth_required, got {first.get('type')!r}")
        self.ha_version = first.get("ha_version")
        await ws.send_json({"type": "auth", "access_token": self._token})
        answer = await ws.receive_json(timeout=AUTH_TIMEOUT)
        if answer.get("type") == "auth_invalid":
            raise AuthFailed(answer.get("message") or "invalid token")
        if answer.get("type") != "auth_ok":
            raise ValueError(f"expected auth_ok, got {answer.get('type')!r}")
        self.ha_version = answer.get("ha_version", self.ha_version)

    async def _command(self, ws: aiohttp.ClientWebSocketResponse, payload: dict[str, Any], limit_s: float,
                       msg_id: int | None = None) -> Any:
        msg_id = next(self._ids) if msg_id is None else msg_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await ws.send_json({**payload, "id": msg_id})
            async with asyncio.timeout(limit_s):
                return await future
        except aiohttp.ClientError as exc:
            raise LinkDown(f"sending to Home Assistant failed: {exc}") from exc
        except ConnectionError as exc:  # the transport closed under us; LinkDown itself passes through
            if isinstance(exc, LinkDown):
                raise
            raise LinkDown(f"sending to Home Assistant failed: {exc}") from exc
        finally:
            self._pending.pop(msg_id, None)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type is aiohttp.WSMsgType.ERROR:
                    _LOGGER.warning("Home Assistant websocket error: %s", ws.exception())
                continue
            try:
                decoded = json.loads(message.data)
            except ValueError:
                _LOGGER.warning("Ignoring a message from Home Assistant that is not JSON: %.200s", message.data)
                continue
            # Home Assistant may coalesce several messages into one JSON array.
            for item in decoded if isinstance(decoded, list) else [decoded]:
                self._dispatch(item)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        msg_id = message.get("id")
        if kind == "event":
            handler = self._handlers.get(msg_id) if isinstance(msg_id, int) else None
            if handler is not None:
                try:
                    handler(message.get("event", {}))
                except Exception:
                    _LOGGER.exception("Handling a Home Assistant event failed")
            return
        if kind != "result" or not isinstance(msg_id, int):
            return
        future = self._pending.get(msg_id)
        if future is None or future.done():
            return
        if message.get("success"):
            future.set_result(message.get("result"))
        else:
            error = message.get("error") or {}
            future.set_exception(HaError(str(error.get("code", "unknown_error")), str(error.get("message", ""))))

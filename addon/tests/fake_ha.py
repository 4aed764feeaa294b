"""A small local server that speaks Home Assistant's websocket protocol, for the unit tests.

It implements what the add-on uses: auth, subscribe_events, get_states, config/entity_registry/list,
history/history_during_period (with the recorder's exclusive bounds and the compressed, minimal
answer), config_entries/get and call_service with return_response. The end-to-end test runs a real Home Assistant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer


class ServiceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


ServiceHandler = Callable[[dict[str, Any]], Any]


@dataclass
class FakeHomeAssistant:
    token: str = "good-token"
    version: str = "2025.4.4"
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    registry: list[dict[str, Any]] = field(default_factory=list)
    history: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    services: dict[tuple[str, str], ServiceHandler] = field(default_factory=dict)
    config_entries: list[dict[str, Any]] = field(default_factory=list)  # config_entries/get answers these
    eaio_devices_command: bool = True  # the integration's eaio/devices (an older one lacks it)
    commands: dict[str, ServiceHandler] = field(default_factory=dict)  # more commands: type -> answer(msg)
    received: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    auth_failures: int = 0
    history_requests: list[tuple[float, float, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sockets: list[tuple[web.WebSocketResponse, dict[int, str]]] = []
        self.server: TestServer | None = None
        self._port = 0
        self.subscribed = asyncio.Event()

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/api/websocket", self._websocket)
        self.server = TestServer(app, host="127.0.0.1", port=port)
        await self.server.start_server()
        assert self.server.port is not None
        self._port = self.server.port  # kept after stop(), so a restart can take the same address
        return f"http://127.0.0.1:{self._port}"

    async def stop(self) -> None:
        await self.drop_connections()
        if self.server is not None:
            await self.server.close()

    @property
    def port(self) -> int:
        return self._port

    async def drop_connections(self) -> None:
        for ws, _ in list(self._sockets):
            await ws.close()
        self._sockets.clear()
        self.subscribed.clear()

    def set_state(self, entity_id: str, state: str, ts: float, attributes: dict[str, Any] | None = None) -> None:
        """Change a state: into the state machine, the recorder's history, and the event stream."""
        old = self.states.get(entity_id)
        iso = datetime.fromtimestamp(ts, UTC).isoformat()
        new = {"entity_id": entity_id, "state": state, "attributes": attributes or (old or {}).get("attributes", {}),
               "last_changed": iso, "last_updated": iso, "context": {"id": "x"}}
        self.states[entity_id] = new
        self.history.setdefault(entity_id, []).append((ts, state))
        event = {"event_type": "state_changed", "data": {"entity_id": entity_id, "old_state": old, "new_state": new},
                 "origin": "LOCAL", "time_fired": iso}
        self.fire(event)

    def fire(self, event: dict[str, Any]) -> None:
        for ws, subscriptions in self._sockets:
            for sub_id, event_type in subscriptions.items():
                if event_type == event["event_type"] and not ws.closed:
                    asyncio.get_running_loop().create_task(ws.send_json({"id": sub_id, "type": "event", "event": event}))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "auth_required", "ha_version": self.version})
        auth = await ws.receive_json()
        if auth.get("access_token") != self.token:
            self.auth_failures += 1
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token or password"})
            await ws.close()
            return ws
        await ws.send_json({"type": "auth_ok", "ha_version": self.version})
        self.connections += 1
        subscriptions: dict[int, str] = {}
        entry = (ws, subscriptions)
        self._sockets.append(entry)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._handle(ws, subscriptions, message.json())
        finally:
            if entry in self._sockets:
                self._sockets.remove(entry)
        return ws

    async def _handle(self, ws: web.WebSocketResponse, subscriptions: dict[int, str], msg: dict[str, Any]) -> None:
        self.received.append(msg)
        msg_id, kind = msg["id"], msg["type"]

        async def ok(result: Any) -> None:
            await ws.send_json({"id": msg_id, "type": "result", "success": True, "result": result})

        async def error(code: str, message: str) -> None:
            await ws.send_json({"id": msg_id, "type": "result", "success": False,
                                "error": {"code": code, "message": message}})

        if kind == "subscribe_events":
            subscriptions[msg_id] = msg["event_type"]
            await ok(None)
            if "state_changed" in subscriptions.values():
                self.subscribed.set()
        elif kind == "get_states":
            await ok(list(self.states.values()))
        elif kind == "config/entity_registry/list":
            await ok(self.registry)
        elif kind == "history/history_during_period":
            start = datetime.fromisoformat(msg["start_time"]).timestamp()
            end = datetime.fromisoformat(msg["end_time"]).timestamp()
            assert msg["minimal_response"] and msg["no_attributes"] and not msg["significant_changes_only"]
            self.history_requests.append((start, end, list(msg["entity_ids"])))
            answer: dict[str, list[dict[str, Any]]] = {}
            for entity_id in msg["entity_ids"]:
                rows = [{"s": s, "lu": ts} for ts, s in self.history.get(entity_id, []) if start < ts < end]
                if rows:
                    answer[entity_id] = rows
            await ok(answer)
        elif kind == "eaio/devices" and self.eaio_devices_command:
            await ok([{"entry_id": e.get("entry_id"), "title": e.get("title"), "state": e.get("state"),
                       "source_type": (e.get("data") or {}).get("source_type", "modbus"),
                       **({"base_topic": e["data"]["base_topic"]} if "base_topic" in (e.get("data") or {}) else {})}
                      for e in self.config_entries if e.get("domain") == "eaio"])
        elif kind == "config_entries/get":
            # Like Home Assistant: the entry's data is not part of the answer.
            await ok([{k: v for k, v in e.items() if k != "data"}
                      for e in self.config_entries if msg.get("domain") in (None, e.get("domain"))])
        elif kind == "call_service":
            handler = self.services.get((msg["domain"], msg["service"]))
            if handler is None:
                await error("not_found", f"Service {msg['domain']}.{msg['service']} not found.")
                return
            try:
                response = handler(msg.get("service_data") or {})
            except ServiceError as exc:
                await error(exc.code, exc.message)
                return
            result: dict[str, Any] = {"context": {"id": "c"}}
            if msg.get("return_response"):
                result["response"] = response
            await ok(result)
        elif kind in self.commands:
            await ok(self.commands[kind](msg))
        else:
            await error("unknown_command", f"Unknown command {kind}")

"""The ``mqtt`` tools: publish to allow-listed topics only, read allow-listed topics' last retained values.

Reading has its own allow-list: the ``mqtt_read_topics`` option, or, when it is empty, the topics
the add-on may publish to and the topics of EAIO's own MQTT devices. A broker holds more than
energy data (credentials, other systems' state, its own ``$SYS`` statistics): ``#`` and ``$SYS``
are read only when an entry names them.

Each call opens its own short paho-mqtt 2.x connection in a worker thread: calls are rare, and a
connection per call cannot be left half-broken between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
import threading
import time
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import Field

from .backend import CHANGES, READS
from .topics import filter_covers, topic_filter_problem

CATEGORY = "mqtt"
CONNECT_TIMEOUT = 5.0
RETAINED_WAIT = 0.5  # the broker sends retained messages right after SUBACK; this bounds the wait for them
MAX_RETAINED = 500

Topic = Annotated[str, Field(min_length=1, max_length=256)]


@dataclass(frozen=True)
class MqttSettings:
    host: str | None
    port: int = 1883
    username: str | None = None
    password: str | None = None
    allowed_topics: tuple[str, ...] = field(default_factory=tuple)
    read_topics: tuple[str, ...] = field(default_factory=tuple)  # empty: the default (see the module's note)
    # The topic filters of EAIO's MQTT devices, from Home Assistant (asked at each read).
    device_topics: Callable[[], Awaitable[Sequence[str]]] | None = None

    def allows(self, topic: str) -> bool:
        return any(paho.topic_matches_sub(pattern, topic) for pattern in self.allowed_topics)

    async def readable(self) -> tuple[str, ...]:
        """The filters ``mqtt_read_retained`` may read."""
        if self.read_topics:
            return self.read_topics
        devices: Sequence[str] = ()
        if self.device_topics is not None:
            try:
                devices = await self.device_topics()
            except Exception:  # without Home Assistant the configured topics still hold
                devices = ()
        return tuple(dict.fromkeys([*self.allowed_topics, *devices]))


class MqttError(ToolError):
    pass


def _connect(settings: MqttSettings) -> paho.Client:
    if not settings.host:
        raise MqttError("MQTT is not configured: set the add-on option mqtt_host")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    connected = threading.Event()
    outcome: dict[str, Any] = {}

    def on_connect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome["reason"] = reason
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, keepalive=30)
    except OSError as exc:
        raise MqttError(f"cannot reach the MQTT broker {settings.host}:{settings.port}: {exc}") from exc
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT):
        _close(client)
        raise MqttError(f"the MQTT broker {settings.host}:{settings.port} did not answer in {CONNECT_TIMEOUT:g} s")
    if outcome["reason"].is_failure:
        _close(client)
        raise MqttError(f"the MQTT broker refused the connection: {outcome['reason']}")
    return client


def _close(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _publish(settings: MqttSettings, topic: str, payload: str, retain: bool, qos: int) -> None:
    client = _connect(settings)
    try:
        info = client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(CONNECT_TIMEOUT)
        if not info.is_published():
            raise MqttError(f"the broker did not confirm the message on {topic}")
    finally:
        _close(client)


def _retained(settings: MqttSettings, topic: str, wait: float, readable: Sequence[str]) -> list[dict[str, Any]]:
    client = _connect(settings)
    found: dict[str, dict[str, Any]] = {}
    subscribed = threading.Event()

    def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        # The filter was checked; each topic is checked again, so no broker quirk widens what is read.
        allowed = any(paho.topic_matches_sub(pattern, msg.topic) for pattern in readable)
        if msg.retain and allowed and len(found) < MAX_RETAINED:
            found[msg.topic] = {"topic": msg.topic, "payload": msg.payload.decode("utf-8", "replace"),
                                "qos": msg.qos}

    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    try:
        result, _mid = client.subscribe(topic, qos=0)
        if result != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"cannot subscribe to {topic}: {paho.error_string(result)}")
        if not subscribed.wait(CONNECT_TIMEOUT):
            raise MqttError(f"the broker did not confirm the subscription to {topic}")
        time.sleep(wait)
    finally:
        _close(client)
    return [found[t] for t in sorted(found)]


def check_filter(topic: str) -> None:
    if problem := topic_filter_problem(topic):
        raise MqttError(f"{topic!r} is not a valid MQTT topic filter: {problem}")


def add_mqtt_tools(server: MCPServer, settings: MqttSettings, *, retained_wait: float = RETAINED_WAIT) -> None:
    meta = {"category": CATEGORY}

    async def mqtt_publish(topic: Topic, payload: Annotated[str, Field(max_length=65536)],
                           retain: bool = False, qos: Annotated[int, Field(ge=0, le=1)] = 1) -> dict[str, Any]:
        """Publish a message to an MQTT topic the add-on's options allow (mqtt_allowed_topics)."""
        if "+" in topic or "#" in topic:
            raise MqttError(f"{topic!r}: a message goes to one topic, without wildcards")
        if not settings.allows(topic):
            allowed = ", ".join(settings.allowed_topics) or "none"
            raise MqttError(f"publishing to {topic!r} is not allowed; allowed topics: {allowed} "
                            "(the add-on option mqtt_allowed_topics)")
        await asyncio.to_thread(_publish, settings, topic, payload, retain, qos)
        return {"topic": topic, "published": True, "retain": retain, "qos": qos}

    async def mqtt_read_retained(topic: Annotated[Topic, Field(description="a topic or a filter with + and #")],
                                 ) -> dict[str, Any]:
        """The last retained values of a topic (or of every topic matching a filter)."""
        check_filter(topic)
        if not settings.host:
            _connect(settings)  # says which option to set
        readable = await settings.readable()
        if not any(filter_covers(pattern, topic) for pattern in readable):
            raise MqttError(f"reading {topic!r} is not allowed; readable topics: {', '.join(readable) or 'none'} "
                            "(the add-on option mqtt_read_topics; '#' and '$SYS' need an entry that names them)")
        messages = await asyncio.to_thread(_retained, settings, topic, retained_wait, readable)
        return {"topic": topic, "messages": messages}

    async def mqtt_allowed_topics() -> dict[str, Any]:
        """The topic patterns this server may publish to."""
        return {"allowed_topics": list(settings.allowed_topics), "broker_configured": bool(settings.host)}

    for fn in (mqtt_publish, mqtt_read_retained, mqtt_allowed_topics):
        server.add_tool(fn, meta=meta, structured_output=False, annotations=CHANGES if fn is mqtt_publish else READS)


def mqtt_settings(host: str | None, port: int, username: str | None, password: str | None,
                  allowed: Sequence[str], read: Sequence[str] = (),
                  device_topics: Callable[[], Awaitable[Sequence[str]]] | None = None) -> MqttSettings:
    return MqttSettings(host or None, port, username or None, password or None, tuple(allowed), tuple(read),
                        device_topics)


async def eaio_device_topics(call: Callable[[dict[str, Any]], Awaitable[Any]]) -> list[str]:
    """``<base>/#`` of each EAIO MQTT device, from the integration's ``eaio/devices`` answer (when it says)."""
    entries = await call({"type": "eaio/devices"})
    out: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        base = entry.get("base_topic") if isinstance(entry, dict) and entry.get("source_type") == "mqtt" else None
        if (isinstance(base, str) and base.strip("/") and not base.startswith("$")
                and not topic_filter_problem(base.strip("/") + "/#")):
            out.append(base.strip("/") + "/#")
    return out

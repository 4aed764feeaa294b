"""The mqtt MCP tools against a real broker (mosquitto on a free loopback port, with a password)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import json
from pathlib import Path
import shutil
import socket
import subprocess
import time
from typing import Any

from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, open_client_session
from eaio_addon.mcp_servers.mqtt_tools import eaio_device_topics
from eaio_addon.mcp_servers.topics import filter_covers
from eaio_addon.option_types import OptionError
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from mcp_types import CallToolResult, TextContent
import pytest

from tests.fake_ha import FakeHomeAssistant

TOKEN = "mqtt-test-token"
USER, PASSWORD = "eaio", "broker-secret"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        passwd = workdir / "passwd"
        passwd.write_text("")
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), USER, PASSWORD], check=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("per_listener_settings false\nallow_anonymous false\n"
                             f"password_file {passwd}\npersistence false\nuser root\n"
                             f"listener {self.port} 127.0.0.1\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.mosquitto_pub("eaio/probe", "1").returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the broker did not start")
            time.sleep(0.05)

    def mosquitto_pub(self, topic: str, payload: str, *, retain: bool = False) -> subprocess.CompletedProcess[bytes]:
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-u", USER, "-P", PASSWORD,
                "-q", "1", "-t", topic, "-m", payload]
        return subprocess.run([*args, "-r"] if retain else args, capture_output=True, check=False)

    def retained(self, topic: str) -> str:
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", USER,
                              "-P", PASSWORD, "-t", topic, "-C", "1", "-W", "3", "--retained-only"],
                             capture_output=True, check=False)
        return out.stdout.decode().strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = Broker(tmp_path_factory.mktemp("mosquitto"))
    yield running
    running.stop()


async def _server(settings: MqttSettings) -> McpHttpServer:
    server = McpHttpServer(lambda: None, lambda: None, settings, lambda: TOKEN)  # type: ignore[arg-type,return-value]
    await server.start("127.0.0.1", 0)
    return server


@pytest.fixture
async def mcp(broker: Broker) -> AsyncIterator[McpHttpServer]:
    server = await _server(MqttSettings("127.0.0.1", broker.port, USER, PASSWORD,
                                        ("eaio/setpoints/#", "building/+/mode"), ("site/meter/#",)))
    yield server
    await server.stop()


def _text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def _json(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return json.loads(_text(result))


async def test_publish_to_an_allowed_topic_reaches_the_broker(mcp: McpHttpServer, broker: Broker) -> None:
    async with open_client_session(mcp.url("mqtt"), TOKEN) as s:
        sent = _json(await s.call_tool("mqtt_publish", {"topic": "eaio/setpoints/zone1", "payload": "22.5",
                                                        "retain": True}))
        assert sent == {"topic": "eaio/setpoints/zone1", "published": True, "retain": True, "qos": 1}
        _json(await s.call_tool("mqtt_publish", {"topic": "building/north/mode", "payload": "eco",
                                                 "retain": True}))
    # Seen by another client of the broker, not only by our own tool.
    assert broker.retained("eaio/setpoints/zone1") == "22.5"
    assert broker.retained("building/north/mode") == "eco"


async def test_publish_outside_the_allow_list_is_refused(mcp: McpHttpServer, broker: Broker) -> None:
    broker.mosquitto_pub("building/north/lights", "on", retain=True)
    async with open_client_session(mcp.url(), TOKEN) as s:
        for topic in ("building/north/lights", "eaio/other", "building/north/mode/extra"):
            result = await s.call_tool("mqtt_publish", {"topic": topic, "payload": "off", "retain": True})
            assert result.is_error
            assert f"publishing to '{topic}' is not allowed" in _text(result)
            assert "eaio/setpoints/#, building/+/mode" in _text(result)
        wildcard = await s.call_tool("mqtt_publish", {"topic": "eaio/setpoints/#", "payload": "1"})
        assert wildcard.is_error and "without wildcards" in _text(wildcard)
    assert broker.retained("building/north/lights") == "on"  # untouched


async def test_read_retained_values(mcp: McpHttpServer, broker: Broker) -> None:
    broker.mosquitto_pub("site/meter/power", "4.2", retain=True)
    broker.mosquitto_pub("site/meter/energy", "1234.5", retain=True)
    broker.mosquitto_pub("site/meter/live", "not kept")  # not retained: not a last value
    async with open_client_session(mcp.url("mqtt"), TOKEN) as s:
        one = _json(await s.call_tool("mqtt_read_retained", {"topic": "site/meter/power"}))
        assert one["messages"] == [{"topic": "site/meter/power", "payload": "4.2", "qos": 0}]
        many = _json(await s.call_tool("mqtt_read_retained", {"topic": "site/meter/+"}))
        assert [(m["topic"], m["payload"]) for m in many["messages"]] == [
            ("site/meter/energy", "1234.5"), ("site/meter/power", "4.2")]
        none = _json(await s.call_tool("mqtt_read_retained", {"topic": "site/meter/nothing/here"}))
        assert none["messages"] == []
        bad = await s.call_tool("mqtt_read_retained", {"topic": "site/#/power"})
        assert bad.is_error and "not a valid MQTT topic filter" in _text(bad)
        assert _json(await s.call_tool("mqtt_allowed_topics", {})) == {
            "allowed_topics": ["eaio/setpoints/#", "building/+/mode"], "broker_configured": True}


async def test_reading_honours_the_read_allow_list(broker: Broker) -> None:
    broker.mosquitto_pub("secrets/wifi", "hunter2", retain=True)
    broker.mosquitto_pub("eaio/setpoints/zone1", "21", retain=True)
    broker.mosquitto_pub("meters/m1/power", "3.5", retain=True)

    async def devices() -> list[str]:  # what the integration reports for its MQTT devices
        return ["meters/m1/#"]

    server = await _server(MqttSettings("127.0.0.1", broker.port, USER, PASSWORD, ("eaio/setpoints/#",),
                                        device_topics=devices))
    try:
        async with open_client_session(server.url("mqtt"), TOKEN) as s:
            for topic in ("#", "secrets/wifi", "secrets/#", "+/wifi", "$SYS/#", "$SYS/broker/version", "eaio/#",
                          "meters/#"):
                refused = await s.call_tool("mqtt_read_retained", {"topic": topic})
                assert refused.is_error and f"reading '{topic}' is not allowed" in _text(refused), topic
                assert "hunter2" not in _text(refused)
            # The default: the topics it may publish to and those of EAIO's devices.
            own = _json(await s.call_tool("mqtt_read_retained", {"topic": "eaio/setpoints/+"}))
            assert [(m["topic"], m["payload"]) for m in own["messages"]] == [("eaio/setpoints/zone1", "21")]
            device = _json(await s.call_tool("mqtt_read_retained", {"topic": "meters/m1/power"}))
            assert device["messages"][0]["payload"] == "3.5"
    finally:
        await server.stop()
    # '#' and '$SYS' are read once an entry names them; '#' alone still leaves the broker's own topics out.
    server = await _server(MqttSettings("127.0.0.1", broker.port, USER, PASSWORD, (), ("#", "$SYS/broker/#")))
    try:
        async with open_client_session(server.url("mqtt"), TOKEN) as s:
            everything = _json(await s.call_tool("mqtt_read_retained", {"topic": "#"}))
            topics = {m["topic"] for m in everything["messages"]}
            assert "secrets/wifi" in topics and not any(t.startswith("$") for t in topics)
            stats = _json(await s.call_tool("mqtt_read_retained", {"topic": "$SYS/broker/version"}))
            assert stats["messages"] and stats["messages"][0]["topic"] == "$SYS/broker/version"
            refused = await s.call_tool("mqtt_read_retained", {"topic": "$SYS/#"})
            assert refused.is_error
    finally:
        await server.stop()


@pytest.mark.parametrize(("allowed", "requested", "covered"), [
    ("a/#", "a", True), ("a/#", "a/b/c", True), ("a/#", "a/+", True), ("a/#", "a/#", True), ("a/#", "b", False),
    ("a/+", "a/b", True), ("a/+", "a/+", True), ("a/+", "a/#", False), ("a/+", "a/b/c", False),
    ("a/b", "a/b", True), ("a/b", "a/+", False), ("#", "x/y", True), ("#", "#", True), ("#", "$SYS/x", False),
    ("+/x", "$SYS/x", False), ("$SYS/#", "$SYS/broker/load", True), ("a/b", "a", False),
])
def test_filter_cover(allowed: str, requested: str, covered: bool) -> None:
    assert filter_covers(allowed, requested) is covered


async def test_a_wrong_password_is_a_clear_error(broker: Broker) -> None:
    server = await _server(MqttSettings("127.0.0.1", broker.port, USER, "wrong", ("eaio/#",)))
    try:
        async with open_client_session(server.url("mqtt"), TOKEN) as s:
            result = await s.call_tool("mqtt_publish", {"topic": "eaio/x", "payload": "1"})
        assert result.is_error and "refused the connection" in _text(result)
    finally:
        await server.stop()


async def test_an_unreachable_broker_is_a_clear_error() -> None:
    port = _free_port()  # nothing listens there
    server = await _server(MqttSettings("127.0.0.1", port, None, None, ("eaio/#",)))
    try:
        async with open_client_session(server.url("mqtt"), TOKEN) as s:
            result = await s.call_tool("mqtt_read_retained", {"topic": "eaio/x"})
        assert result.is_error and f"cannot reach the MQTT broker 127.0.0.1:{port}" in _text(result)
    finally:
        await server.stop()


def test_the_mqtt_options() -> None:
    options = parse_options({"mqtt_host": "broker.local", "mqtt_allowed_topics": ["eaio/#", "a/+/b", "eaio/#"]})
    assert (options.mcp_port, options.mqtt_host, options.mqtt_port) == (8100, "broker.local", 1883)
    assert options.mqtt_allowed_topics == ("eaio/#", "a/+/b")
    assert parse_options({}).mqtt_host is None and parse_options({}).mqtt_allowed_topics == ()
    for bad in ("a/#/b", "a/b+", ""):
        with pytest.raises(OptionError, match=r"mqtt_allowed_topics\[1\]"):
            parse_options({"mqtt_allowed_topics": ["ok/#", bad]})
    with pytest.raises(OptionError, match="mcp_port"):
        parse_options({"mcp_port": 70000})


async def test_device_topics_come_from_the_integrations_mqtt_entries() -> None:
    answer = [{"entry_id": "1", "source_type": "mqtt", "base_topic": "meters/m1/"},
              {"entry_id": "2", "source_type": "modbus", "base_topic": "ignored"},
              {"entry_id": "3", "source_type": "mqtt", "base_topic": "$SYS"},
              {"entry_id": "4", "source_type": "mqtt"},  # an integration that does not say
              {"entry_id": "5", "source_type": "mqtt", "base_topic": "bad/#"}]

    async def call(message: dict[str, Any]) -> Any:  # the eaio/devices answer, as the integration words it
        assert message == {"type": "eaio/devices"}
        return answer

    assert await eaio_device_topics(call) == ["meters/m1/#"]


async def test_the_running_addon_reads_its_mqtt_devices_topics_and_nothing_else(broker: Broker,
                                                                              tmp_path: Path) -> None:
    broker.mosquitto_pub("rooms/r7/temperature", "21.5", retain=True)
    broker.mosquitto_pub("secrets/wifi", "hunter2", retain=True)
    ha = FakeHomeAssistant()
    ha.config_entries = [{"entry_id": "r7", "domain": "eaio", "title": "Room 7", "state": "loaded",
                          "data": {"source_type": "mqtt", "base_topic": "rooms/r7"}}]
    await ha.start()
    runtime = Runtime(Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                               ha_token="good-token", data_dir=tmp_path, host="127.0.0.1", port=0,
                               options=parse_options({"backfill_days": 0, "mqtt_host": "127.0.0.1",
                                                      "mqtt_port": broker.port, "mqtt_username": USER,
                                                      "mqtt_password": PASSWORD})))
    await runtime.start()
    try:
        await runtime.link.wait_connected()
        async with open_client_session(runtime.mcp_url("mqtt"), runtime.api_token) as s:
            read = _json(await s.call_tool("mqtt_read_retained", {"topic": "rooms/r7/+"}))
            assert [(m["topic"], m["payload"]) for m in read["messages"]] == [("rooms/r7/temperature", "21.5")]
            for topic in ("#", "secrets/wifi", "rooms/#"):
                refused = await s.call_tool("mqtt_read_retained", {"topic": topic})
                assert refused.is_error and "rooms/r7/#" in _text(refused) and "hunter2" not in _text(refused)
    finally:
        await runtime.stop()
        await ha.stop()

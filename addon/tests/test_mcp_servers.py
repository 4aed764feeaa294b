"""The MCP servers over streamable HTTP: a real client session against the real uvicorn server.

Energy tools run against a small in-memory backend; the field-bus tools against the websocket
stand-in of Home Assistant through the add-on's real HaLink, so every device access is seen
arriving as an ``eaio.read_points`` / ``eaio.write_point`` service call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from typing import Any

import aiohttp
from eaio_addon.ha_link import HaLink
from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, open_client_session
from mcp_types import CallToolResult, TextContent
import pytest

from .fake_ha import FakeHomeAssistant, ServiceError

TOKEN = "mcp-test-token"
MODBUS_ENTRY = "entry_modbus_1"
BACNET_ENTRY = "entry_bacnet_1"

ENERGY_TOOLS = {"energy_status", "energy_history", "energy_forecast", "energy_run_optimization",
                "energy_list_recommendations", "energy_apply_recommendation", "energy_dismiss_recommendation",
                "energy_verified_savings", "energy_savings_potential"}
MODBUS_TOOLS = {"modbus_list_devices", "modbus_list_points", "modbus_read_points", "modbus_write_point",
                "modbus_scan"}
BACNET_TOOLS = {"bacnet_list_devices", "bacnet_list_points", "bacnet_read_points", "bacnet_write_point",
                "bacnet_discover"}
MQTT_TOOLS = {"mqtt_publish", "mqtt_read_retained", "mqtt_allowed_topics"}


class MemoryBackend:
    """The energy backend's contract over fixed data; records what it was asked."""

    def __init__(self) -> None:
        self.recs = {"r1": {"id": "r1", "title": "Pre-cool before the peak", "savings_kwh": 3.2, "state": "open"},
                     "r2": {"id": "r2", "title": "Lights off after 19:00", "savings_kwh": 1.1, "state": "open"}}
        self.runs = 0

    async def status(self) -> dict[str, Any]:
        return {"status": "ok", "open_recommendations": sum(r["state"] == "open" for r in self.recs.values())}

    async def history(self, entity_id: str, hours: int) -> dict[str, Any]:
        if entity_id != "sensor.total_power":
            raise LookupError(f"no history for {entity_id}")
        return {"entity_id": entity_id, "hours": [{"mean": 1.0 + k} for k in range(hours)]}

    async def forecast(self, hours: int) -> dict[str, Any]:
        return {"unit": "kW", "p50": [2.0] * hours}

    async def run_optimization(self) -> dict[str, Any]:
        self.runs += 1
        return {"status": "ok", "recommendations": len(self.recs), "missing": []}

    async def recommendations(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.recs.values()]

    async def _set(self, rec_id: str, state: str) -> dict[str, Any]:
        if rec_id not in self.recs:
            raise LookupError(f"no open recommendation {rec_id!r}")
        self.recs[rec_id]["state"] = state
        return {"id": rec_id, "state": state}

    async def apply_recommendation(self, rec_id: str) -> dict[str, Any]:
        return await self._set(rec_id, "applied")

    async def dismiss_recommendation(self, rec_id: str) -> dict[str, Any]:
        return await self._set(rec_id, "dismissed")

    async def verified_savings(self) -> dict[str, Any]:
        applied = [r for r in self.recs.values() if r["state"] == "applied"]
        return {"applied": len(applied), "kwh": sum(r["savings_kwh"] for r in applied)}


POINTS: dict[str, dict[str, Any]] = {
    "total_power": {"name": "Total power", "unit": "kW", "writable": False},
    "cooling_setpoint": {"name": "Cooling setpoint", "unit": "°C", "writable": True, "min": 16.0, "max": 30.0,
                         "step": 0.5},
    "zone_temperature": {"name": "Zone temperature", "unit": "°C", "writable": False},
    "heating_setpoint": {"name": "Heating setpoint", "unit": "°C", "writable": True, "min": 16.0, "max": 30.0,
                         "step": 0.5},
}


class DevicesInHa:
    """What the integration's services do for one Modbus and one BACnet device: values and write bounds."""

    def __init__(self) -> None:
        self.values = {MODBUS_ENTRY: {"total_power": 4.2, "cooling_setpoint": 23.0},
                       BACNET_ENTRY: {"zone_temperature": 21.5, "heating_setpoint": 20.0}}
        self.writes: list[dict[str, Any]] = []

    def read_points(self, data: dict[str, Any]) -> dict[str, Any]:
        # The integration's reply (custom_components/eaio, modbus_coordinator.async_read and entity_spec.describe).
        entry = data["config_entry_id"]
        if entry not in self.values:
            raise ServiceError("service_validation_error", f"No EAIO device with config entry {entry}")
        points = data.get("points") or list(self.values[entry])
        return {"values": {key: self.values[entry][key] for key in points if key in self.values[entry]},
                "errors": {}, "requests": 1,
                "units": {key: POINTS[key]["unit"] for key in points if key in POINTS},
                "points": {key: POINTS[key] for key in points if key in POINTS}}

    def write_point(self, data: dict[str, Any]) -> None:
        value = float(data["value"])
        if not 16.0 <= value <= 30.0:
            raise ServiceError("service_validation_error",
                               f"{data['point']}: {value:g} is outside the allowed range 16 to 30")
        self.writes.append(data)
        self.values[data["config_entry_id"]][data["point"]] = value


@pytest.fixture
async def ha() -> AsyncIterator[tuple[FakeHomeAssistant, DevicesInHa]]:
    fake = FakeHomeAssistant()
    devices = DevicesInHa()
    fake.services[("eaio", "read_points")] = devices.read_points
    fake.services[("eaio", "write_point")] = devices.write_point
    fake.config_entries = [
        {"entry_id": MODBUS_ENTRY, "domain": "eaio", "title": "Meter 10.0.0.5:502/1", "state": "loaded",
         "data": {"source_type": "modbus"}},
        {"entry_id": BACNET_ENTRY, "domain": "eaio", "title": "AHU 1", "state": "loaded",
         "data": {"source_type": "bacnet"}},
        {"entry_id": "other", "domain": "sun", "title": "Sun", "state": "loaded"},
    ]
    await fake.start()
    yield fake, devices
    await fake.stop()


@pytest.fixture
async def server(ha: tuple[FakeHomeAssistant, DevicesInHa]) -> AsyncIterator[tuple[McpHttpServer, MemoryBackend]]:
    fake, _ = ha
    async with aiohttp.ClientSession() as http:
        link = HaLink(http, f"ws://127.0.0.1:{fake.port}/api/websocket", fake.token,
                      backoff_initial=0.1, backoff_cap=0.2)
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.wait_connected(), 10)
        backend = MemoryBackend()
        mcp = McpHttpServer(lambda: backend, lambda: link, MqttSettings(None), lambda: TOKEN)
        await mcp.start("127.0.0.1", 0)
        try:
            yield mcp, backend
        finally:
            await mcp.stop()
            await link.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _json(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    return json.loads(block.text)


def _error(result: CallToolResult) -> str:
    assert result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_each_server_lists_its_category_and_mcp_lists_all(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, _ = server
    expected = {"energy": ENERGY_TOOLS, "modbus": MODBUS_TOOLS, "bacnet": BACNET_TOOLS, "mqtt": MQTT_TOOLS}
    for name, tools in expected.items():
        async with open_client_session(mcp.url(name), TOKEN) as session:
            listed = (await session.list_tools()).tools
            assert {t.name for t in listed} == tools
            assert {(t.meta or {}).get("category") for t in listed} == {name}
            assert all(t.description and t.input_schema.get("type") == "object" for t in listed)
    async with open_client_session(mcp.url(), TOKEN) as session:
        listed = (await session.list_tools()).tools
        assert {t.name for t in listed} == ENERGY_TOOLS | MODBUS_TOOLS | BACNET_TOOLS | MQTT_TOOLS
        for tool in listed:
            assert tool.name.startswith(f"{(tool.meta or {})['category']}_")
        changing = {t.name for t in listed if t.annotations and t.annotations.read_only_hint is False}
        assert changing == {"energy_run_optimization", "energy_apply_recommendation", "energy_dismiss_recommendation",
                            "modbus_write_point", "bacnet_write_point", "mqtt_publish"}
        assert all(t.annotations and t.annotations.read_only_hint for t in listed if t.name not in changing)


async def test_energy_tools(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, backend = server
    async with open_client_session(mcp.url("energy"), TOKEN) as s:
        assert _json(await s.call_tool("energy_status", {})) == {"status": "ok", "open_recommendations": 2}
        history = _json(await s.call_tool("energy_history", {"entity_id": "sensor.total_power", "hours": 3}))
        assert [h["mean"] for h in history["hours"]] == [1.0, 2.0, 3.0]
        assert _json(await s.call_tool("energy_forecast", {"hours": 2}))["p50"] == [2.0, 2.0]
        assert _json(await s.call_tool("energy_run_optimization", {}))["status"] == "ok"
        assert backend.runs == 1
        listed = _json(await s.call_tool("energy_list_recommendations", {}))["recommendations"]
        assert {r["id"] for r in listed} == {"r1", "r2"}
        assert _json(await s.call_tool("energy_apply_recommendation", {"recommendation_id": "r1"})) == \
            {"id": "r1", "state": "applied"}
        assert _json(await s.call_tool("energy_dismiss_recommendation", {"recommendation_id": "r2"})) == \
            {"id": "r2", "state": "dismissed"}
        assert backend.recs["r1"]["state"] == "applied" and backend.recs["r2"]["state"] == "dismissed"
        assert _json(await s.call_tool("energy_verified_savings", {})) == {"applied": 1, "kwh": 3.2}
        # The backend's own refusal comes back as a tool error with its words.
        assert "no open recommendation 'nope'" in _error(
            await s.call_tool("energy_apply_recommendation", {"recommendation_id": "nope"}))
        assert "no history for sensor.other" in _error(
            await s.call_tool("energy_history", {"entity_id": "sensor.other"}))


async def test_bad_arguments_are_refused_before_the_tool_runs(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, backend = server
    async with open_client_session(mcp.url(), TOKEN) as s:
        text = _error(await s.call_tool("energy_history", {"entity_id": "Not An Entity", "hours": 2}))
        assert "entity_id" in text and "pattern" in text
        assert "hours" in _error(await s.call_tool("energy_history", {"entity_id": "sensor.x", "hours": 0}))
        assert "hours" in _error(await s.call_tool("energy_forecast", {"hours": "many"}))
        assert "recommendation_id" in _error(await s.call_tool("energy_apply_recommendation", {}))
        assert "recommendation_id" in _error(
            await s.call_tool("energy_dismiss_recommendation", {"recommendation_id": ""}))
        assert "value" in _error(await s.call_tool("modbus_write_point",
                                                   {"config_entry_id": MODBUS_ENTRY, "point": "x"}))
        assert "qos" in _error(await s.call_tool("mqtt_publish", {"topic": "a", "payload": "1", "qos": 7}))
        assert "unknown" in _error(await s.call_tool("energy_no_such_tool", {})).lower()
    assert all(r["state"] == "open" for r in backend.recs.values())  # nothing ran


async def test_modbus_tools_go_through_the_integrations_services(
        server: tuple[McpHttpServer, MemoryBackend], ha: tuple[FakeHomeAssistant, DevicesInHa]) -> None:
    mcp, _ = server
    fake, devices = ha
    async with open_client_session(mcp.url("modbus"), TOKEN) as s:
        listed = _json(await s.call_tool("modbus_list_devices", {}))
        assert [d["config_entry_id"] for d in listed["devices"]] == [MODBUS_ENTRY]
        assert "entries_of_unknown_kind" not in listed
        # The point keys with units and bounds, not the keys of the read reply (errors, requests, units, values).
        assert _json(await s.call_tool("modbus_list_points", {"config_entry_id": MODBUS_ENTRY}))["points"] == [
            {"key": "cooling_setpoint", "name": "Cooling setpoint", "unit": "°C", "writable": True, "min": 16.0,
             "max": 30.0, "step": 0.5},
            {"key": "total_power", "name": "Total power", "unit": "kW", "writable": False}]
        read = _json(await s.call_tool("modbus_read_points",
                                       {"config_entry_id": MODBUS_ENTRY, "points": ["total_power"]}))
        assert read["values"] == {"total_power": 4.2} and read["units"] == {"total_power": "kW"}
        assert _json(await s.call_tool("modbus_scan", {"config_entry_id": MODBUS_ENTRY}))["values"] == \
            {"total_power": 4.2, "cooling_setpoint": 23.0}
        written = _json(await s.call_tool("modbus_write_point", {"config_entry_id": MODBUS_ENTRY,
                                                                 "point": "cooling_setpoint", "value": 24.5}))
        assert written["written"] == 24.5
        assert devices.values[MODBUS_ENTRY]["cooling_setpoint"] == 24.5
        # The integration's bounds hold: its refusal reaches the client, the value stays.
        refused = _error(await s.call_tool("modbus_write_point", {"config_entry_id": MODBUS_ENTRY,
                                                                  "point": "cooling_setpoint", "value": 99}))
        assert "outside the allowed range" in refused
        assert devices.values[MODBUS_ENTRY]["cooling_setpoint"] == 24.5
        # A BACnet device is not written through the modbus tools.
        assert "is a bacnet device" in _error(await s.call_tool("modbus_write_point", {
            "config_entry_id": BACNET_ENTRY, "point": "heating_setpoint", "value": 21}))
        assert "No EAIO device" in _error(await s.call_tool("modbus_read_points", {"config_entry_id": "gone"}))
    services = [(m["domain"], m["service"]) for m in fake.received if m["type"] == "call_service"]
    assert set(services) == {("eaio", "read_points"), ("eaio", "write_point")}
    assert len(devices.writes) == 1


async def test_bacnet_tools_and_discovery(server: tuple[McpHttpServer, MemoryBackend],
                                          ha: tuple[FakeHomeAssistant, DevicesInHa]) -> None:
    mcp, _ = server
    _, devices = ha
    async with open_client_session(mcp.url("bacnet"), TOKEN) as s:
        assert [d["title"] for d in _json(await s.call_tool("bacnet_list_devices", {}))["devices"]] == ["AHU 1"]
        found = _json(await s.call_tool("bacnet_discover", {}))
        assert [d["config_entry_id"] for d in found["devices"]] == [BACNET_ENTRY]
        assert "config flow" in found["discovery"]
        assert _json(await s.call_tool("bacnet_read_points", {"config_entry_id": BACNET_ENTRY}))["values"] == \
            {"zone_temperature": 21.5, "heating_setpoint": 20.0}
        listed = _json(await s.call_tool("bacnet_list_points", {"config_entry_id": BACNET_ENTRY}))["points"]
        assert [(p["key"], p.get("min"), p.get("max")) for p in listed] == [
            ("heating_setpoint", 16.0, 30.0), ("zone_temperature", None, None)]
        _json(await s.call_tool("bacnet_write_point", {"config_entry_id": BACNET_ENTRY,
                                                       "point": "heating_setpoint", "value": 19}))
    assert devices.writes == [{"config_entry_id": BACNET_ENTRY, "point": "heating_setpoint", "value": 19}]


async def test_entries_without_their_kind_are_listed_apart(
        server: tuple[McpHttpServer, MemoryBackend], ha: tuple[FakeHomeAssistant, DevicesInHa]) -> None:
    # An integration without the eaio/devices command: config_entries/get carries no kind.
    mcp, _ = server
    fake, _ = ha
    fake.eaio_devices_command = False
    async with open_client_session(mcp.url("modbus"), TOKEN) as s:
        listed = _json(await s.call_tool("modbus_list_devices", {}))
    assert listed["devices"] == []
    assert [d["config_entry_id"] for d in listed["entries_of_unknown_kind"]] == [MODBUS_ENTRY, BACNET_ENTRY]


async def test_a_lost_link_is_a_clear_tool_error(server: tuple[McpHttpServer, MemoryBackend],
                                                 ha: tuple[FakeHomeAssistant, DevicesInHa]) -> None:
    mcp, _ = server
    fake, _ = ha
    await fake.stop()
    async with open_client_session(mcp.url("modbus"), TOKEN) as s:
        text = _error(await s.call_tool("modbus_read_points", {"config_entry_id": MODBUS_ENTRY}))
    assert "Home Assistant: not connected to Home Assistant" in text


async def test_mqtt_without_a_broker_says_so(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, _ = server
    async with open_client_session(mcp.url("mqtt"), TOKEN) as s:
        assert "mqtt_host" in _error(await s.call_tool("mqtt_read_retained", {"topic": "a/b"}))
        assert _json(await s.call_tool("mqtt_allowed_topics", {})) == {"allowed_topics": [],
                                                                        "broker_configured": False}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
async def test_without_the_token_every_path_answers_401(server: tuple[McpHttpServer, MemoryBackend],
                                                        headers: dict[str, str]) -> None:
    mcp, _ = server
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    async with aiohttp.ClientSession() as http:
        for name in ("energy", "modbus", "bacnet", "mqtt", "all"):
            async with http.post(mcp.url(name), json=init, headers={
                    **headers, "Accept": "application/json, text/event-stream"}) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                assert (await resp.json())["error"] == "unauthorized"
        # The same request with the token is served: the gate, not the request, refused it.
        async with http.post(mcp.url("energy"), json=init, headers={
                "Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream"}) as resp:
            assert resp.status == 200


async def test_a_client_session_with_a_wrong_token_fails(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, _ = server
    with pytest.raises(PermissionError, match=r"refused the token \(401\)"):
        async with open_client_session(mcp.url(), "wrong") as s:
            await s.list_tools()


async def test_url_names_the_known_servers(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, _ = server
    assert mcp.url().endswith(f":{mcp.port}/mcp")
    assert mcp.url("bacnet").endswith("/bacnet/mcp")
    with pytest.raises(ValueError, match="no MCP server 'knx'"):
        mcp.url("knx")


async def test_a_taken_port_is_an_error_not_an_exit(server: tuple[McpHttpServer, MemoryBackend]) -> None:
    mcp, _ = server
    second = McpHttpServer(MemoryBackend, lambda: None, MqttSettings(None), lambda: TOKEN)  # type: ignore[arg-type,return-value]
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{mcp.port}"):
        await second.start("127.0.0.1", mcp.port)
    await second.stop()
    async with open_client_session(mcp.url("energy"), TOKEN) as s:  # the first one still serves
        assert _json(await s.call_tool("energy_status", {}))["status"] == "ok"


async def test_every_schema_fits_home_assistants_mcp_client() -> None:
    """Home Assistant's MCP client (2026.2) converts each tool's schema and drops the whole server when one
    fails; the keywords it cannot convert (tests/integration/test_ha_mcp_client.py found maxItems) stay out."""
    from eaio_addon.mcp_servers.http_server import build_servers

    servers = build_servers(lambda: MemoryBackend(), lambda: None, MqttSettings(None))  # type: ignore[arg-type,return-value]
    schemas = json.dumps([tool.input_schema for tool in await servers["all"].list_tools()])
    for keyword in ("maxItems", "minItems", "uniqueItems", "$ref", "allOf"):
        assert f'"{keyword}"' not in schemas, keyword


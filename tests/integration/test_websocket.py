"""The add-on's websocket command: EAIO's entries with their protocol."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.eaio.websocket import async_register_websocket_commands
from tests.conftest import ModbusSim

from .conftest import add_device


async def test_devices_lists_entries_with_their_protocol(
    hass: HomeAssistant, building_sim: ModbusSim, hass_ws_client: Any
) -> None:
    meter = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    hvac = await add_device(hass, building_sim.port, 2, "hvac_unit")
    assert await async_setup_component(hass, "websocket_api", {})
    client = await hass_ws_client(hass)
    await client.send_json({"id": 1, "type": "eaio/devices"})
    answer = await client.receive_json()
    assert answer["success"], answer
    assert sorted(answer["result"], key=lambda e: e["title"]) == sorted([
        {"entry_id": meter.entry_id, "title": meter.title, "state": "loaded", "source_type": "modbus"},
        {"entry_id": hvac.entry_id, "title": hvac.title, "state": "loaded", "source_type": "modbus"},
    ], key=lambda e: e["title"])  # fmt: skip


async def test_devices_needs_an_admin(
    hass: HomeAssistant, building_sim: ModbusSim, hass_ws_client: Any, hass_read_only_access_token: str
) -> None:
    await add_device(hass, building_sim.port, 1, "three_phase_meter")
    assert await async_setup_component(hass, "websocket_api", {})
    client = await hass_ws_client(hass, hass_read_only_access_token)
    await client.send_json({"id": 1, "type": "eaio/devices"})
    answer = await client.receive_json()
    assert not answer["success"]
    assert answer["error"]["code"] == "unauthorized"


async def test_devices_names_an_mqtt_devices_topic_base(hass: HomeAssistant, hass_ws_client: Any) -> None:
    # The add-on's mqtt_read_retained may read these topics by default (and no others of the broker).
    entry = MockConfigEntry(domain="eaio", title="Room", data={"source_type": "mqtt", "base_topic": "site/room1"})
    entry.add_to_hass(hass)  # not set up: no broker here, and the answer lists every entry
    assert await async_setup_component(hass, "websocket_api", {})
    async_register_websocket_commands(hass)
    client = await hass_ws_client(hass)
    await client.send_json({"id": 1, "type": "eaio/devices"})
    answer = await client.receive_json()
    assert answer["success"], answer
    assert answer["result"] == [{"entry_id": entry.entry_id, "title": "Room", "state": "not_loaded",
                                 "source_type": "mqtt", "base_topic": "site/room1"}]

"""The options of BACnet devices, MQTT devices and the add-on link, against real peers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.const import CONF_ENABLED_POINTS, CONF_PRIORITY, CONF_SCAN_INTERVAL
from eaio_sim.bacnet import SimProcess
from tests.conftest import Mosquitto

from .addon_standin import AddonStandIn
from .conftest import entity_ids
from .test_bacnet import _add as add_bacnet
from .test_config_flow import _link_addon as link_addon
from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt


async def test_bacnet_options_move_writes_to_the_chosen_priority(
    hass: HomeAssistant, bacnet_sim: SimProcess, probe: BacnetClient
) -> None:
    entry = await add_bacnet(hass, bacnet_sim, ["AV:1"])
    result: Any = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "bacnet_options"
    # Priority 6 is the minimum on/off slot of the standard: the form refuses it.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRIORITY: 6, CONF_SCAN_INTERVAL: 120}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PRIORITY: "priority_reserved"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRIORITY: 10, CONF_SCAN_INTERVAL: 120}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {CONF_PRIORITY: 10, CONF_SCAN_INTERVAL: 120}
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.update_interval is not None and coordinator.update_interval.total_seconds() == 120

    ids = entity_ids(hass, entry)
    await hass.services.async_call(
        "number", "set_value", {"entity_id": ids["av_1"], "value": 22.5}, blocking=True
    )
    slots = await probe.read_priority_array(bacnet_sim.address, ("analogValue", 1))
    assert slots[9] == 22.5 and all(v is None for i, v in enumerate(slots) if i != 9)

    # The form opens again on what was chosen, and letting go releases the chosen slot.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {str(k): k.default() for k in result["data_schema"].schema}
    assert defaults == {CONF_PRIORITY: 10, CONF_SCAN_INTERVAL: 120}
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRIORITY: 10, CONF_SCAN_INTERVAL: 120}
    )
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    slots = await probe.read_priority_array(bacnet_sim.address, ("analogValue", 1))
    assert all(v is None for v in slots)


async def test_mqtt_options_keep_only_the_chosen_points(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path, request: pytest.FixtureRequest
) -> None:
    await setup_mqtt(hass, mosquitto)
    entry = await add_mqtt_device(hass, f"building/{request.node.name}/sensor")
    assert {"temperature", "humidity", "co2"} <= set(entity_ids(hass, entry))
    result: Any = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "mqtt_points"
    offered = {o["value"] for o in result["data_schema"].schema[CONF_ENABLED_POINTS].config["options"]}
    assert offered == {"occupancy", "co2", "illuminance", "temperature", "humidity", "battery"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {CONF_ENABLED_POINTS: []})
    assert result["errors"] == {CONF_ENABLED_POINTS: "no_points"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_ENABLED_POINTS: ["temperature", "humidity"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert [p.key for p in entry.runtime_data.points] == ["temperature", "humidity"]
    # The points turned off lose their entities; the diagnostic counter stays.
    assert set(entity_ids(hass, entry)) == {"temperature", "humidity", "invalid_payloads"}
    result = await hass.config_entries.options.async_init(entry.entry_id)
    default = [k.default() for k in result["data_schema"].schema if str(k) == CONF_ENABLED_POINTS]
    assert default == [["temperature", "humidity"]]


async def test_the_addon_link_has_no_options(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await link_addon(hass, addon)
    assert entry.state is ConfigEntryState.LOADED
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "no_options"

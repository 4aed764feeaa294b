"""Config flow, options flow and reconfigure against a real pymodbus server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
import voluptuous as vol

from custom_components.eaio.const import (
    CONF_ENABLED_POINTS,
    CONF_MAX_GAP,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_UNIT_ID,
    DOMAIN,
)
from tests.conftest import ModbusSim

from .conftest import add_device


async def _modbus_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["menu_options"][0] == "modbus"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modbus"})


async def test_user_flow_creates_a_device(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    assert entry.state is ConfigEntryState.LOADED
    assert entry.title == f"Three-phase energy meter 127.0.0.1:{building_sim.port}/1"
    assert entry.unique_id == f"modbus_127.0.0.1_{building_sim.port}_1"
    assert entry.data == {
        "source_type": "modbus", CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port,
        CONF_UNIT_ID: 1, CONF_PROFILE: "three_phase_meter",
    }  # fmt: skip


async def test_cannot_connect_then_fixed(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    form = await _modbus_form(hass)
    # A port nobody listens on: the server's port + 1 is free only by luck, so use a stopped sim's.
    dead = ModbusSim(["--static", "--device", "1:single_phase_meter"])
    await hass.async_add_executor_job(dead.start)
    await hass.async_add_executor_job(dead.stop)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: dead.port, CONF_UNIT_ID: 1, CONF_PROFILE: "single_phase_meter"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: "single_phase_meter",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_device_refusing_every_register(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    # Unit 3 is the single-phase meter: it has no input registers, all the other meter uses.
    form = await _modbus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: "three_phase_meter",
        },
    )
    assert result["errors"] == {"base": "no_points_answered"}


async def test_invalid_profile_is_refused(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    form = await _modbus_form(hass)
    with pytest.raises(vol.Invalid):  # not one of the offered profiles
        await hass.config_entries.flow.async_configure(
            form["flow_id"],
            {CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port, CONF_UNIT_ID: 1, CONF_PROFILE: "nope"},
        )


async def test_invalid_user_point_map_is_listed_not_offered(
    hass: HomeAssistant, building_sim: ModbusSim, config_dir: Path
) -> None:
    folder = hass.config.path("eaio", "profiles")
    await hass.async_add_executor_job(_write_maps, folder)
    form = await _modbus_form(hass)
    assert (
        "eaio/profiles/bad.yaml: point 'temp': unit 'W' does not fit device class 'temperature'"
        in (form["description_placeholders"]["refused"])
    )
    offered = [o["value"] for o in form["data_schema"].schema[CONF_PROFILE].config["options"]]
    assert "user:good" in offered and "user:bad" not in offered
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port, CONF_UNIT_ID: 2, CONF_PROFILE: "user:good"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    state = hass.states.get("sensor.my_zone_controller_127_0_0_1_" + str(building_sim.port) + "_2_zone")
    assert state is not None and float(state.state) == pytest.approx(21.6)


def _write_maps(folder: str) -> None:
    import os

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "good.yaml"), "w", encoding="utf-8") as file:
        file.write(
            "name: My zone controller\npoints:\n"
            "  - {key: zone, name: Zone, register: input, address: 3, type: int16, scale: 0.1,"
            " unit: '°C', device_class: temperature, state_class: measurement}\n"
        )
    with open(os.path.join(folder, "bad.yaml"), "w", encoding="utf-8") as file:
        file.write(
            "name: Bad\npoints:\n"
            "  - {key: temp, register: input, address: 3, type: int16, unit: W, device_class: temperature}\n"
        )


async def test_already_configured(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    await add_device(hass, building_sim.port, 1, "three_phase_meter")
    form = await _modbus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: "three_phase_meter",
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_options_flow(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    registry = er.async_get(hass)
    assert len(er.async_entries_for_config_entry(registry, entry.entry_id)) == 14
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 5, CONF_MAX_GAP: 8, CONF_ENABLED_POINTS: []}
    )
    assert result["errors"] == {CONF_ENABLED_POINTS: "no_points"}
    with pytest.raises(vol.Invalid):  # out of range is refused by the form itself
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 0, CONF_MAX_GAP: 8, CONF_ENABLED_POINTS: ["voltage_l1"]}
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SCAN_INTERVAL: 30, CONF_MAX_GAP: 0, CONF_ENABLED_POINTS: ["voltage_l1", "import_energy"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.update_interval.total_seconds() == 30
    assert [p.key for p in coordinator.points] == ["voltage_l1", "import_energy"]
    assert [(b.start, b.count) for b in coordinator.plan] == [(0, 2), (72, 2)]
    assert {e.unique_id.rsplit("_1_", 1)[-1] for e in er.async_entries_for_config_entry(registry, entry.entry_id)} == {
        "voltage_l1", "import_energy",
    }  # fmt: skip


async def test_reconfigure(hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]) -> None:
    old = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    new = modbus_sim_factory("--static", "--device", "5:single_phase_meter")
    entry = await add_device(hass, old.port, 1, "single_phase_meter")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: new.port, CONF_UNIT_ID: 5, CONF_PROFILE: "single_phase_meter"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PORT] == new.port and entry.data[CONF_UNIT_ID] == 5
    assert entry.unique_id == f"modbus_127.0.0.1_{new.port}_5"
    assert entry.state is ConfigEntryState.LOADED

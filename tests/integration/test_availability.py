"""A device that goes away becomes unavailable, comes back, and says so on the event bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
import pytest

from custom_components.eaio.const import DOMAIN, EVENT_DEVICE_STATUS, EVENT_INVALID_READING
from tests.bms import fault_modbus
from tests.bms.fault_modbus import FaultDevice
from tests.conftest import ModbusSim

from .conftest import add_device, entity_ids

fault_device = fault_modbus.fault_device


async def test_disconnect_unavailable_recovery(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:three_phase_meter")
    entry = await add_device(hass, sim.port, 1, "three_phase_meter")
    events: list[Event] = []
    hass.bus.async_listen(EVENT_DEVICE_STATUS, events.append)
    entity_id = entity_ids(hass, entry)["voltage_l1"]
    assert hass.states.get(entity_id).state == "230.1"  # type: ignore[union-attr]
    coordinator = entry.runtime_data

    await hass.async_add_executor_job(sim.stop)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert len(events) == 1
    assert events[0].data["available"] is False
    assert events[0].data["config_entry_id"] == entry.entry_id
    assert events[0].data["device_id"] is not None
    assert "cannot connect" in events[0].data["reason"] or "Connection" in events[0].data["reason"]

    await coordinator.async_refresh()  # still away: no second event
    assert len(events) == 1

    await hass.async_add_executor_job(sim.start)
    for _ in range(40):  # the client backs off after failures; poll until it retries
        await coordinator.async_refresh()
        if coordinator.last_update_success:
            break
        await asyncio.sleep(0.25)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "230.1"  # type: ignore[union-attr]
    assert [e.data["available"] for e in events] == [False, True]
    assert events[1].data["reason"] == "answered"


async def test_unreachable_at_setup_retries(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    entry = await add_device(hass, sim.port, 1, "single_phase_meter")
    await hass.async_add_executor_job(sim.stop)
    assert await hass.config_entries.async_reload(entry.entry_id) is False
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "cannot be reached" in (entry.reason or "")


async def test_refused_register_makes_only_its_entity_unavailable(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:three_phase_meter", "--hole", "input:72")
    entry = await add_device(hass, sim.port, 1, "three_phase_meter")
    ids = entity_ids(hass, entry)
    assert hass.states.get(ids["import_energy"]).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert hass.states.get(ids["export_energy"]).state == "321.5"  # type: ignore[union-attr]
    assert hass.states.get(ids["voltage_l1"]).state == "230.1"  # type: ignore[union-attr]
    assert entry.runtime_data.data.errors == {"import_energy": "exception code 2 (illegal data address)"}


# The fault suite: a misbehaving real pymodbus server (tests/bms/fault_modbus.py).


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_absurd_readings_are_refused_counted_and_reported_once(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice], caplog: pytest.LogCaptureFixture
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    assert _state(hass, ids["cooling_setpoint"]) == "24.0"
    assert _state(hass, ids["invalid_readings"]) == "0"
    events: list[Event] = []
    hass.bus.async_listen(EVENT_INVALID_READING, events.append)

    device.set(mode="absurd")  # 3270.4 °C setpoints, 32704 %, 214,332,204.8 kWh
    for _ in range(3):
        await coordinator.async_refresh()
    await hass.async_block_till_done()
    refused = {
        "cooling_setpoint", "heating_setpoint", "fan_speed_setpoint", "supply_air_temperature",
        "return_air_temperature", "outdoor_air_temperature", "zone_temperature", "zone_humidity",
        "fan_speed", "electrical_energy",
    }  # fmt: skip
    for key in refused:
        assert _state(hass, ids[key]) == STATE_UNAVAILABLE, key
    assert _state(hass, ids["unit_enable"]) == "on"  # on/off points are not ranged
    assert _state(hass, ids["invalid_readings"]) == str(3 * len(refused))
    # One event per point per burst, the first poll's; one log line per device per burst.
    assert sorted(e.data["point"] for e in events) == sorted(refused)
    energy = next(e for e in events if e.data["point"] == "electrical_energy")
    assert energy.data["config_entry_id"] == entry.entry_id
    assert energy.data["value"] == "214332204.8"
    assert "outside the valid range" in energy.data["reason"]
    lines = [r for r in caplog.records if "implausible" in r.getMessage()]
    assert len(lines) == 1 and "refused 10 implausible readings" in lines[0].getMessage()
    assert not [r for r in caplog.records if "point cooling_setpoint failed" in r.getMessage()]

    device.set(mode="ok")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, ids["cooling_setpoint"]) == "24.0"
    assert float(_state(hass, ids["electrical_energy"])) == pytest.approx(3086.4)
    assert _state(hass, ids["invalid_readings"]) == "30"  # the count stays: it is a total


async def test_counter_jump_and_step_back_are_refused(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice]
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    assert float(_state(hass, ids["electrical_energy"])) == pytest.approx(3086.4)
    # In range for kWh, but 900 kWh in seconds is more than the profile's 200 kWh/h.
    device.set(values={"electrical_energy": 3986.4})
    await coordinator.async_refresh()
    assert _state(hass, ids["electrical_energy"]) == STATE_UNAVAILABLE
    device.set(values={"electrical_energy": 3000.0})  # backwards, and not a reset to zero
    await coordinator.async_refresh()
    assert _state(hass, ids["electrical_energy"]) == STATE_UNAVAILABLE
    device.set(values={"electrical_energy": 3086.5})  # the meter moves on as before
    await coordinator.async_refresh()
    assert float(_state(hass, ids["electrical_energy"])) == pytest.approx(3086.5)
    assert _state(hass, ids["invalid_readings"]) == "2"
    assert coordinator.data.errors == {}


async def test_silent_device_behind_a_gateway_fails_fast(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice], caplog: pytest.LogCaptureFixture
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    events: list[Event] = []
    hass.bus.async_listen(EVENT_DEVICE_STATUS, events.append)
    merged = list(coordinator.plan)
    assert len(merged) == 4

    device.set(mode="exception", code=11, delay=0.2)  # the gateway waits, then gives up
    caplog.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    # One request for the whole poll (it took one per point, 29 s, before), the plan unsplit.
    assert coordinator.data.requests == 1
    assert coordinator.plan == merged
    assert _state(hass, ids["zone_temperature"]) == STATE_UNAVAILABLE
    assert [e.data["available"] for e in events] == [False]
    assert "gateway target failed to respond" in events[0].data["reason"]
    failed = [r for r in caplog.records if "failed" in r.getMessage() and r.name.endswith("readings")]
    assert len(failed) == 1 and "15 points failed" in failed[0].getMessage()

    device.set(mode="ok")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, ids["zone_temperature"]) == "21.6"
    assert coordinator.data.requests == len(merged)
    assert [e.data["available"] for e in events] == [False, True]


async def test_split_plan_is_merged_back_when_the_device_answers_again(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice], caplog: pytest.LogCaptureFixture
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    merged = list(coordinator.plan)
    coordinator.probe_merged_every = 3

    device.set(refuse=[["input", 4, 5]])  # busy or rebooting: zone humidity refused
    await coordinator.async_refresh()
    split = list(coordinator.plan)
    assert len(split) > len(merged)
    assert _state(hass, ids["zone_humidity"]) == STATE_UNAVAILABLE
    assert _state(hass, ids["zone_temperature"]) == "21.6"
    await coordinator.async_refresh()  # the split plan is reused: one request per block
    assert coordinator.data.requests == len(split)

    device.set(mode="ok")
    await coordinator.async_refresh()  # the split plan still reads everything
    assert coordinator.plan == split
    assert _state(hass, ids["zone_humidity"]) == "45.0"
    await coordinator.async_refresh()  # third poll since the split: the merged plan is probed
    assert coordinator.plan == merged
    assert coordinator.data.requests == len(merged)
    assert any("read plan merged again" in r.getMessage() for r in caplog.records)

    device.set(refuse=[["input", 4, 5]])  # a point that keeps failing stays split, probe after probe
    for _ in range(4):
        await coordinator.async_refresh()
    assert coordinator.plan == split
    assert coordinator.data.errors == {"zone_humidity": "exception code 2 (illegal data address)"}


@pytest.mark.parametrize("fault", ["killed", "silent", "garbage", "exceptions"])
async def test_device_faults_make_it_unavailable_and_it_recovers(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice], tmp_path: Path, fault: str
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    coordinator.client.timeout = 0.5
    events: list[Event] = []
    hass.bus.async_listen(EVENT_DEVICE_STATUS, events.append)

    garbage: FaultDevice | None = None
    if fault == "killed":
        await hass.async_add_executor_job(device.kill)
    elif fault == "silent":
        device.set(mode="silent")
    elif fault == "exceptions":
        device.set(mode="exception", code=4)  # device failure, for every block
    else:  # another process takes the port and answers random bytes
        await hass.async_add_executor_job(device.kill)
        garbage = FaultDevice(tmp_path, garbage=True)
        garbage.port = device.port
        await hass.async_add_executor_job(garbage.start)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, ids["zone_temperature"]) == STATE_UNAVAILABLE
    assert [e.data["available"] for e in events] == [False]
    assert hass.states.get(ids["zone_temperature"]) is not None

    if garbage is not None:
        await hass.async_add_executor_job(garbage.kill)
    if fault in ("killed", "garbage"):
        await hass.async_add_executor_job(device.start)  # same port
    device.set(mode="ok")
    for _ in range(40):  # the client backs off after failures; poll until it retries
        await coordinator.async_refresh()
        if coordinator.last_update_success and "zone_temperature" in coordinator.data.values:
            break
        await asyncio.sleep(0.25)
    await hass.async_block_till_done()
    assert _state(hass, ids["zone_temperature"]) == "21.6"
    assert [e.data["available"] for e in events] == [False, True]
    assert coordinator.invalid.count == 0  # a fault is not a reading: nothing counted as invalid


async def test_read_points_lists_points_and_reports_an_unreachable_device_without_raising(
    hass: HomeAssistant, fault_device: Callable[..., FaultDevice], caplog: pytest.LogCaptureFixture
) -> None:
    device = fault_device("hvac_unit")
    entry = await add_device(hass, device.port, 1, "hvac_unit")
    response: Any = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    # Every polled point with what a caller needs to write it (the MCP listing reads this).
    assert response["points"]["cooling_setpoint"] == {
        "name": "Cooling setpoint", "unit": "°C", "writable": True, "min": 18, "max": 30, "step": 0.5,
    }  # fmt: skip
    assert response["points"]["zone_temperature"] == {
        "name": "Zone temperature",
        "unit": "°C",
        "writable": False,
    }
    assert set(response["points"]) == set(response["values"])
    device.set(mode="absurd")
    response = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["zone_temperature"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response["values"] == {} and response["errors"] == {"zone_temperature": "implausible reading"}

    await hass.async_add_executor_job(device.kill)
    caplog.clear()
    response = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["zone_temperature"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response["values"] == {}
    assert response["errors"]["zone_temperature"].startswith("device unreachable")
    # Neither EAIO nor Home Assistant logs the refusal as an error (the protocol library may say, at its own
    # level, that a request to the dead device went unanswered: under load the kill is seen as a timeout).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and not r.name.startswith("pymodbus")]

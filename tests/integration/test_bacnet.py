"""BACnet/IP devices in Home Assistant against a real simulated controller in another process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import logging
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.const import DOMAIN, EVENT_DEVICE_STATUS, EVENT_INVALID_READING
from eaio_sim.bacnet import SimProcess, free_udp_port

from .conftest import entity_ids


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimProcess]]:
    sims: list[SimProcess] = []

    def start(*args: str) -> SimProcess:
        sim = SimProcess(*args).start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()



async def _add(hass: HomeAssistant, sim: SimProcess, objects: list[str] | None = None) -> ConfigEntry:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["menu_options"][:2] == ["modbus", "bacnet"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "bacnet"})
    local = f"127.0.0.1:{free_udp_port('127.0.0.1')}"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"local_address": local, "device_address": sim.address}
    )
    assert result["step_id"] == "bacnet_device", result
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"device_instance": "1001"})
    assert result["step_id"] == "bacnet_objects"
    offered = result["data_schema"].schema["objects"].config["options"]
    assert {o["value"] for o in offered} >= {"AI:1", "AV:1", "AO:1", "BI:1", "BO:1", "MSV:1", "AI:2"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"objects": objects or [o["value"] for o in offered]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


def _state(hass: HomeAssistant, entity_id: str) -> Any:
    state = hass.states.get(entity_id)
    assert state is not None
    return state


async def test_entities_from_objects(hass: HomeAssistant, sim_factory: Callable[..., SimProcess]) -> None:
    entry = await _add(hass, sim_factory("--static"))
    ids = entity_ids(hass, entry)
    zone = _state(hass, ids["ai_1"])
    assert float(zone.state) == 23.0
    assert zone.attributes["unit_of_measurement"] == "°C"
    assert zone.attributes["device_class"] == "temperature"
    assert zone.attributes["state_class"] == "measurement"
    assert ids["av_1"].startswith("number.") and ids["bo_1"].startswith("switch.")
    assert ids["bi_1"].startswith("binary_sensor.") and ids["msv_1"].startswith("select.")
    assert _state(hass, ids["bi_1"]).state == "on"
    mode = _state(hass, ids["msv_1"])
    assert mode.attributes["options"][3] == mode.state  # present value 4: the fourth state text
    assert _state(hass, ids["av_1"]).attributes["min"] == 5.0  # default bounds for a °C setpoint
    assert entry.title.startswith("Zone controller")


async def test_cov_updates_reach_entity_state(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess]
) -> None:
    # A moving controller: the zone temperature drifts toward the setpoint on its own, and
    # only change-of-value notifications can carry that (the safety poll is 60 s away).
    entry = await _add(hass, sim_factory("--tick", "0.2"), ["AI:1", "AV:1"])
    ids = entity_ids(hass, entry)
    first = _state(hass, ids["ai_1"]).state
    changes: list[str] = []
    for _ in range(100):
        await asyncio.sleep(0.05)
        current = _state(hass, ids["ai_1"]).state
        if current != first:
            changes.append(current)
            break
    assert changes, "no change-of-value notification reached the entity"


async def test_write_at_priority_and_release(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess], probe: BacnetClient
) -> None:
    sim = sim_factory("--static")
    entry = await _add(hass, sim)
    ids = entity_ids(hass, entry)
    await hass.services.async_call(
        "number", "set_value", {"entity_id": ids["av_1"], "value": 22.5}, blocking=True
    )
    await hass.services.async_call("select", "select_option", {"entity_id": ids["msv_1"], "option": _state(hass, ids["msv_1"]).attributes["options"][0]}, blocking=True)  # fmt: skip
    await hass.async_block_till_done()
    assert float(_state(hass, ids["av_1"]).state) == 22.5
    slots = await probe.read_priority_array(sim.address, ("analogValue", 1))
    assert slots[15] == 22.5 and all(v is None for v in slots[:15])
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "write_point",
            {"config_entry_id": entry.entry_id, "point": "av_1", "value": 60},
            blocking=True,
        )
    assert err.value.translation_key == "write_out_of_range"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "write_point",
            {"config_entry_id": entry.entry_id, "point": "ai_1", "value": 20},
            blocking=True,
        )

    await hass.services.async_call(
        DOMAIN, "release_point", {"config_entry_id": entry.entry_id, "point": "av_1"}, blocking=True
    )
    assert (await probe.read_priority_array(sim.address, ("analogValue", 1)))[15] is None
    assert float(_state(hass, ids["av_1"]).state) == 21.0  # back to the device's relinquish default

    # Whatever is still commanded is released when EAIO lets go of the device.
    await hass.services.async_call(
        "number", "set_value", {"entity_id": ids["av_1"], "value": 23.5}, blocking=True
    )
    assert (await probe.read_priority_array(sim.address, ("analogValue", 1)))[15] == 23.5
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert (await probe.read_priority_array(sim.address, ("analogValue", 1)))[15] is None
    assert (await probe.read_priority_array(sim.address, ("multiStateValue", 1)))[15] is None


async def test_device_gone_and_back(hass: HomeAssistant, sim_factory: Callable[..., SimProcess]) -> None:
    sim = sim_factory("--static")
    entry = await _add(hass, sim, ["AI:1", "AV:1"])
    ids = entity_ids(hass, entry)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_DEVICE_STATUS, events.append)
    coordinator = entry.runtime_data
    await hass.async_add_executor_job(sim.stop)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, ids["ai_1"]).state == STATE_UNAVAILABLE
    await hass.async_add_executor_job(sim.start)
    for _ in range(40):
        await coordinator.async_refresh()
        if coordinator.last_update_success:
            break
        await asyncio.sleep(0.25)
    await hass.async_block_till_done()
    assert float(_state(hass, ids["ai_1"]).state) == 23.0
    assert [e.data["available"] for e in events] == [False, True]


async def test_no_device_answers(hass: HomeAssistant) -> None:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "bacnet"})
    silent = f"127.0.0.1:{free_udp_port('127.0.0.1')}"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"local_address": f"127.0.0.1:{free_udp_port('127.0.0.1')}", "device_address": silent},
    )
    assert result["errors"] == {"base": "no_devices_found"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"local_address": "not an address", "device_address": ""}
    )
    assert result["errors"] == {"local_address": "local_address_unusable"}
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()


async def test_read_points_of_a_cov_device_gives_latest_values_and_lists_points(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess], caplog: pytest.LogCaptureFixture
) -> None:
    """Values that arrive by COV are read from what the last notification left; objects that
    refuse COV are read now; nothing is logged as an error (the MCP tools list and read this way)."""
    sim = sim_factory("--static", "--no-cov-for", "AI:2")
    entry = await _add(hass, sim, ["AI:1", "AV:1", "AI:2", "MSV:1"])
    response: Any = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert response["values"] == {
        "ai_1": 23.0,
        "av_1": 21.0,
        "ai_2": 600.0,
        "msv_1": response["values"]["msv_1"],
    }
    assert isinstance(response["values"]["msv_1"], str)
    assert response["errors"] == {}
    assert response["source"] == {"ai_1": "pushed", "av_1": "pushed", "msv_1": "pushed", "ai_2": "read"}
    assert response["requests"] == 1  # only the polled object went to the device
    assert response["units"] == {"ai_1": "°C", "av_1": "°C", "ai_2": "ppm"}
    assert response["points"]["av_1"] == {
        "name": "Zone setpoint", "unit": "°C", "writable": True, "min": 5.0, "max": 35.0, "step": 0.5,
    }  # fmt: skip
    assert response["points"]["ai_1"]["writable"] is False
    assert response["points"]["msv_1"]["options"]
    one: Any = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["ai_2"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert one["values"] == {"ai_2": 600.0} and set(one["points"]) == {"ai_2"}

    # The device gone: the answer says so for each point and keeps what it said last.
    await hass.async_add_executor_job(sim.stop)
    await entry.runtime_data.async_refresh()
    caplog.clear()  # the failed poll is Home Assistant's to report; the read must add no error
    gone: Any = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["ai_1"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert gone["errors"]["ai_1"].startswith("device unreachable")
    assert gone["values"] == {"ai_1": 23.0} and gone["source"] == {"ai_1": "last known"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_implausible_bacnet_values_are_refused(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess], probe: BacnetClient
) -> None:
    """A value commanded from elsewhere that cannot be true (a 500 °C setpoint) is refused when
    it arrives by COV, counted, and the point comes back with the next plausible value."""
    sim = sim_factory("--static")
    entry = await _add(hass, sim, ["AI:1", "AV:1"])
    ids = entity_ids(hass, entry)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_INVALID_READING, events.append)
    await probe.write(sim.address, ("analogValue", 1), 500.0, priority=8)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if _state(hass, ids["av_1"]).state == STATE_UNAVAILABLE:
            break
    assert _state(hass, ids["av_1"]).state == STATE_UNAVAILABLE
    assert _state(hass, ids["invalid_readings"]).state == "1"
    assert [e.data["point"] for e in events] == ["av_1"]
    assert "500 is outside the valid range -25..65" in events[0].data["reason"]
    assert float(_state(hass, ids["ai_1"]).state) == 23.0  # the rest of the device is untouched
    await entry.runtime_data.async_refresh()  # the safety poll refuses it too
    assert _state(hass, ids["av_1"]).state == STATE_UNAVAILABLE
    await probe.relinquish(sim.address, ("analogValue", 1), priority=8)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if _state(hass, ids["av_1"]).state != STATE_UNAVAILABLE:
            break
    assert float(_state(hass, ids["av_1"]).state) == 21.0

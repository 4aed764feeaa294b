"""A device that goes away becomes unavailable, comes back, and says so on the event bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant

from custom_components.eaio.const import EVENT_DEVICE_STATUS
from tests.conftest import ModbusSim

from .conftest import add_device, entity_ids


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

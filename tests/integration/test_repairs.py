"""Repair issues: raised when a cause lasts, lifted when it goes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.eaio.const import DOMAIN
from custom_components.eaio.repairs import unreachable_issue_id
from eaio_sim.bacnet import SimProcess
from tests.conftest import ModbusSim

from .addon_standin import AddonStandIn
from .conftest import add_device
from .test_bacnet import _add as add_bacnet
from .test_config_flow import _link_addon


def _issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


async def _later(hass: HomeAssistant, minutes: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
    await hass.async_block_till_done()


async def test_a_device_away_for_an_hour_is_a_repair_until_it_answers(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    entry = await add_device(hass, sim.port, 1, "single_phase_meter")
    issue_id = unreachable_issue_id(entry.entry_id)
    await hass.async_add_executor_job(sim.stop)
    await entry.runtime_data.async_refresh()
    await _later(hass, 59)
    assert _issue(hass, issue_id) is None  # a device away for a while is only unavailable
    await _later(hass, 61)
    issue = _issue(hass, issue_id)
    assert issue is not None and issue.translation_key == "device_unreachable"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["name"] == entry.title
    assert issue.translation_placeholders["minutes"] == "60"
    await hass.async_add_executor_job(sim.start)  # the same port again
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.last_update_success
    assert _issue(hass, issue_id) is None


async def test_a_removed_device_leaves_no_repair(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    entry = await add_device(hass, sim.port, 1, "single_phase_meter")
    await hass.async_add_executor_job(sim.stop)
    await entry.runtime_data.async_refresh()
    await _later(hass, 61)
    assert _issue(hass, unreachable_issue_id(entry.entry_id)) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, unreachable_issue_id(entry.entry_id)) is None
    await _later(hass, 120)
    assert _issue(hass, unreachable_issue_id(entry.entry_id)) is None


async def test_the_addon_away_for_half_an_hour_is_a_repair(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _link_addon(hass, addon)
    issue_id = unreachable_issue_id(entry.entry_id)
    await addon.stop()
    await entry.runtime_data.async_refresh()
    await _later(hass, 31)
    issue = _issue(hass, issue_id)
    assert issue is not None and issue.translation_key == "addon_unreachable"
    assert issue.translation_placeholders is not None and issue.translation_placeholders["minutes"] == "30"


async def test_a_refused_point_map_is_a_repair_until_it_loads(hass: HomeAssistant, config_dir: Path) -> None:
    folder = config_dir / "eaio" / "profiles"
    bad = folder / "bad.yaml"
    await hass.async_add_executor_job(lambda: folder.mkdir(parents=True))
    await hass.async_add_executor_job(
        bad.write_text,
        "name: Bad\npoints:\n  - {key: temp, register: input, address: 3, type: int16, unit: W,"
        " device_class: temperature}\n",
    )
    await _modbus_form(hass)
    issue = _issue(hass, "point_map_refused_bad.yaml")
    assert issue is not None and issue.translation_key == "point_map_refused"
    assert issue.translation_placeholders is not None
    assert "unit 'W' does not fit device class 'temperature'" in issue.translation_placeholders["error"]
    await hass.async_add_executor_job(
        bad.write_text,
        "name: Fixed\npoints:\n  - {key: temp, register: input, address: 3, type: int16, unit: '°C',"
        " device_class: temperature}\n",
    )
    await _modbus_form(hass)
    assert _issue(hass, "point_map_refused_bad.yaml") is None


async def _modbus_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modbus"})


async def test_a_bacnet_device_away_since_the_start_is_a_repair_too(hass: HomeAssistant) -> None:
    sim = await hass.async_add_executor_job(SimProcess("--static").start)
    try:
        entry = await add_bacnet(hass, sim)
        await hass.async_add_executor_job(sim.stop)
        assert await hass.config_entries.async_reload(entry.entry_id) is False
        assert entry.state is ConfigEntryState.SETUP_RETRY
        await _later(hass, 61)
        issue = _issue(hass, unreachable_issue_id(entry.entry_id))
        assert issue is not None and issue.translation_key == "device_unreachable"
        await hass.async_add_executor_job(sim.start)  # the same port again
        # A device just back may miss the first exchange on a busy machine: the next reload finds it.
        for _attempt in range(3):
            if await hass.config_entries.async_reload(entry.entry_id):
                break
        assert entry.state is ConfigEntryState.LOADED
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
        assert _issue(hass, unreachable_issue_id(entry.entry_id)) is None
    finally:
        await hass.async_add_executor_job(sim.stop)

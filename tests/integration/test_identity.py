"""A device's identity outlives its address: entity ids, the Energy dashboard and older entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant import config_entries
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import list_statistic_ids
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.eaio.const import CONF_PROFILE, CONF_SOURCE_TYPE, CONF_UNIT_ID, DOMAIN
from tests.conftest import ModbusSim

from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device, entity_ids


@pytest.fixture(autouse=True)
async def _integration(
    recorder_mock: Recorder, hass: HomeAssistant, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """As the package's fixture, with the recorder set up first: the Energy dashboard's checks read it."""
    assert await async_setup_component(hass, "homeassistant", {})


async def _energy_problems(hass: HomeAssistant, ws: Any, meter: str) -> Any:
    await ws.send_json(
        {
            "id": 1,
            "type": "energy/save_prefs",
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [{"stat_energy_from": meter, "stat_cost": None, "entity_energy_price": None,
                                   "number_energy_price": None}],
                    "flow_to": [],
                    "cost_adjustment_day": 0,
                }
            ],
            "device_consumption": [],
        }
    )  # fmt: skip
    saved = await ws.receive_json()
    assert saved["success"], saved
    await ws.send_json({"id": 2, "type": "energy/validate"})
    answer = await ws.receive_json()
    assert answer["success"], answer
    # Releases from 2026 also validate water devices (there are none here): the same, key for key.
    return {k: v for k, v in answer["result"].items() if not (k == "device_consumption_water" and v == [])}


async def _compile_statistics(hass: HomeAssistant, since: datetime) -> None:
    """Compile the five minutes that hold ``since`` now, as the recorder does after they end."""
    await async_wait_recording_done(hass)
    do_adhoc_statistics(
        hass, start=since.replace(minute=since.minute - since.minute % 5, second=0, microsecond=0)
    )
    await async_wait_recording_done(hass)


async def _statistic_ids(hass: HomeAssistant) -> set[str]:
    listed = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    return {s["statistic_id"] for s in listed}


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry | Any, user_input: dict[str, Any]) -> None:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful", result
    await hass.async_block_till_done()


async def test_a_meter_moved_to_a_new_address_stays_in_the_energy_dashboard(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim], hass_ws_client: Any
) -> None:
    old = modbus_sim_factory("--static", "--device", "1:three_phase_meter")
    new = modbus_sim_factory("--static", "--device", "7:three_phase_meter")
    entry = await add_device(hass, old.port, 1, "three_phase_meter")
    before = entity_ids(hass, entry)
    meter = before["import_energy"]
    state = hass.states.get(meter)
    assert state is not None
    await _compile_statistics(hass, state.last_updated)
    assert meter in await _statistic_ids(hass)
    assert await async_setup_component(hass, "energy", {})
    ws = await hass_ws_client(hass)
    assert await _energy_problems(hass, ws, meter) == {"energy_sources": [[]], "device_consumption": []}

    # A new DHCP lease: another address, another port, another unit id.
    await _reconfigure(
        hass,
        entry,
        {CONF_HOST: "localhost", CONF_PORT: new.port, CONF_UNIT_ID: 7, CONF_PROFILE: "three_phase_meter"},
    )
    assert entry.state is ConfigEntryState.LOADED
    assert entity_ids(hass, entry) == before
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert len(devices) == 1  # no device left behind without entities
    state = hass.states.get(meter)
    assert state is not None and float(state.state) > 0
    ws = await hass_ws_client(hass)
    assert await _energy_problems(hass, ws, meter) == {"energy_sources": [[]], "device_consumption": []}
    # The statistics go on under the same id: no second series began.
    assert {i for i in await _statistic_ids(hass) if "import_energy" in i} == {meter}


async def test_an_entry_of_version_1_1_keeps_its_entity_ids(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    """An installation from before 1.2: the old id stays, the address leaves the device's name."""
    old = modbus_sim_factory("--static", "--device", "1:three_phase_meter")
    new = modbus_sim_factory("--static", "--device", "2:three_phase_meter")
    unique_id = f"modbus_127.0.0.1_{old.port}_1"
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        minor_version=1,
        unique_id=unique_id,
        title=f"Three-phase energy meter 127.0.0.1:{old.port}/1",
        data={CONF_SOURCE_TYPE: "modbus", CONF_HOST: "127.0.0.1", CONF_PORT: old.port, CONF_UNIT_ID: 1,
              CONF_PROFILE: "three_phase_meter"},
    )  # fmt: skip
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    old_entity_id = f"sensor.three_phase_energy_meter_127_0_0_1_{old.port}_1_import_energy"
    registry.async_get_or_create(
        "sensor", DOMAIN, f"{unique_id}_import_energy", config_entry=entry,
        suggested_object_id=old_entity_id.removeprefix("sensor."),
    )  # fmt: skip
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.unique_id == unique_id
    assert entry.title == "Three-phase energy meter"
    assert entity_ids(hass, entry)["import_energy"] == old_entity_id
    assert float(hass.states.get(old_entity_id).state) > 0  # type: ignore[union-attr]

    await _reconfigure(
        hass,
        entry,
        {CONF_HOST: "127.0.0.1", CONF_PORT: new.port, CONF_UNIT_ID: 2, CONF_PROFILE: "three_phase_meter"},
    )
    assert entry.unique_id == unique_id
    assert entity_ids(hass, entry)["import_energy"] == old_entity_id
    assert float(hass.states.get(old_entity_id).state) > 0  # type: ignore[union-attr]


async def test_an_addon_link_of_version_1_1_moves_to_the_one_addon_id(
    hass: HomeAssistant, addon: AddonStandIn
) -> None:
    old_id = f"addon_{addon.url}"
    entry = MockConfigEntry(
        domain=DOMAIN, version=1, minor_version=1, unique_id=old_id, title="EAIO optimizer",
        data={CONF_SOURCE_TYPE: "addon", "url": addon.url, "token": TOKEN},
    )  # fmt: skip
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, old_id)}
    )
    registry = er.async_get(hass)
    registry.async_get_or_create(
        "sensor", DOMAIN, f"{old_id}_addon_status", config_entry=entry, device_id=device.id,
        suggested_object_id="eaio_optimizer_add_on_status",
    )  # fmt: skip
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.unique_id == "addon" and entry.minor_version == 2
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, "addon_addon_status")
        == "sensor.eaio_optimizer_add_on_status"
    )
    assert hass.states.get("sensor.eaio_optimizer_add_on_status").state == "ok"  # type: ignore[union-attr]
    moved = dr.async_get(hass).async_get(device.id)
    assert moved is not None and moved.identifiers == {(DOMAIN, "addon")}
    assert len(dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)) == 1


async def test_an_entry_of_a_newer_version_is_not_touched(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, version=2, minor_version=1, unique_id="x", data={CONF_SOURCE_TYPE: "modbus"}
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_the_addon_links_entities_keep_what_a_person_set_across_a_restart(
    hass: HomeAssistant, addon: AddonStandIn
) -> None:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": TOKEN}
    )
    entry = result["result"]
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    ids = entity_ids(hass, entry)
    renamed = {}
    for key in ("open_recommendations", "addon_status", "assistant"):
        new_id = f"{ids[key].split('.')[0]}.my_{key}"
        registry.async_update_entity(ids[key], new_entity_id=new_id, name=f"My {key}")
        renamed[key] = new_id
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    after = entity_ids(hass, entry)
    assert {k: after[k] for k in renamed} == renamed
    assert all(registry.async_get(e).name == f"My {k}" for k, e in renamed.items())  # type: ignore[union-attr]

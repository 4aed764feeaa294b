"""Snapshots of what each kind of entry shows: entities (registry entry, state, attributes) and diagnostics.

One snapshot file per Home Assistant release the suite runs on (tests/snapshots/ha<major>.<minor>/):
releases differ in what they add to states and registry entries. After an intended change, update
them with ./scripts/update-snapshots and review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import re
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.location import PyTestLocation

from custom_components.eaio.const import DOMAIN
from custom_components.eaio.diagnostics import async_get_config_entry_diagnostics
from eaio_sim.bacnet import SimProcess
from tests.conftest import ModbusSim, Mosquitto

from . import test_bacnet
from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device
from .test_bacnet import _add as add_bacnet
from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt, _until as until

sim_factory = test_bacnet.sim_factory
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / f"ha{MAJOR_VERSION}.{MINOR_VERSION}"
# Ids made once per entry (a device without a serial number): random in every test run.
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class ReleaseSnapshots(AmberSnapshotExtension):
    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOTS)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(ReleaseSnapshots)


@pytest.fixture(autouse=True)
def _own_config_dir(config_dir: Path) -> None:
    """Home Assistant's MQTT setup reads configuration.yaml from the config folder."""


def _stable(value: Any, volatile: dict[Any, str]) -> Any:
    """The value with what changes from run to run (ports, generated ids) replaced by a name."""
    if isinstance(value, dict):
        return {k: _stable(v, volatile) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v, volatile) for v in value]
    if isinstance(value, str):
        return GENERATED_ID.sub("<generated id>", value)
    if not isinstance(value, bool) and value in volatile:
        return volatile[value]
    return value


def _shown(hass: HomeAssistant, entry: ConfigEntry, volatile: dict[Any, str]) -> dict[str, Any]:
    """Every entity of the entry as a person and the registry see it, and its device."""
    entities: dict[str, Any] = {}
    for item in sorted(er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id),
                       key=lambda e: e.entity_id):  # fmt: skip
        state = hass.states.get(item.entity_id)
        entities[item.entity_id] = {
            "registry": {
                "unique_id": item.unique_id,
                "platform": item.platform,
                "has_entity_name": item.has_entity_name,
                "original_name": item.original_name,
                "translation_key": item.translation_key,
                "original_device_class": item.original_device_class,
                "original_icon": item.original_icon,
                "unit_of_measurement": item.unit_of_measurement,
                "entity_category": item.entity_category,
                "disabled_by": item.disabled_by,
                "hidden_by": item.hidden_by,
                "capabilities": item.capabilities,
                "supported_features": item.supported_features,
            },
            "state": None if state is None else {"state": state.state, "attributes": dict(state.attributes)},
        }
    devices = [
        {"name": d.name, "manufacturer": d.manufacturer, "model": d.model, "identifiers": sorted(d.identifiers),
         "serial_number": d.serial_number, "sw_version": d.sw_version, "entry_type": d.entry_type}
        for d in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    ]  # fmt: skip
    return _stable({"devices": devices, "entities": entities}, volatile)


async def _check(hass: HomeAssistant, entry: ConfigEntry, snapshot: SnapshotAssertion, **volatile: Any) -> None:
    names = {v: f"<{k}>" for k, v in volatile.items()}
    assert _shown(hass, entry, names) == snapshot(name="entities")
    assert _stable(await async_get_config_entry_diagnostics(hass, entry), names) == snapshot(name="diagnostics")


async def test_modbus_meter(hass: HomeAssistant, building_sim: ModbusSim, snapshot: SnapshotAssertion) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    await _check(hass, entry, snapshot, port=building_sim.port)


async def test_modbus_hvac_unit(hass: HomeAssistant, building_sim: ModbusSim, snapshot: SnapshotAssertion) -> None:
    entry = await add_device(hass, building_sim.port, 2, "hvac_unit")
    await _check(hass, entry, snapshot, port=building_sim.port)


async def test_bacnet_zone_controller(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess], snapshot: SnapshotAssertion
) -> None:
    entry = await add_bacnet(hass, sim_factory("--static"), ["AI:1", "AV:1", "BO:1", "MSV:1"])
    await _check(hass, entry, snapshot)


async def test_mqtt_room_sensor(hass: HomeAssistant, mosquitto: Mosquitto, snapshot: SnapshotAssertion) -> None:
    base = "snapshots/room"
    await setup_mqtt(hass, mosquitto)
    entry = await add_mqtt_device(hass, base)
    payload = '{"occupancy": true, "co2": 612, "illuminance": 340, "temperature": 21.5, "humidity": 44, "battery": 87}'
    # Retained: the device entry may subscribe after the publish.
    await hass.async_add_executor_job(mosquitto.publish, base, payload, True)
    temperature = next(e.entity_id for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
                       if e.unique_id.endswith("_temperature"))  # fmt: skip
    await until(hass, lambda: getattr(hass.states.get(temperature), "state", None) == "21.5")
    await _check(hass, entry, snapshot)


async def test_addon_link(hass: HomeAssistant, addon: AddonStandIn, snapshot: SnapshotAssertion) -> None:
    result: Any = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": addon.url, "token": TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    await _check(hass, result["result"], snapshot)

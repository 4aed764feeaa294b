"""Entities built from the profiles: states, units, classes and devices."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.eaio.const import DOMAIN
from tests.conftest import ModbusSim

from .conftest import add_device, entity_ids


def _states(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    return {key: hass.states.get(entity_id) for key, entity_id in entity_ids(hass, entry).items()}


async def test_meter_entities_work_in_the_energy_dashboard(
    hass: HomeAssistant, building_sim: ModbusSim
) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    states = _states(hass, entry)
    assert len(states) == 15  # 14 points and the count of refused readings
    assert states["invalid_readings"].state == "0"
    energy = states["import_energy"]
    assert energy is not None
    assert float(energy.state) == pytest.approx(12345.67, abs=0.01)
    assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    assert energy.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
    assert energy.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    voltage = states["voltage_l2"]
    assert float(voltage.state) == pytest.approx(229.4, abs=0.01)
    assert voltage.attributes[ATTR_UNIT_OF_MEASUREMENT] == "V"
    power = states["total_power"]
    assert float(power.state) == pytest.approx(1065.0, abs=0.5)
    assert power.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert power.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.POWER

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, entry.unique_id)})
    assert device is not None
    assert device.name == entry.title
    assert device.manufacturer == "Generic"


async def test_hvac_entities_by_platform(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 2, "hvac_unit")
    registry = er.async_get(hass)
    by_domain: dict[str, set[str]] = {}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        by_domain.setdefault(entity.domain, set()).add(entity.unique_id.removeprefix(f"{entry.unique_id}_"))
    assert by_domain["number"] == {"cooling_setpoint", "heating_setpoint", "fan_speed_setpoint"}
    assert by_domain["switch"] == {"unit_enable", "economizer_enable"}
    assert by_domain["binary_sensor"] == {"compressor_running", "filter_alarm"}
    assert len(by_domain["sensor"]) == 9  # 8 points and the count of refused readings

    states = _states(hass, entry)
    setpoint = states["cooling_setpoint"]
    assert float(setpoint.state) == 24.0
    assert setpoint.attributes["min"] == 18 and setpoint.attributes["max"] == 30
    assert setpoint.attributes["step"] == 0.5
    assert states["unit_enable"].state == STATE_ON
    assert states["economizer_enable"].state == STATE_OFF
    assert states["filter_alarm"].attributes[ATTR_DEVICE_CLASS] == "problem"
    assert float(states["zone_temperature"].state) == pytest.approx(21.6)


async def test_disabled_by_default_point(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 4, "pv_inverter")
    keys = set(entity_ids(hass, entry))
    # The model-name text point is off by default and so not polled either.
    assert "model_name" not in keys
    assert "ac_power" in keys

"""A device whose profile no longer exists (a removed user profile) fails to start with the reason,
and its options form says to reconfigure it first instead of showing an empty list."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.eaio.const import (
    CONF_BASE_TOPIC,
    CONF_PROFILE,
    CONF_SOURCE_TYPE,
    CONF_UNIT_ID,
    DOMAIN,
)
from tests.conftest import ModbusSim, Mosquitto

from .test_mqtt import _setup_mqtt as setup_mqtt


async def _start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_modbus_device_without_its_profile(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, version=1, minor_version=2, unique_id="modbus_gone", title="Old meter",
        data={CONF_SOURCE_TYPE: "modbus", CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port,
              CONF_UNIT_ID: 1, CONF_PROFILE: "user:removed_meter"},
    )  # fmt: skip
    await _start(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None and "the profile file no longer exists" in entry.reason
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "profile_unavailable"


async def test_an_mqtt_device_without_its_profile(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path
) -> None:
    await setup_mqtt(hass, mosquitto)
    entry = MockConfigEntry(
        domain=DOMAIN, version=1, minor_version=2, unique_id="mqtt_gone", title="Old sensor",
        data={CONF_SOURCE_TYPE: "mqtt", CONF_BASE_TOPIC: "building/gone", CONF_PROFILE: "removed_sensor"},
    )  # fmt: skip
    await _start(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None and "no such MQTT profile" in entry.reason
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "profile_unavailable"

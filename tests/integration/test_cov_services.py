"""The services refuse, with their reason, the entries they cannot act on."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.eaio.const import DOMAIN
from tests.conftest import ModbusSim

from .conftest import add_device


async def test_a_device_that_is_not_loaded_is_named_in_the_error(
    hass: HomeAssistant, building_sim: ModbusSim
) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["voltage_l1"]},
            blocking=True, return_response=True,
        )  # fmt: skip
    assert err.value.translation_key == "entry_not_loaded"
    assert err.value.translation_placeholders == {"name": entry.title}
    # Loaded again, the same call answers.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    response = await hass.services.async_call(
        DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["voltage_l1"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response is not None and response["values"] == {"voltage_l1": 230.1}


async def test_a_modbus_device_cannot_be_released(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "release_point", {"config_entry_id": entry.entry_id, "point": "voltage_l1"}, blocking=True
        )
    assert err.value.translation_key == "release_not_supported"
    assert err.value.translation_placeholders == {"device": entry.title}


async def test_the_optimizer_is_asked_only_through_the_addon_link(
    hass: HomeAssistant, building_sim: ModbusSim
) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "run_optimization",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "not_addon_entry"

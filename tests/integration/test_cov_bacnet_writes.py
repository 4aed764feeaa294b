"""eaio.write_point and eaio.release_point on a BACnet device (a real simulated controller in
another process): each value is checked by the kind of object it goes to, and a release that
cannot reach the device says so."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.const import DOMAIN
from eaio_sim.bacnet import SimProcess

from .conftest import entity_ids
from .test_bacnet import _add as add_bacnet


async def _write(hass: HomeAssistant, entry_id: str, point: str, value: Any) -> None:
    await hass.services.async_call(
        DOMAIN, "write_point", {"config_entry_id": entry_id, "point": point, "value": value}, blocking=True
    )


async def test_values_are_checked_by_the_kind_of_object(
    hass: HomeAssistant, bacnet_sim: SimProcess, probe: BacnetClient
) -> None:
    entry = await add_bacnet(hass, bacnet_sim, ["BO:1", "MSV:1", "AV:1"])
    ids = entity_ids(hass, entry)
    options = hass.states.get(ids["msv_1"]).attributes["options"]  # type: ignore[union-attr]
    refusals = [
        ("bo_1", "maybe", "write_not_boolean", {"point": "bo_1", "value": "maybe"}),
        ("msv_1", "Nowhere", "write_not_an_option",
         {"point": "msv_1", "value": "Nowhere", "options": ", ".join(options)}),
        ("av_1", "warm", "write_not_a_number", {"point": "av_1", "value": "warm"}),
    ]  # fmt: skip
    for point, value, key, placeholders in refusals:
        with pytest.raises(ServiceValidationError) as err:
            await _write(hass, entry.entry_id, point, value)
        assert err.value.translation_key == key
        assert err.value.translation_placeholders == placeholders
    # Nothing refused reached the device.
    assert all(v is None for v in await probe.read_priority_array(bacnet_sim.address, ("binaryOutput", 1)))

    # Text a person or an automation sends for on/off, and a state by its name, are taken.
    await _write(hass, entry.entry_id, "bo_1", "ON")
    await hass.async_block_till_done()
    assert hass.states.get(ids["bo_1"]).state == "on"  # type: ignore[union-attr]
    slots = await probe.read_priority_array(bacnet_sim.address, ("binaryOutput", 1))
    assert str(slots[15]) in ("1", "active")
    await _write(hass, entry.entry_id, "msv_1", options[-1])
    await hass.async_block_till_done()
    assert hass.states.get(ids["msv_1"]).state == options[-1]  # type: ignore[union-attr]
    slots = await probe.read_priority_array(bacnet_sim.address, ("multiStateValue", 1))
    assert slots[15] == len(options)
    # Letting go of the device gives both points back to it.
    assert await hass.config_entries.async_unload(entry.entry_id)
    for object_id in (("binaryOutput", 1), ("multiStateValue", 1)):
        assert all(v is None for v in await probe.read_priority_array(bacnet_sim.address, object_id))


async def test_release_names_what_cannot_be_released(hass: HomeAssistant, bacnet_sim: SimProcess) -> None:
    entry = await add_bacnet(hass, bacnet_sim, ["AI:1", "AV:1"])
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "release_point", {"config_entry_id": entry.entry_id, "point": "ai_1"}, blocking=True
        )
    assert err.value.translation_key == "unknown_point"
    assert err.value.translation_placeholders == {"point": "ai_1", "device": entry.title}
    await hass.async_add_executor_job(bacnet_sim.stop)
    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(
            DOMAIN, "release_point", {"config_entry_id": entry.entry_id, "point": "av_1"}, blocking=True
        )
    assert failed.value.translation_key == "write_failed"
    assert failed.value.translation_placeholders is not None
    assert failed.value.translation_placeholders["point"] == "av_1"

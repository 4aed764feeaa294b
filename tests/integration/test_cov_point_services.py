"""What eaio.read_points and eaio.write_point answer for points they cannot serve: an MQTT
device's readings (pushed, read-only) and EAIO's own count of invalid readings."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.eaio.const import DOMAIN
from tests.conftest import ModbusSim, Mosquitto

from .conftest import add_device
from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt


async def test_an_mqtt_device_is_neither_read_on_demand_nor_written(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path, request: pytest.FixtureRequest
) -> None:
    await setup_mqtt(hass, mosquitto)
    entry = await add_mqtt_device(hass, f"building/{request.node.name}/sensor")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["temperature"]},
            blocking=True, return_response=True,
        )  # fmt: skip
    assert err.value.translation_key == "read_not_supported"
    assert err.value.translation_placeholders == {"device": entry.title}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "write_point", {"config_entry_id": entry.entry_id, "point": "temperature", "value": 20},
            blocking=True,
        )  # fmt: skip
    assert err.value.translation_key == "write_read_only"
    assert err.value.translation_placeholders == {"point": "temperature"}


async def test_the_invalid_readings_count_is_not_a_device_point(
    hass: HomeAssistant, building_sim: ModbusSim
) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    for service, data in (
        ("read_points", {"points": ["invalid_readings"]}),
        ("write_point", {"point": "invalid_readings", "value": 0}),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, service, {"config_entry_id": entry.entry_id, **data},
                blocking=True, return_response=service == "read_points",
            )  # fmt: skip
        assert err.value.translation_key == "unknown_point"
        assert err.value.translation_placeholders == {"point": "invalid_readings", "device": entry.title}

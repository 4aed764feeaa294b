"""eaio.read_points, eaio.write_point and the entity controls, all through the bounded path."""

from __future__ import annotations

from collections.abc import Callable
import logging

from homeassistant.auth.models import User
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.eaio.const import DOMAIN, EVENT_POINT_WRITTEN
from tests.conftest import ModbusSim

from .conftest import add_device, entity_ids


async def test_read_points_returns_decoded_values(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    response = await hass.services.async_call(
        DOMAIN, "read_points",
        {"config_entry_id": entry.entry_id, "points": ["voltage_l1", "import_energy", "frequency"]},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response is not None
    assert response["values"] == {"voltage_l1": 230.1, "frequency": 50.0, "import_energy": 12345.67}
    assert response["units"] == {"voltage_l1": "V", "frequency": "Hz", "import_energy": "kWh"}
    assert response["errors"] == {}
    assert response["requests"] == 2  # 0..1 alone; 70..75 bridges frequency and import energy
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "read_points", {"config_entry_id": entry.entry_id, "points": ["nope"]},
            blocking=True, return_response=True,
        )  # fmt: skip
    assert err.value.translation_key == "unknown_point"


async def test_write_point_accepted_logged_and_announced(
    hass: HomeAssistant,
    modbus_sim_factory: Callable[..., ModbusSim],
    hass_admin_user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    entry = await add_device(hass, sim.port, 2, "hvac_unit")
    written: list[Event] = []
    hass.bus.async_listen(EVENT_POINT_WRITTEN, written.append)
    caplog.set_level(logging.INFO, logger="custom_components.eaio")
    await hass.services.async_call(
        DOMAIN, "write_point", {"config_entry_id": entry.entry_id, "point": "cooling_setpoint", "value": 22.5},
        blocking=True, context=Context(user_id=hass_admin_user.id),
    )  # fmt: skip
    await hass.async_block_till_done()
    ids = entity_ids(hass, entry)
    assert float(hass.states.get(ids["cooling_setpoint"]).state) == 22.5  # type: ignore[union-attr]
    assert written[0].data == {
        "config_entry_id": entry.entry_id, "point": "cooling_setpoint", "value": 22.5,
        "user_id": hass_admin_user.id,
    }  # fmt: skip
    assert (
        f"writing cooling_setpoint = 22.5 (requested 22.5) at holding address 0, asked by user {hass_admin_user.id}"
        in caplog.text
    )


@pytest.mark.parametrize(
    ("point", "value", "key"),
    [
        ("cooling_setpoint", 35, "write_out_of_range"),
        ("cooling_setpoint", 22.2, "write_off_step"),
        ("zone_temperature", 20, "write_read_only"),
        ("unit_enable", "perhaps", "write_not_boolean"),
        ("no_such_point", 1, "unknown_point"),
    ],
)
async def test_write_point_refused(
    hass: HomeAssistant, building_sim: ModbusSim, point: str, value: object, key: str
) -> None:
    entry = await add_device(hass, building_sim.port, 2, "hvac_unit")
    written: list[Event] = []
    hass.bus.async_listen(EVENT_POINT_WRITTEN, written.append)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "write_point", {"config_entry_id": entry.entry_id, "point": point, "value": value},
            blocking=True,
        )  # fmt: skip
    assert err.value.translation_key == key
    assert written == []
    # The device still holds its value.
    assert float(hass.states.get(entity_ids(hass, entry)["cooling_setpoint"]).state) == 24.0  # type: ignore[union-attr]


async def test_unknown_entry(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    await add_device(hass, building_sim.port, 1, "three_phase_meter")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "write_point", {"config_entry_id": "nope", "point": "x", "value": 1}, blocking=True
        )
    assert err.value.translation_key == "unknown_entry"


async def test_number_and_switch_entities_write(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    entry = await add_device(hass, sim.port, 2, "hvac_unit")
    ids = entity_ids(hass, entry)
    await hass.services.async_call(
        "number", "set_value", {"entity_id": ids["fan_speed_setpoint"], "value": 80}, blocking=True
    )
    await hass.services.async_call("switch", "turn_off", {"entity_id": ids["unit_enable"]}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get(ids["fan_speed_setpoint"]).state == "80.0"  # type: ignore[union-attr]
    assert hass.states.get(ids["unit_enable"]).state == "off"  # type: ignore[union-attr]
    # The simulated unit follows its enable: the fan stops.
    await entry.runtime_data.async_refresh()
    assert hass.states.get(ids["fan_speed"]).state == "0"  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError):  # the number entity's own bounds
        await hass.services.async_call(
            "number", "set_value", {"entity_id": ids["fan_speed_setpoint"], "value": 10}, blocking=True
        )


async def test_write_to_unreachable_device(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    entry = await add_device(hass, sim.port, 2, "hvac_unit")
    await hass.async_add_executor_job(sim.stop)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "write_point", {"config_entry_id": entry.entry_id, "point": "cooling_setpoint", "value": 23},
            blocking=True,
        )  # fmt: skip
    assert err.value.translation_key == "write_failed"

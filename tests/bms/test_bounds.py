"""Write bounds come from the profile."""

from __future__ import annotations

import pytest

from custom_components.eaio.bms.bounds import WriteRefused, check_write
from custom_components.eaio.bms.profiles import load_catalog

HVAC = load_catalog(None).profiles["hvac_unit"]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("zone_temperature", 21, "read_only"),
        ("cooling_setpoint", 35, "out_of_range"),
        ("cooling_setpoint", 17.9, "out_of_range"),
        ("cooling_setpoint", 22.3, "off_step"),
        ("cooling_setpoint", "warm", "not_a_number"),
        ("cooling_setpoint", float("nan"), "not_a_number"),
        ("cooling_setpoint", True, "not_a_number"),
        ("unit_enable", "maybe", "not_boolean"),
    ],
)
def test_refused(key: str, value: object, reason: str) -> None:
    with pytest.raises(WriteRefused) as err:
        check_write(HVAC.by_key[key], value)
    assert err.value.reason == reason
    assert err.value.placeholders["point"] == key


def test_accepted() -> None:
    assert check_write(HVAC.by_key["cooling_setpoint"], "22.5") == 22.5
    assert check_write(HVAC.by_key["fan_speed_setpoint"], 55.0) == 55
    assert check_write(HVAC.by_key["unit_enable"], "on") is True
    assert check_write(HVAC.by_key["unit_enable"], 0) is False

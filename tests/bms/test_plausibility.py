"""Plausibility: valid ranges by profile, unit and class; counters never backwards, never too fast."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from custom_components.eaio.bms.client import ModbusDeviceClient
from custom_components.eaio.bms.planner import plan_reads
from custom_components.eaio.bms.plausibility import (
    PlausibilityChecker,
    default_range,
    excerpt,
    make_rule,
    rule_for_point,
)
from custom_components.eaio.bms.profiles import ProfileError, load_catalog, parse_profile

from .fault_modbus import FaultDevice

CATALOG = load_catalog(None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_defaults_by_unit_and_class() -> None:
    assert default_range("°C", "temperature") == (-50.0, 150.0)
    assert default_range("%", "humidity") == (0.0, 100.0)
    assert default_range(None, "power_factor") == (-1.0, 1.0)
    assert default_range("%", None) == (0.0, 100.0)
    assert default_range("kWh", "energy", counter=True) == (0.0, 1e8)
    assert default_range("furlongs", None) is None
    # A writable setpoint's own limits, widened by their span and kept inside the unit's range.
    assert default_range("°C", "temperature", write_min=18, write_max=30) == (6.0, 42.0)
    assert default_range("%", None, write_min=20, write_max=100) == (0.0, 100.0)


def test_out_of_range_and_not_finite_are_refused() -> None:
    checker = PlausibilityChecker(
        {"t": make_rule(unit="°C", device_class="temperature", state_class="measurement")}
    )
    assert checker.check("t", 21.5) is None
    assert checker.check("t", 3270.4) == "3270.4 is outside the valid range -50..150"
    assert checker.check("t", float("nan")) == "nan is not a finite number"
    assert checker.check("other", 1e12) is None  # no rule, no check
    assert checker.check("t", True) is None  # on/off readings are not numbers to range


def test_profile_valid_range_overrides_the_default() -> None:
    rule = make_rule(unit="°C", device_class="temperature", state_class=None, valid_min=-10, valid_max=60)
    checker = PlausibilityChecker({"t": rule})
    assert checker.check("t", 59.0) is None
    assert checker.check("t", 61.0) is not None


def test_counter_backwards_too_fast_and_daily_reset() -> None:
    clock = Clock()
    rule = make_rule(unit="kWh", device_class="energy", state_class="total_increasing", resolution=0.1)
    assert rule.max_rate == 1000.0  # a 1 MW site
    checker = PlausibilityChecker({"e": rule}, clock)
    assert checker.check("e", 12345.6) is None
    clock.now += 10
    assert checker.check("e", 12345.7) is None
    clock.now += 10
    assert checker.check("e", 12345.5) == "counter went backwards from 12345.7 to 12345.5"
    clock.now += 10  # 20 s since the last accepted reading: at most 5.6 kWh more
    assert checker.check("e", 214332204.8) is not None  # outside the range anyway
    assert checker.check("e", 12400.0) == "counter grew by 54.3 in 20 s, faster than 1000 per hour"
    assert checker.check("e", 12350.0) is None
    clock.now += 3600
    assert checker.check("e", 13300.0) is None  # 950 kWh in an hour is possible
    clock.now += 10
    # A daily counter resets at midnight: back to a value it could have reached from zero.
    assert checker.check("e", 0.3) is None
    clock.now += 10
    assert checker.check("e", 0.4) is None
    checker.forget("e")
    assert checker.check("e", 50.0) is None  # after a reload the next reading is the base


def test_counter_without_a_known_rate_still_never_goes_backwards() -> None:
    clock = Clock()
    checker = PlausibilityChecker(
        {"c": make_rule(unit=None, device_class=None, state_class="total_increasing")}, clock
    )
    assert checker.check("c", 100) is None
    clock.now += 1
    assert checker.check("c", 10**9) is None
    assert checker.check("c", 99) is not None
    assert checker.check("c", 0) is None  # a reset to zero


def test_profile_fields_are_validated() -> None:
    base = {"key": "e", "register": "input", "address": 0, "type": "uint32", "unit": "kWh"}
    profile = parse_profile(
        {
            "name": "m",
            "points": [{**base, "state_class": "total_increasing", "valid_max": 5e6, "max_rate": 50}],
        },
        "m.yaml",
        "m",
    )
    rule = rule_for_point(profile.points[0])
    assert rule is not None and rule.valid_max == 5e6 and rule.max_rate == 50 and rule.valid_min == 0.0
    with pytest.raises(ProfileError, match="valid_min 5 is greater than valid_max 1"):
        parse_profile({"name": "m", "points": [{**base, "valid_min": 5, "valid_max": 1}]}, "m.yaml", "m")
    with pytest.raises(ProfileError, match="max_rate must be positive and is for total_increasing"):
        parse_profile({"name": "m", "points": [{**base, "max_rate": 5}]}, "m.yaml", "m")


def test_every_shipped_numeric_point_has_a_range() -> None:
    for profile in CATALOG.profiles.values():
        for point in profile.points:
            rule = rule_for_point(point)
            if rule is None or point.key == "operating_state":
                continue
            assert rule.valid_min is not None and rule.valid_max is not None, (profile.profile_id, point.key)


def test_excerpt_is_short() -> None:
    assert excerpt("x" * 200_000).endswith("… (200002 characters)")
    assert len(excerpt("x" * 200_000)) < 100


async def test_absurd_answers_of_a_real_device_are_all_refused(
    fault_device: Callable[..., FaultDevice],
) -> None:
    """The readings the fault report saw (3270.4 °C setpoints, 32704 %, 214,332,204.8 kWh)."""
    device = fault_device("hvac_unit")
    profile = CATALOG.profiles["hvac_unit"]
    checker = PlausibilityChecker({p.key: r for p in profile.points if (r := rule_for_point(p))})
    client = ModbusDeviceClient("127.0.0.1", device.port, 1)
    try:
        plan = plan_reads(profile.points, profile.max_gap)
        good = await client.read(plan)
        assert {k: checker.check(k, v) for k, v in good.values.items()} == dict.fromkeys(good.values)
        device.set(mode="absurd")
        bad = await client.read(plan)
    finally:
        await client.close()
    assert bad.values["cooling_setpoint"] == 3270.4
    assert bad.values["fan_speed_setpoint"] == 32704
    assert bad.values["electrical_energy"] == pytest.approx(214332204.8)
    refused = {k for k, v in bad.values.items() if checker.check(k, v) is not None}
    numeric = {p.key for p in profile.points if rule_for_point(p) is not None} - set(bad.errors)
    assert refused == numeric

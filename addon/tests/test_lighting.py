"""Lighting: occupancy learned by hour of week; lights off when empty or bright enough."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from eaio_addon.engine.lighting import (
    Zone,
    daylight_from_irradiance,
    learn_weekly_profile,
    plan_lighting,
)
from eaio_addon.engine.series import HourlySeries
import numpy as np
import pytest

TZ = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 3, 2, 0, tzinfo=TZ)  # four weeks that cross the spring clock change


def office_history(weeks: int = 4) -> HourlySeries:
    """Occupied 08:00-17:00 local on weekdays, never at weekends."""
    start = MONDAY
    values = []
    n = weeks * 7 * 24
    for k in range(n):
        local = (start + timedelta(hours=k)).astimezone(TZ)
        values.append(1.0 if local.weekday() < 5 and 8 <= local.hour < 17 else 0.0)
    return HourlySeries(start, np.array(values))


def test_weekly_profile_learns_the_office_pattern_across_dst() -> None:
    profile = learn_weekly_profile(office_history(), TZ)
    assert profile.values[0, 9] == pytest.approx(1.0)
    assert profile.values[2, 16] == pytest.approx(1.0)
    assert profile.values[3, 7] == pytest.approx(0.0)
    assert profile.values[6, 12] == pytest.approx(0.0)
    # Evaluated on local hours of a later week (after the clock change).
    week = profile.at(datetime(2026, 4, 6, 0, tzinfo=TZ), 24)
    assert week[9] == pytest.approx(1.0) and week[18] == pytest.approx(0.0)


def test_sparse_cells_borrow_from_similar_days() -> None:
    history = office_history(weeks=1)
    values = history.values.copy()
    values[: 24] = np.nan  # the only Monday is missing
    profile = learn_weekly_profile(HourlySeries(history.start, values), TZ)
    assert profile.samples[0].sum() == 0
    assert profile.values[0, 10] == pytest.approx(1.0)  # from the other weekdays
    assert profile.values[0, 20] == pytest.approx(0.0)


def test_schedule_turns_lights_off_when_empty_or_bright_and_counts_the_saving() -> None:
    start = datetime(2026, 6, 1, 0, tzinfo=TZ)  # a Monday
    occupancy = learn_weekly_profile(office_history(), TZ).at(start, 24)
    ghi = np.zeros(24)
    ghi[6:20] = 600 * np.sin(np.linspace(0.1, np.pi - 0.1, 14))
    daylight = daylight_from_irradiance(ghi, 0.01)  # dim room: 1 % daylight factor
    lights_today = np.zeros(24)
    lights_today[7:19] = 1.0  # today: on from 07:00 to 19:00, whoever is there
    zone = Zone("office", light_kw=0.5, target_lux=300)
    plan = plan_lighting(start, 24, [zone], {"office": occupancy}, {"office": daylight},
                         lights_on_today={"office": lights_today})  # fmt: skip
    (z,) = plan.zones
    bright = (occupancy >= 0.1) & (daylight >= 300)
    dark_and_used = (occupancy >= 0.1) & (daylight < 300)
    np.testing.assert_array_equal(z.lights_on, dark_and_used.astype(float))
    assert z.lights_on[7] == 0.0 and z.lights_on[17] == 0.0 and z.lights_on[18] == 0.0  # empty
    expected = 0.5 * float((lights_today * (1 - z.lights_on)).sum())
    assert z.saving_kwh == pytest.approx(expected)
    assert plan.saving_kwh == pytest.approx(expected)
    codes = {a.code for a in z.actions}
    assert {"off_empty", "off_daylight"} <= codes if bright.any() else {"off_empty"} <= codes
    empty = [a for a in z.actions if a.code == "off_empty"]
    assert any("usually empty" in a.message and "17:00-19:00" in a.message for a in empty)


def test_without_switch_history_lights_are_assumed_to_follow_occupancy() -> None:
    start = datetime(2026, 6, 1, 0, tzinfo=TZ)
    occupancy = np.full(4, 0.8)
    daylight = np.array([0.0, 500.0, 500.0, 0.0])
    plan = plan_lighting(start, 4, [Zone("hall", 0.2)], {"hall": occupancy}, {"hall": daylight})
    (z,) = plan.zones
    np.testing.assert_array_equal(z.lights_on, [1, 0, 0, 1])
    assert z.saving_kwh == pytest.approx(2 * 0.8 * 0.2)
    (daylight_action,) = [a for a in z.actions if a.code == "off_daylight"]
    assert daylight_action.start == start + timedelta(hours=1)
    assert daylight_action.saving_kwh == pytest.approx(0.32)


def test_inputs_are_checked() -> None:
    start = datetime(2026, 6, 1, 0, tzinfo=TZ)
    with pytest.raises(ValueError, match="no occupancy"):
        plan_lighting(start, 2, [Zone("a", 0.1)], {}, {"a": np.zeros(2)})
    with pytest.raises(ValueError, match="gaps"):
        plan_lighting(start, 2, [Zone("a", 0.1)], {"a": np.array([0.5, np.nan])}, {"a": np.zeros(2)})
    with pytest.raises(ValueError):
        Zone("a", -1.0)
    with pytest.raises(ValueError):
        daylight_from_irradiance(np.zeros(2), 0.0)

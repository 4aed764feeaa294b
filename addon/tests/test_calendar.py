"""Local calendar features: clock changes, weekdays, holidays and cyclic encodings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from eaio_addon.engine.calendar import (
    FEATURE_NAMES,
    calendar_features,
    cyclic,
    hours_in_local_day,
    local_midnight,
    local_times,
    next_local_midnight,
)
import numpy as np
import pytest

# (zone, spring-forward day, fall-back day, hour skipped in spring, hour repeated in autumn):
# Berlin goes 02:00 -> 03:00 and back 03:00 -> 02:00; Los Angeles 02:00 -> 03:00 and 02:00 -> 01:00.
CLOCK_CHANGES = [
    ("Europe/Berlin", date(2024, 3, 31), date(2024, 10, 27), 2, 2),
    ("America/Los_Angeles", date(2024, 3, 10), date(2024, 11, 3), 2, 1),
    ("Europe/Berlin", date(2023, 3, 26), date(2023, 10, 29), 2, 2),
    ("America/Los_Angeles", date(2023, 3, 12), date(2023, 11, 5), 2, 1),
]
CHANGE_FIELDS = ("tz", "spring", "fall", "skipped", "repeated")


@pytest.mark.parametrize(CHANGE_FIELDS, CLOCK_CHANGES)
def test_spring_day_has_23_hours_and_skips_an_hour(
    tz: str, spring: date, fall: date, skipped: int, repeated: int
) -> None:
    assert hours_in_local_day(spring, tz) == 23
    cal = calendar_features(local_midnight(spring, tz), 23, tz)
    assert cal.hour.tolist() == [h for h in range(24) if h != skipped]
    assert set(cal.local_date) == {spring}


@pytest.mark.parametrize(CHANGE_FIELDS, CLOCK_CHANGES)
def test_fall_day_has_25_hours_and_repeats_an_hour(
    tz: str, spring: date, fall: date, skipped: int, repeated: int
) -> None:
    assert hours_in_local_day(fall, tz) == 25
    cal = calendar_features(local_midnight(fall, tz), 25, tz)
    assert cal.hour.tolist() == sorted([*range(24), repeated])
    assert set(cal.local_date) == {fall}
    assert cal.weekday.tolist() == [6] * 25  # both changes fall on Sundays


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Los_Angeles"])
def test_every_local_day_of_a_year_starts_at_hour_zero_and_days_add_up(tz: str) -> None:
    day, total = date(2024, 1, 1), 0
    lengths = []
    while day.year == 2024:
        hours = hours_in_local_day(day, tz)
        lengths.append(hours)
        cal = calendar_features(local_midnight(day, tz), hours, tz)
        assert cal.hour[0] == 0 and cal.hour[-1] == 23
        total += hours
        day += timedelta(days=1)
    assert sorted(set(lengths)) == [23, 24, 25]
    assert lengths.count(23) == lengths.count(25) == 1
    assert total == 366 * 24


def test_utc_days_are_always_24_hours() -> None:
    assert {hours_in_local_day(date(2024, 1, 1) + timedelta(days=i), "UTC") for i in range(366)} == {24}


def test_hour_of_day_is_local_wall_clock() -> None:
    # 2024-07-01 10:00 UTC is noon in Berlin (UTC+2) and 03:00 in Los Angeles (UTC-7).
    start = datetime(2024, 7, 1, 10, tzinfo=UTC)
    assert calendar_features(start, 1, "Europe/Berlin").hour[0] == 12
    assert calendar_features(start, 1, "America/Los_Angeles").hour[0] == 3
    winter = datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert calendar_features(winter, 1, "Europe/Berlin").hour[0] == 11
    assert calendar_features(winter, 1, "America/Los_Angeles").hour[0] == 2


def test_weekday_holidays_and_off_days() -> None:
    tz = "Europe/Berlin"
    start = local_midnight(date(2024, 12, 23), tz)  # a Monday
    cal = calendar_features(start, 7 * 24, tz, holidays={date(2024, 12, 25), date(2024, 12, 26)})
    per_day = cal.weekday[::24].tolist()
    assert per_day == [0, 1, 2, 3, 4, 5, 6]
    assert cal.holiday[::24].tolist() == [False, False, True, True, False, False, False]
    assert cal.off_day[::24].tolist() == [False, False, True, True, False, True, True]
    assert cal.day_of_year[0] == 358


def test_cyclic_encoding_joins_the_ends() -> None:
    sin, cos = cyclic(np.arange(24), 24.0)
    np.testing.assert_allclose(sin**2 + cos**2, 1.0)
    gap_midnight = np.hypot(sin[23] - sin[0], cos[23] - cos[0])
    gap_midday = np.hypot(sin[12] - sin[11], cos[12] - cos[11])
    assert gap_midnight == pytest.approx(gap_midday)
    assert np.hypot(sin[12] - sin[0], cos[12] - cos[0]) == pytest.approx(2.0)


def test_matrix_columns_match_names() -> None:
    tz = "America/Los_Angeles"
    cal = calendar_features(local_midnight(date(2024, 3, 10), tz), 23, tz)
    matrix = cal.matrix()
    assert matrix.shape == (23, len(FEATURE_NAMES))
    hour = matrix[:, FEATURE_NAMES.index("hour")]
    assert hour.tolist() == cal.hour.astype(float).tolist()
    assert matrix[:, FEATURE_NAMES.index("off_day")].tolist() == [1.0] * 23  # a Sunday


def test_next_local_midnight_and_local_times() -> None:
    tz = "Europe/Berlin"
    midnight = local_midnight(date(2024, 10, 27), tz)
    assert midnight == datetime(2024, 10, 26, 22, tzinfo=UTC)
    assert next_local_midnight(midnight, tz) == midnight
    assert next_local_midnight(midnight + timedelta(minutes=1), tz) == local_midnight(date(2024, 10, 28), tz)
    times = local_times(midnight, 25, tz)
    assert [t.utcoffset() for t in times[:3]] == [timedelta(hours=2)] * 3
    assert times[3].utcoffset() == timedelta(hours=1)

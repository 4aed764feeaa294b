"""Pattern analysis on a synthetic home whose schedule is known, across a clock change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from eaio_addon.engine.patterns import (
    always_on_waste,
    base_load,
    detect_anomalies,
    local_calendar,
    schedules,
)
from eaio_addon.engine.series import HOUR, Forecast, HourlySeries
import numpy as np
import pytest

TZ = "Europe/Berlin"
BASE_KW = 0.3


def _home(start: datetime, days: int, base: float = BASE_KW, seed: int = 3) -> HourlySeries:
    """Base load all day; weekdays 06-08 and 17-22 busy; weekends 09-22 moderately busy."""
    rng = np.random.default_rng(seed)
    series = HourlySeries(start, np.zeros(24 * days))
    cal = local_calendar(series, TZ)
    weekend = cal.weekday >= 5
    busy_weekday = ~weekend & (((cal.hour >= 6) & (cal.hour < 8)) | ((cal.hour >= 17) & (cal.hour < 22)))
    busy_weekend = weekend & (cal.hour >= 9) & (cal.hour < 22)
    values = base + rng.uniform(0.0, 0.05, len(series))
    values += np.where(busy_weekday, 1.5, 0.0) + np.where(busy_weekend, 1.0, 0.0)
    return HourlySeries(start, values)


# Three weeks spanning the spring clock change (30 March 2025 in this zone).
START = datetime(2025, 3, 16, 23, tzinfo=UTC)  # local midnight, 17 March


def test_local_calendar_handles_the_clock_change() -> None:
    cal = local_calendar(HourlySeries(datetime(2025, 3, 29, 23, tzinfo=UTC), np.zeros(26)), TZ)
    # 30 March: 00:00, 01:00, then 03:00 (02:00 does not exist); 24 UTC hours span 23 local ones.
    assert list(cal.hour[:4]) == [0, 1, 3, 4]
    assert cal.day[0] == date(2025, 3, 30) and cal.day[23] == date(2025, 3, 31)


def test_base_load_is_the_low_night_level() -> None:
    result = base_load(_home(START, 21), TZ)
    assert result.kw == pytest.approx(BASE_KW, abs=0.01)
    assert result.reasons == ("night_time_low_percentile",)
    assert result.hours_used == 21 * 4 - 1  # 02:00 on the change day never happened


def test_base_load_with_few_nights_uses_all_hours_and_says_so() -> None:
    short = HourlySeries(datetime(2025, 3, 17, 10, tzinfo=UTC), np.full(10, 0.7))
    result = base_load(short, TZ)
    assert result.kw == pytest.approx(0.7)
    assert "too_few_night_hours_used_all_hours" in result.reasons
    assert base_load(HourlySeries(START, np.full(48, np.nan)), TZ).reasons == ("no_load_data",)


def test_schedules_find_weekday_and_weekend_active_hours_across_dst() -> None:
    result = schedules(_home(START, 21), TZ)
    assert result.weekday_occupied_hours == (6, 7, 17, 18, 19, 20, 21)
    assert result.weekend_occupied_hours == tuple(range(9, 22))
    assert result.weekday_profile[18] == pytest.approx(BASE_KW + 1.5 + 0.025, abs=0.02)
    assert result.weekend_profile[3] == pytest.approx(BASE_KW + 0.025, abs=0.02)
    assert result.weekly_profile.shape == (7, 24)
    assert result.weekly_profile[5, 12] > 1.0 and result.weekly_profile[2, 12] < 0.5
    assert "weekday_active_hours_06-08_17-22" in result.reasons
    assert "weekend_active_hours_09-22" in result.reasons
    # 21 x 24 UTC hours end at 01:00 local on a 22nd day (a Monday) after the clock change.
    assert result.days_used == {"weekday": 16, "weekend": 6}
    assert result.occupied("weekday", 7) and not result.occupied("weekday", 12)


def test_holidays_count_as_weekend_days() -> None:
    load = _home(START, 21)
    result = schedules(load, TZ, holidays=[date(2025, 3, 19)])
    assert result.days_used == {"weekday": 15, "weekend": 7}


def test_a_flat_load_has_no_schedule() -> None:
    flat = HourlySeries(START, np.full(24 * 14, 0.5))
    assert schedules(flat, TZ).reasons == ("flat_profile_no_clear_schedule",)


def _forecast(start: datetime, hours: int) -> Forecast:
    return Forecast(start, np.full(hours, 1.0), np.full(hours, 0.8), np.full(hours, 1.2), method="test")


def test_anomalies_are_merged_into_events_with_their_energy() -> None:
    start = datetime(2025, 5, 1, tzinfo=UTC)
    actual = np.full(48, 1.0)
    actual[10:13] = 3.0  # three hours of something left on
    actual[30:32] = 0.0  # two hours of nothing (away, or a meter problem)
    actual[40] = 1.3  # inside the scaled band
    report = detect_anomalies(_forecast(start, 48), HourlySeries(start, actual))
    assert report.hours_flagged == 5 and report.hours_checked == 48
    high, low = report.events
    assert (high.start, high.hours, high.direction) == (start + 10 * HOUR, 3, "high")
    assert high.energy_excess_kwh == pytest.approx(6.0)
    upper = 1.0 + 0.2 * (2.326 / 1.2816)
    assert high.beyond_band_kwh == pytest.approx(3 * (3.0 - upper))
    assert high.reason == "consumption_above_forecast_band"
    assert (low.hours, low.direction) == (2, "low")
    assert low.energy_excess_kwh == pytest.approx(-2.0)
    assert "unexpected_extra_consumption" in report.reasons
    assert "unexpectedly_low_consumption" in report.reasons


def test_band_scale_one_flags_everything_outside_the_80_percent_band() -> None:
    start = datetime(2025, 5, 1, tzinfo=UTC)
    actual = np.array([1.0, 1.3, 1.3, np.nan, 1.3, 0.7])
    report = detect_anomalies(_forecast(start, 6), HourlySeries(start, actual), band_scale=1.0)
    # A gap ends a run: two events, not one.
    assert [e.hours for e in report.events] == [2, 1, 1]
    assert report.hours_checked == 5
    quiet = detect_anomalies(_forecast(start, 6), HourlySeries(start, np.ones(6)))
    assert quiet.events == () and quiet.reasons == ("consumption_within_forecast_band",)


def test_narrow_band_does_not_flag_trivial_differences() -> None:
    start = datetime(2025, 5, 1, tzinfo=UTC)
    tight = Forecast(start, np.full(4, 0.2), np.full(4, 0.2), np.full(4, 0.2), method="test")
    report = detect_anomalies(tight, HourlySeries(start, np.full(4, 0.23)))
    assert report.events == ()


def test_always_on_waste_against_the_sites_own_best_weeks() -> None:
    good = _home(START, 56, base=0.2)
    bad = _home(START + 56 * 24 * HOUR, 28, base=0.5, seed=4)
    load = HourlySeries(START, np.concatenate([good.values, bad.values]))
    result = always_on_waste(load, TZ, price_per_kwh=0.30)
    assert result.reference_source == "site_best_weeks"
    assert result.reference_kw == pytest.approx(0.2, abs=0.01)
    assert result.base_kw == pytest.approx(0.5, abs=0.01)
    assert result.excess_kw == pytest.approx(0.3, abs=0.02)
    assert result.kwh_per_year == pytest.approx(result.excess_kw * 8766)
    assert result.cost_per_year == pytest.approx(result.kwh_per_year * 0.30)
    assert "base_load_above_reference" in result.reasons
    assert "more_than_a_quarter_of_base_load_is_avoidable" in result.reasons


def test_always_on_waste_with_a_configured_reference_and_hourly_prices() -> None:
    load = _home(START, 28, base=0.25)
    price = HourlySeries(START, np.where(np.arange(24 * 28) % 24 < 12, 0.2, 0.4))
    result = always_on_waste(load, TZ, reference_kw=0.4, price_per_kwh=price)
    assert result.reference_source == "configured"
    assert result.excess_kw == 0.0 and result.kwh_per_year == 0.0
    assert result.price_per_kwh == pytest.approx(0.3)
    assert result.reasons == ("base_load_at_or_below_reference",)
    short = always_on_waste(_home(START, 14), TZ)
    assert "history_too_short_for_a_site_reference" in short.reasons and short.cost_per_year is None


def test_zone_objects_work_as_well_as_names() -> None:
    assert base_load(_home(START, 7), ZoneInfo(TZ)).kw == pytest.approx(base_load(_home(START, 7), TZ).kw)

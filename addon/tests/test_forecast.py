"""Load forecaster: recovers a known pattern, never looks ahead, falls back, tolerates gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from eaio_addon.engine.calendar import calendar_features, hours_in_local_day, local_midnight
from eaio_addon.engine.forecast import (
    GRADIENT_BOOSTING,
    SEASONAL_NAIVE,
    LoadForecaster,
    seasonal_naive,
    training_pairs,
)
from eaio_addon.engine.series import HOUR, FloatArray, Forecast, HourlySeries
import numpy as np
import pytest

TZ = "Europe/Berlin"
FIRST_DAY = date(2024, 2, 5)  # a Monday; the clock springs forward on day 55 (31 March)
DAYS = 84
HEATING_KWH_PER_K = 0.06  # load added per kelvin below 14 degC
SPRING_DAY = 55


@dataclass(frozen=True)
class Home:
    """A synthetic home: noisy load, its noise-free truth and the weather behind it."""

    load: HourlySeries
    truth: FloatArray
    weather: dict[str, HourlySeries]

    def day(self, n: int) -> datetime:
        return local_midnight(FIRST_DAY + timedelta(days=n), TZ)

    def before(self, when: datetime) -> tuple[HourlySeries, dict[str, HourlySeries]]:
        hours = self.load.index_of(when)
        return self.load.window(self.load.start, hours), {
            k: v.window(v.start, hours) for k, v in self.weather.items()
        }

    def truth_at(self, start: datetime, hours: int) -> FloatArray:
        offset = self.load.index_of(start)
        return self.truth[offset : offset + hours]


def shape(hour: FloatArray, off_day: FloatArray) -> FloatArray:
    """Morning and evening peaks on a base load; weekends add a midday bump."""
    daily = 0.4 + 0.5 * np.exp(-(((hour - 7.5) / 1.5) ** 2)) + 0.9 * np.exp(-(((hour - 19.0) / 2.5) ** 2))
    return daily + off_day * 0.5 * np.exp(-(((hour - 12.5) / 3.0) ** 2))


@cache
def home(seed: int = 1, noise: float = 0.1) -> Home:
    """Daily and weekly shape on the local clock, heating below 14 degC, multiplicative noise."""
    rng = np.random.default_rng(seed)
    start = local_midnight(FIRST_DAY, TZ)
    n = sum(hours_in_local_day(FIRST_DAY + timedelta(days=d), TZ) for d in range(DAYS))
    cal = calendar_features(start, n, TZ)
    t = np.arange(n, dtype=np.float64)
    weather_noise = np.convolve(rng.normal(0.0, 1.0, n + 47), np.ones(48) / np.sqrt(48), mode="valid")
    temperature = 6.0 + 0.09 * t / 24 + 4.0 * np.sin(2 * np.pi * (cal.hour - 9) / 24) + 2.5 * weather_noise
    truth = shape(cal.hour.astype(float), cal.off_day.astype(float))
    truth = truth + HEATING_KWH_PER_K * np.maximum(14.0 - temperature, 0.0)
    load = np.maximum(truth * (1.0 + noise * rng.standard_normal(n)), 0.0)
    return Home(HourlySeries(start, load), truth, {"temperature": HourlySeries(start, temperature)})


def mape(actual: FloatArray, forecast: FloatArray) -> float:
    return float(np.mean(np.abs(actual - forecast) / actual))


def day_ahead(forecaster: LoadForecaster, h: Home, first: int, days: int) -> list[tuple[Forecast, datetime]]:
    """Feed a day, forecast the next from its midnight with that day's weather."""
    out = []
    for d in range(first, first + days):
        start, hours = h.day(d), hours_in_local_day(FIRST_DAY + timedelta(days=d), TZ)
        if d > first:
            previous = h.day(d - 1)
            length = int((start - previous) / HOUR)
            forecaster.update(h.load.window(previous, length), {"temperature": h.weather["temperature"].window(previous, length)})
        out.append((forecaster.predict(start, hours, {"temperature": h.weather["temperature"].window(start, hours)}), start))
    return out


@pytest.fixture(scope="module")
def trained() -> LoadForecaster:
    h = home()
    load, weather = h.before(h.day(63))
    return LoadForecaster(tz=TZ).fit(load, weather)


def test_recovers_the_known_pattern(trained: LoadForecaster) -> None:
    h = home()
    start = h.day(63)
    forecast = trained.predict(start, 24, {"temperature": h.weather["temperature"].window(start, 24)})
    assert trained.method == forecast.method == GRADIENT_BOOSTING
    assert forecast.notes == ()
    truth = h.truth_at(start, 24)
    naive = seasonal_naive(h.load, start, 24)
    # 10 % noise on every hour, drifting weather: within 8 % of the truth, and far nearer
    # to it than last week's values are.
    assert mape(truth, forecast.p50) < 0.08
    assert mape(truth, forecast.p50) < 0.5 * mape(truth, naive.p50)
    # Peaks on the local clock: 07:00-08:00 and 19:00 local (UTC+2 after the spring change).
    hour = calendar_features(start, 24, TZ).hour
    assert hour[int(np.argmax(forecast.p50))] in (18, 19, 20)
    assert hour[int(np.argmax(forecast.p50[:12]))] in (7, 8)


def test_temperature_effect_is_learned(trained: LoadForecaster) -> None:
    h = home()
    start = h.day(63)
    actual = h.weather["temperature"].window(start, 24)
    colder = HourlySeries(start, actual.values - 4.0)
    warm = trained.predict(start, 24, {"temperature": actual}).p50
    cold = trained.predict(start, 24, {"temperature": colder}).p50
    expected = HEATING_KWH_PER_K * (np.maximum(14.0 - colder.values, 0) - np.maximum(14.0 - actual.values, 0))
    assert np.mean(cold - warm) == pytest.approx(float(np.mean(expected)), rel=0.5)


def test_forecast_uses_nothing_at_or_after_start() -> None:
    h = home()
    start = h.day(60) + 5 * HOUR  # intra-day issue time, not only midnight
    rng = np.random.default_rng(7)
    cut = h.load.index_of(start)
    corrupted = h.load.values.copy()
    corrupted[cut:] = rng.uniform(0, 50, corrupted.size - cut)
    hot = h.weather["temperature"].values.copy()
    hot[cut:] = 40.0
    forecast_weather = {"temperature": h.weather["temperature"].window(start, 30)}

    honest = LoadForecaster(tz=TZ).fit(h.load, h.weather).predict(start, 30, forecast_weather)
    spoiled = LoadForecaster(tz=TZ).fit(HourlySeries(h.load.start, corrupted),
                                        {"temperature": HourlySeries(h.load.start, hot)})  # fmt: skip
    spoiled_forecast = spoiled.predict(start, 30, forecast_weather)
    past_only = LoadForecaster(tz=TZ).fit(*h.before(start)).predict(start, 30, forecast_weather)
    for name in ("p10", "p50", "p90"):
        np.testing.assert_array_equal(getattr(honest, name), getattr(spoiled_forecast, name))
        np.testing.assert_array_equal(getattr(honest, name), getattr(past_only, name))
    assert any("retrained on data before start" in note for note in honest.notes)


def test_training_pairs_never_let_a_lag_reach_the_issue_time() -> None:
    cal = calendar_features(local_midnight(date(2024, 10, 20), TZ), 24 * 14, TZ)  # a 25-hour day inside
    for block in (1, 2, 3):
        target, issue = training_pairs(cal.hour, block, 2, np.random.default_rng(0))
        ahead = target - issue + 1
        assert ahead.min() > 24 * (block - 1) and ahead.max() <= 24 * block
        assert np.all(target - 24 * block < issue)  # the nearest lag is before the issue time


def test_short_history_falls_back_to_seasonal_naive() -> None:
    h = home()
    start = h.day(10)
    forecaster = LoadForecaster(tz=TZ).fit(*h.before(start))
    assert forecaster.method == SEASONAL_NAIVE
    forecast = forecaster.predict(start, 24)
    assert forecast.method == SEASONAL_NAIVE
    assert "fewer than 14" in forecast.notes[0]
    week_ago = h.load.window(start - 168 * HOUR, 24).values
    np.testing.assert_allclose(forecast.p50, week_ago)
    assert np.all(forecast.p10 <= forecast.p50) and np.all(forecast.p50 <= forecast.p90)
    assert np.all(forecast.p90 > forecast.p10)


def test_seasonal_naive_with_less_than_a_week_uses_yesterday_and_notes_it() -> None:
    h = home()
    start = h.day(4)
    forecast = LoadForecaster(tz=TZ).fit(*h.before(start)).predict(start, 24)
    np.testing.assert_allclose(forecast.p50, h.load.window(start - 24 * HOUR, 24).values)
    assert any("earlier days" in note for note in forecast.notes)


def test_seasonal_naive_repeats_past_a_period_and_skips_gaps() -> None:
    h = home()
    start = h.day(30)
    values = h.load.values.copy()
    gap = h.load.index_of(start - 168 * HOUR)
    values[gap : gap + 6] = np.nan  # last week's first six hours are missing
    load = HourlySeries(h.load.start, values)
    forecast = seasonal_naive(load, start, 200)
    expected = h.load.window(start - 168 * HOUR, 168).values
    np.testing.assert_allclose(forecast.p50[6:168], expected[6:])
    np.testing.assert_allclose(forecast.p50[:6], h.load.window(start - 336 * HOUR, 6).values)
    np.testing.assert_allclose(forecast.p50[168:200], forecast.p50[:32])  # hours past a week repeat it
    assert forecast.method == SEASONAL_NAIVE


def test_seasonal_naive_needs_some_history() -> None:
    h = home()
    with pytest.raises(ValueError, match="no load history"):
        seasonal_naive(h.load, h.load.start, 24)


def test_gaps_are_tolerated() -> None:
    h = home()
    start = h.day(63)
    rng = np.random.default_rng(3)
    values = h.load.values.copy()
    values[rng.random(values.size) < 0.1] = np.nan  # one hour in ten lost
    cut = h.load.index_of(start)
    values[cut - 30 : cut] = np.nan  # and the 30 hours right before the issue time
    values[cut - 400 : cut - 300] = np.nan
    load = HourlySeries(h.load.start, values[:cut])
    weather = {"temperature": h.weather["temperature"].window(h.load.start, cut - 50)}  # stops early
    forecaster = LoadForecaster(tz=TZ).fit(load, weather)
    forecast = forecaster.predict(start, 48, {"temperature": h.weather["temperature"].window(start, 48)})
    assert np.all(np.isfinite(forecast.p50)) and np.all(np.isfinite(forecast.p10))
    assert mape(h.truth_at(start, 48), forecast.p50) < 0.12


def test_band_is_ordered_non_negative_and_calibrated() -> None:
    h = home(seed=2, noise=0.25)
    start = h.day(49)
    forecaster = LoadForecaster(tz=TZ).fit(*h.before(start))
    forecasts = day_ahead(forecaster, h, 49, 21)
    inside, total = 0, 0
    for forecast, issued in forecasts:
        assert np.all(forecast.p10 >= 0.0)
        assert np.all(forecast.p10 <= forecast.p50) and np.all(forecast.p50 <= forecast.p90)
        actual = h.load.window(issued, len(forecast)).values
        inside += int(np.sum((actual >= forecast.p10) & (actual <= forecast.p90)))
        total += actual.size
    assert 0.7 <= inside / total <= 0.9
    assert {len(f) for f, _ in forecasts} >= {23, 24}  # the spring day is inside


def test_spring_and_autumn_days_forecast_every_local_hour() -> None:
    h = home()
    spring = h.day(SPRING_DAY)
    forecaster = LoadForecaster(tz=TZ).fit(*h.before(spring))
    forecast = forecaster.predict(spring, 23, {"temperature": h.weather["temperature"].window(spring, 23)})
    assert len(forecast) == 23
    assert mape(h.truth_at(spring, 23), forecast.p50) < 0.1
    # A 25-hour horizon needs the second lag block: it is trained on demand.
    longer = forecaster.predict(spring, 49)
    assert len(longer) == 49 and np.all(np.isfinite(longer.p50))
    assert any("no forecast given for temperature" in note for note in longer.notes)


def test_update_refits_on_schedule() -> None:
    h = home()
    start = h.day(40)
    forecaster = LoadForecaster(tz=TZ, refit_every_hours=72).fit(*h.before(start))
    first_model = forecaster._models[(1, ("temperature",))]
    forecaster.update(h.load.window(start, 24), {"temperature": h.weather["temperature"].window(start, 24)})
    assert forecaster._models[(1, ("temperature",))] is first_model  # one day: kept
    later = start + 72 * HOUR
    forecaster.update(h.load.window(start + 24 * HOUR, 48),
                      {"temperature": h.weather["temperature"].window(start + 24 * HOUR, 48)})  # fmt: skip
    assert forecaster._models[(1, ("temperature",))] is not first_model  # three days: refit
    forecast = forecaster.predict(later, 24, {"temperature": h.weather["temperature"].window(later, 24)})
    assert mape(h.truth_at(later, 24), forecast.p50) < 0.08


def test_short_history_grows_into_a_model() -> None:
    h = home()
    forecaster = LoadForecaster(tz=TZ).fit(*h.before(h.day(10)))
    assert forecaster.method == SEASONAL_NAIVE
    forecaster.update(h.load.window(h.day(10), 24 * 6))
    assert forecaster.method == GRADIENT_BOOSTING
    assert forecaster.predict(h.day(16), 24).method == GRADIENT_BOOSTING


def test_loads_are_never_forecast_below_zero() -> None:
    h = home()
    start = h.day(40)
    values = h.load.values.copy()
    values[values < 0.8] = 0.0  # a home that is often fully off
    load = HourlySeries(h.load.start, values).window(h.load.start, h.load.index_of(start))
    forecast = LoadForecaster(tz=TZ).fit(load).predict(start, 24)
    assert np.all(forecast.p10 >= 0.0) and np.all(forecast.p50 >= 0.0)


def test_interface_checks() -> None:
    with pytest.raises(ValueError, match="quantiles"):
        LoadForecaster(quantiles=(0.2, 0.4, 0.9))
    with pytest.raises(TypeError, match="unknown model options"):
        LoadForecaster(depth=3)
    with pytest.raises(RuntimeError):
        LoadForecaster().predict(home().day(20), 24)
    with pytest.raises(ValueError, match="timezone-aware"):
        LoadForecaster().fit(home().load).predict(datetime(2024, 3, 1), 24)


def test_a_home_only_yesterday_explains_is_forecast_no_worse_than_yesterday() -> None:
    """Each day repeats yesterday with a drift no calendar or profile input carries: the
    simple rule is the best forecast, and the combination chosen on held-out weeks finds it."""
    rng = np.random.default_rng(7)
    days = 50
    profile = np.empty((days, 24))
    profile[0] = 1.0 + rng.random(24)
    for d in range(1, days):
        profile[d] = np.clip(profile[d - 1] + rng.normal(0.0, 0.4, 24), 0.1, None)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    load = HourlySeries(start, profile.ravel())
    errors: list[float] = []
    naive_errors: list[float] = []
    notes: list[str] = []
    for d in (46, 47, 48, 49):
        at = start + d * 24 * HOUR
        forecast = LoadForecaster(tz="UTC").fit(HourlySeries(start, load.values[: d * 24])).predict(at, 24)
        actual = profile[d]
        errors.append(float(np.mean((actual - forecast.p50) ** 2)))
        naive_errors.append(float(np.mean((actual - profile[d - 1]) ** 2)))
        notes.extend(forecast.notes)
    assert np.mean(errors) <= 1.05 * np.mean(naive_errors)
    assert any("same hour yesterday" in n for n in notes)

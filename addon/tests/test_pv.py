"""PV forecast: solar geometry, clear-sky shape, the learned irradiance response, fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math

from eaio_addon.engine.pv import (
    PvForecaster,
    clear_sky_ghi,
    cloud_cover_from_ghi,
    cos_zenith,
    ghi_from_cloud_cover,
)
from eaio_addon.engine.series import HOUR, HourlySeries
import numpy as np
import pytest

LAT, LON = 48.1, 11.6  # a mid-latitude site east of Greenwich: solar noon near 11:14 UTC


def _zenith_deg(when: datetime, lat: float, lon: float) -> float:
    cz = cos_zenith(np.array([when.timestamp()], dtype=np.float64), lat, lon)[0]
    return math.degrees(math.acos(cz))


def test_noon_zenith_matches_latitude_minus_declination() -> None:
    # June solstice, Greenwich meridian: solar noon is about 12:02 UTC, declination +23.44°.
    assert _zenith_deg(datetime(2025, 6, 21, 12, 2, tzinfo=UTC), 40.0, 0.0) == pytest.approx(40 - 23.44, abs=0.3)
    # December solstice in the southern hemisphere: the sun is nearly overhead at the tropic.
    assert _zenith_deg(datetime(2025, 12, 21, 11, 58, tzinfo=UTC), -23.44, 0.0) == pytest.approx(0.0, abs=0.5)
    # Equinox on the equator.
    assert _zenith_deg(datetime(2025, 3, 20, 12, 7, tzinfo=UTC), 0.0, 0.0) == pytest.approx(0.0, abs=0.6)


def test_solar_noon_follows_longitude() -> None:
    day = datetime(2025, 3, 20, tzinfo=UTC)
    minutes = np.arange(24 * 60, dtype=np.float64) * 60.0 + day.timestamp()
    for lon, noon_utc_hours in ((0.0, 12.12), (-120.0, 20.12), (150.0, 2.12)):
        peak = minutes[int(np.argmax(cos_zenith(minutes, 10.0, lon)))]
        hours = ((peak - day.timestamp()) / 3600.0) % 24
        assert hours == pytest.approx(noon_utc_hours, abs=0.1)


def test_clear_sky_is_zero_at_night_and_day_length_follows_season() -> None:
    summer = clear_sky_ghi(datetime(2025, 6, 21, tzinfo=UTC), 24, LAT, LON).values
    winter = clear_sky_ghi(datetime(2025, 12, 21, tzinfo=UTC), 24, LAT, LON).values
    assert summer[22] == 0.0 and summer[0] == 0.0  # local midnight
    assert 15 <= np.count_nonzero(summer) <= 17  # ~16 h of daylight plus partial hours
    assert 8 <= np.count_nonzero(winter) <= 10
    assert summer.max() > 850 and winter.max() < 450
    assert int(np.argmax(summer)) in (10, 11)  # the hour containing solar noon (11:14 UTC)
    south = clear_sky_ghi(datetime(2025, 12, 21, tzinfo=UTC), 24, -LAT, LON).values
    assert np.count_nonzero(south) >= 15  # the southern summer


def test_cloud_cover_conversion_round_trips() -> None:
    cs = np.full(5, 800.0)
    cover = np.array([0.0, 20.0, 50.0, 80.0, 100.0])
    ghi = ghi_from_cloud_cover(cs, cover)
    assert ghi[0] == pytest.approx(800.0) and ghi[-1] == pytest.approx(200.0)
    assert np.all(np.diff(ghi) < 0)
    assert cloud_cover_from_ghi(cs, ghi)[1:] == pytest.approx(cover[1:], abs=0.5)
    assert np.isnan(cloud_cover_from_ghi(np.array([5.0]), np.array([1.0]))[0])  # night: unknown


def _synthetic_site(days: int, seed: int = 1, west_facing: bool = False) -> tuple[HourlySeries, dict[str, HourlySeries]]:
    """A 4 kW array driven by known physics, with day-to-day cloudiness."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 4, 1, tzinfo=UTC)
    hours = 24 * days
    cs = clear_sky_ghi(start, hours, LAT, LON).values
    k = np.repeat(rng.uniform(0.25, 1.0, days), 24)
    ghi = cs * k
    utc_hour = np.arange(hours) % 24
    temp = 12 + 8 * np.sin((utc_hour - 8) / 24 * 2 * np.pi) + rng.normal(0, 1, hours)
    cell = temp + 0.03 * ghi
    gain = 0.0038 * (1.0 + (0.05 * (utc_hour - 11) if west_facing else 0.0))
    pv = np.clip(gain * ghi * (1 - 0.004 * (cell - 25)), 0, None) * rng.normal(1.0, 0.02, hours)
    weather = {"solar": HourlySeries(start, ghi), "temperature": HourlySeries(start, temp)}
    return HourlySeries(start, pv), weather


def _split(series: HourlySeries, at: int) -> tuple[HourlySeries, HourlySeries]:
    return series.window(series.start, at), series.window(series.start + at * HOUR, len(series) - at)


@pytest.mark.parametrize("west_facing", [False, True])
def test_weather_regression_recovers_the_site_response(west_facing: bool) -> None:
    pv, weather = _synthetic_site(67, west_facing=west_facing)
    train_hours = 24 * 60
    history, future = _split(pv, train_hours)
    forecaster = PvForecaster(LAT, LON, capacity_kw=4.0).fit(
        history, {k: v.window(pv.start, train_hours) for k, v in weather.items()}
    )
    forecast = forecaster.predict(future.start, len(future), weather)
    assert forecast.method == "irradiance_regression"
    daylight = future.values > 0.05
    error = forecast.p50[daylight] - future.values[daylight]
    assert np.sqrt(np.mean(error**2)) / np.mean(future.values[daylight]) < 0.06
    assert np.all(forecast.p10 <= forecast.p50) and np.all(forecast.p50 <= forecast.p90)
    assert np.all(forecast.p90 <= 4.0)
    inside = (future.values >= forecast.p10 - 1e-9) & (future.values <= forecast.p90 + 1e-9)
    assert inside[daylight].mean() > 0.6


def test_without_weather_the_clear_sky_shape_is_scaled_by_recent_history() -> None:
    pv, _ = _synthetic_site(40)
    forecaster = PvForecaster(LAT, LON).fit(pv)
    start = pv.end
    forecast = forecaster.predict(start, 48)
    assert forecast.method == "clear_sky_history"
    cs = clear_sky_ghi(start, 48, LAT, LON).values
    assert np.all(forecast.p50[cs == 0] == 0)
    assert int(np.argmax(forecast.p90[:24])) in (10, 11, 12)
    assert np.all(forecast.p10 <= forecast.p50) and np.all(forecast.p50 <= forecast.p90)
    # The median day yields about the median of the recent days.
    recent_daily = pv.values[-24 * 21 :].reshape(21, 24).sum(axis=1)
    assert forecast.p50[:24].sum() == pytest.approx(np.median(recent_daily), rel=0.2)
    assert forecast.p90[:24].sum() <= recent_daily.max() * 1.1


def test_cloud_cover_drives_the_forecast_when_there_is_no_irradiance() -> None:
    pv, weather = _synthetic_site(40)
    forecaster = PvForecaster(LAT, LON).fit(pv, weather)
    start = pv.end
    clear = forecaster.predict(start, 24, {"cloud_cover": HourlySeries(start, np.full(24, 0.0))})
    overcast = forecaster.predict(start, 24, {"cloud_cover": HourlySeries(start, np.full(24, 100.0))})
    assert clear.method == "cloud_cover_regression"
    assert overcast.p50.sum() < 0.5 * clear.p50.sum()


def test_hours_without_weather_fall_back_to_clear_sky() -> None:
    pv, weather = _synthetic_site(40)
    forecaster = PvForecaster(LAT, LON).fit(pv, weather)
    start = pv.end
    solar = clear_sky_ghi(start, 48, LAT, LON).values.copy()
    solar[24:] = np.nan
    forecast = forecaster.predict(start, 48, {"solar": HourlySeries(start, solar)})
    assert forecast.method == "irradiance_regression"
    assert any("clear-sky" in note for note in forecast.notes)
    assert forecast.p50[24:].sum() > 0


def test_new_site_uses_nameplate_or_says_it_cannot() -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    nameplate = PvForecaster(LAT, LON, capacity_kw=5.0).predict(start, 24)
    assert nameplate.method == "clear_sky_nameplate"
    assert 0 < nameplate.p50.max() < 5.0
    nothing = PvForecaster(LAT, LON).predict(start, 24)
    assert nothing.method == "no_history" and nothing.p50.sum() == 0 and nothing.notes


def test_history_with_gaps_and_negative_readings_is_tolerated() -> None:
    pv, weather = _synthetic_site(30)
    values = pv.values.copy()
    values[100:160] = np.nan
    values[300] = -0.1  # inverter standby draw
    forecaster = PvForecaster(LAT, LON).fit(HourlySeries(pv.start, values), weather)
    forecast = forecaster.predict(pv.end, 24, {k: v.window(pv.end - 24 * HOUR, 48) for k, v in weather.items()})
    assert np.all(np.isfinite(forecast.p50)) and forecast.p50.min() >= 0


def test_rejects_impossible_coordinates() -> None:
    with pytest.raises(ValueError):
        PvForecaster(95.0, 0.0)


def test_dst_has_no_effect_because_hours_are_utc() -> None:
    pv, weather = _synthetic_site(40)
    forecaster = PvForecaster(LAT, LON).fit(pv, weather)
    # Around the European clock change on 26 October the UTC-hour gains keep the shape.
    start = datetime(2025, 10, 25, tzinfo=UTC)
    forecast = forecaster.predict(start, 72)
    peaks = [int(np.argmax(forecast.p50[d * 24 : (d + 1) * 24])) for d in range(3)]
    assert len(set(peaks)) == 1
    assert timedelta(hours=peaks[0]) < timedelta(hours=13)

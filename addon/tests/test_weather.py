"""Weather: provider fallback order, cache, last-good reuse, gap filling, and the parsers.

The sample payloads below are written by hand from each source's documented format.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from eaio_addon.engine.pv import clear_sky_ghi
from eaio_addon.engine.series import HOUR, HourlySeries
from eaio_addon.engine.weather import (
    CLOUD_COVER,
    HUMIDITY,
    SOLAR,
    TEMPERATURE,
    HomeAssistantWeather,
    LocalStationWeather,
    NwsWeather,
    OpenMeteoWeather,
    WeatherConfig,
    WeatherService,
    WeatherUnavailable,
    build_providers,
    fill_gaps,
    hourly_means,
    parse_home_assistant_forecast,
    parse_iso_interval,
    parse_nws_hourly,
    parse_open_meteo,
)
import numpy as np
import pytest

LAT, LON = 34.1, -117.4
START = datetime(2025, 7, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeProvider:
    """Returns a temperature ramp (so shifted copies can be told apart), or fails."""

    def __init__(self, name: str, *, fail: bool = False, offset: float = 0.0, empty: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.empty = empty
        self.offset = offset
        self.calls: list[tuple[datetime, int]] = []

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        self.calls.append((start, hours))
        if self.fail:
            raise ConnectionError("unreachable")
        if self.empty:
            return {TEMPERATURE: HourlySeries(start, np.full(hours, np.nan))}
        base = (start - START) / HOUR
        temp = self.offset + 20 + 5 * np.sin(2 * np.pi * (base + np.arange(hours)) / 24)
        return {TEMPERATURE: HourlySeries(start, temp), HUMIDITY: HourlySeries(start, np.full(hours, 40.0))}


def _service(*providers: FakeProvider, clock: Clock | None = None, **kwargs: Any) -> WeatherService:
    return WeatherService(list(providers), latitude=LAT, longitude=LON, clock=clock or Clock(START), **kwargs)


# --- the service ------------------------------------------------------------------------------


async def test_providers_are_tried_in_priority_order() -> None:
    first, second, third = FakeProvider("a", fail=True), FakeProvider("b", offset=100), FakeProvider("c")
    result = await _service(first, second, third).fetch(START, 24)
    assert result.source == "b"
    assert len(first.calls) == 1 and len(second.calls) == 1 and third.calls == []
    assert result.series[TEMPERATURE].values[0] == pytest.approx(120.0)
    assert result.errors and "unreachable" in result.errors[0]


async def test_a_provider_with_no_usable_data_counts_as_failed() -> None:
    result = await _service(FakeProvider("empty", empty=True), FakeProvider("real")).fetch(START, 24)
    assert result.source == "real"
    assert any("no usable data" in e for e in result.errors)


async def test_cache_serves_within_ttl_and_refetches_after() -> None:
    clock = Clock(START)
    provider = FakeProvider("a")
    service = _service(provider, clock=clock, ttl=timedelta(minutes=30))
    await service.fetch(START, 48)
    clock.now += timedelta(minutes=10)
    cached = await service.fetch(START + 6 * HOUR, 24)  # inside the cached window
    assert cached.from_cache and len(provider.calls) == 1
    assert cached.series[TEMPERATURE].start == START + 6 * HOUR
    await service.fetch(START, 72)  # reaches past the cached window
    assert len(provider.calls) == 2
    clock.now += timedelta(minutes=31)
    again = await service.fetch(START, 24)
    assert not again.from_cache and len(provider.calls) == 3


async def test_last_good_forecast_is_reused_shifted_when_all_fail() -> None:
    clock = Clock(START)
    provider = FakeProvider("a")
    service = _service(provider, clock=clock, ttl=timedelta(minutes=30))
    first = await service.fetch(START, 48)
    provider.fail = True
    clock.now += timedelta(hours=20)
    later = START + 36 * HOUR
    result = await service.fetch(later, 48)
    assert result.stale and result.source == "last_good:a"
    temp = result.series[TEMPERATURE].values
    old = first.series[TEMPERATURE].values
    # Hours the old forecast covers are kept; later hours repeat its last day's cycle.
    assert temp[:12] == pytest.approx(old[36:48])
    assert temp[12:36] == pytest.approx(old[24:48])
    assert np.isfinite(temp).all()
    clock.now += timedelta(days=5)
    with pytest.raises(WeatherUnavailable):
        await service.fetch(later, 24)


async def test_no_forecast_at_all_raises() -> None:
    with pytest.raises(WeatherUnavailable, match="unreachable"):
        await _service(FakeProvider("a", fail=True)).fetch(START, 24)
    with pytest.raises(WeatherUnavailable):
        await _service().fetch(START, 24)


async def test_the_service_is_itself_a_provider() -> None:
    inner = _service(FakeProvider("a"))
    outer = _service(FakeProvider("broken", fail=True), inner)  # type: ignore[arg-type]
    series = await outer.forecast(START, 24)
    assert TEMPERATURE in series and outer.last_result is not None
    assert outer.last_result.source == "service"


# --- gap filling ------------------------------------------------------------------------------


def test_temperature_gaps_are_linear_and_ends_follow_the_daily_cycle() -> None:
    temp = 20 + 5 * np.sin(2 * np.pi * np.arange(72) / 24)
    holed = temp.copy()
    holed[10:14] = np.nan
    holed[60:] = np.nan
    filled, counts = fill_gaps({TEMPERATURE: HourlySeries(START, holed)}, START, 72, LAT, LON)
    out = filled[TEMPERATURE].values
    assert out[10:14] == pytest.approx(np.linspace(holed[9], holed[14], 6)[1:-1])
    assert out[60:] == pytest.approx(temp[36:48])  # same hours one day earlier
    assert counts[TEMPERATURE] == 16
    assert SOLAR not in filled  # nothing known about the sun: nothing invented


def test_solar_gaps_follow_the_clear_sky_shape() -> None:
    cs = clear_sky_ghi(START, 48, LAT, LON).values
    solar = 0.6 * cs
    holed = solar.copy()
    holed[24:48] = np.nan  # the whole second day
    holed[17:20] = np.nan  # a few midday hours (local morning is UTC afternoon here)
    filled, _ = fill_gaps({SOLAR: HourlySeries(START, holed)}, START, 48, LAT, LON)
    out = filled[SOLAR].values
    assert out == pytest.approx(solar, abs=1.0)
    assert np.all(out[cs == 0] == 0)
    assert CLOUD_COVER in filled and np.isfinite(filled[CLOUD_COVER].values).all()


def test_solar_comes_from_cloud_cover_when_only_cloud_is_known() -> None:
    cs = clear_sky_ghi(START, 24, LAT, LON).values
    cloud = np.full(24, 100.0)
    filled, _ = fill_gaps({CLOUD_COVER: HourlySeries(START, cloud)}, START, 24, LAT, LON)
    assert filled[SOLAR].values == pytest.approx(0.25 * cs)


def test_humidity_is_clipped_and_a_provider_window_is_respected() -> None:
    humidity = np.array([90.0, np.nan, 110.0] + [50.0] * 21)
    filled, _ = fill_gaps({HUMIDITY: HourlySeries(START - HOUR, humidity)}, START, 12, LAT, LON)
    assert filled[HUMIDITY].values.max() <= 100.0
    assert len(filled[HUMIDITY]) == 12


# --- Home Assistant ---------------------------------------------------------------------------

HA_RESPONSE: dict[str, Any] = {
    "weather.home": {
        "forecast": [
            {"datetime": "2025-07-01T00:00:00+00:00", "condition": "sunny", "temperature": 77.0,
             "humidity": 40, "cloud_coverage": 10, "precipitation": 0.0, "wind_speed": 8.0},
            {"datetime": "2025-06-30T18:00:00-07:00", "condition": "cloudy", "temperature": 75.2,
             "humidity": 45, "precipitation": 0.0},
            {"datetime": "2025-07-01T02:00:00Z", "condition": "partlycloudy", "temperature": 73.4,
             "humidity": 50, "cloud_coverage": 35},
            {"datetime": "not a time", "temperature": 1.0},
            "garbage",
        ]
    }
}  # fmt: skip


def test_home_assistant_forecast_parsing() -> None:
    series = parse_home_assistant_forecast(HA_RESPONSE, START, 6, temperature_unit="°F")
    temp = series[TEMPERATURE].values
    assert temp[:3] == pytest.approx([25.0, 24.0, 23.0])
    assert np.isnan(temp[3:]).all()
    assert series[HUMIDITY].values[:3] == pytest.approx([40, 45, 50])
    # The second hour has no coverage figure: its condition stands in.
    assert series[CLOUD_COVER].values[:3] == pytest.approx([10, 95, 35])


def test_home_assistant_accepts_one_entity_or_a_bare_list() -> None:
    items = HA_RESPONSE["weather.home"]["forecast"]
    by_entity = parse_home_assistant_forecast({"weather.other": {"forecast": []}, **HA_RESPONSE},
                                              START, 3, entity_id="weather.home")  # fmt: skip
    assert np.isfinite(by_entity[TEMPERATURE].values).all()
    assert TEMPERATURE in parse_home_assistant_forecast({"forecast": items}, START, 3)
    assert TEMPERATURE in parse_home_assistant_forecast(items, START, 3)
    with pytest.raises(ValueError):
        parse_home_assistant_forecast("nonsense", START, 3)


async def test_home_assistant_provider_in_a_service() -> None:
    async def get_forecasts() -> Mapping[str, Any]:
        return HA_RESPONSE

    provider = HomeAssistantWeather(get_forecasts, entity_id="weather.home", temperature_unit="°F")
    result = await _service(provider).fetch(START, 3)  # type: ignore[arg-type]
    assert result.source == "home_assistant"
    # No irradiance from the entity: it is derived from cloud cover on the clear-sky shape.
    assert SOLAR in result.series


# --- the hourly-array API ---------------------------------------------------------------------

T0 = int(START.timestamp())
OPEN_METEO_UNIXTIME: dict[str, Any] = {
    "latitude": 34.1, "longitude": -117.4, "generationtime_ms": 0.5, "utc_offset_seconds": 0,
    "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 300.0,
    "hourly_units": {"time": "unixtime", "temperature_2m": "°C", "relative_humidity_2m": "%",
                     "cloud_cover": "%", "shortwave_radiation": "W/m²"},
    "hourly": {
        "time": [T0 + 3600 * i for i in range(4)],
        "temperature_2m": [20.0, 21.5, None, 23.0],
        "relative_humidity_2m": [60, 58, 55, 50],
        "cloud_cover": [0, 10, 20, 30],
        "shortwave_radiation": [0.0, 100.0, 300.0, 500.0],
    },
}  # fmt: skip


def test_open_meteo_parsing_shifts_radiation_to_the_hour_it_averages() -> None:
    series = parse_open_meteo(OPEN_METEO_UNIXTIME, START, 4)
    temp = series[TEMPERATURE].values
    assert temp[[0, 1, 3]] == pytest.approx([20.0, 21.5, 23.0]) and np.isnan(temp[2])
    # The value stamped 01:00 is the mean of 00:00-01:00, the hour starting at START.
    assert series[SOLAR].values[:3] == pytest.approx([100.0, 300.0, 500.0])
    assert np.isnan(series[SOLAR].values[3])
    assert series[CLOUD_COVER].values == pytest.approx([0, 10, 20, 30])


def test_open_meteo_local_iso_times_and_fahrenheit() -> None:
    payload = {
        "utc_offset_seconds": -25200,
        "hourly_units": {"temperature_2m": "°F"},
        "hourly": {"time": ["2025-06-30T17:00", "2025-06-30T18:00"], "temperature_2m": [68.0, 69.8]},
    }
    series = parse_open_meteo(payload, START, 2)
    assert series[TEMPERATURE].values == pytest.approx([20.0, 21.0])
    with pytest.raises(ValueError):
        parse_open_meteo({"error": True}, START, 2)


async def test_open_meteo_provider_requests_the_right_window() -> None:
    seen: list[tuple[str, Mapping[str, Any]]] = []

    async def fetch_json(url: str, params: Mapping[str, Any]) -> Any:
        seen.append((url, params))
        return OPEN_METEO_UNIXTIME

    provider = OpenMeteoWeather(fetch_json, LAT, LON, clock=Clock(START + 5 * HOUR))
    series = await provider.forecast(START, 4)
    url, params = seen[0]
    assert url.endswith("/v1/forecast")
    assert params["timeformat"] == "unixtime" and "shortwave_radiation" in params["hourly"]
    assert params["past_days"] == 1  # the radiation value before START is yesterday's
    assert params["forecast_days"] == 1
    assert SOLAR in series
    assert provider.params(START, 72)["forecast_days"] == 4


async def test_open_meteo_error_reply_fails_over() -> None:
    async def fetch_json(url: str, params: Mapping[str, Any]) -> Any:
        return {"error": True, "reason": "Latitude must be in range"}

    result = await _service(OpenMeteoWeather(fetch_json, LAT, LON), FakeProvider("b")).fetch(START, 4)  # type: ignore[arg-type]
    assert result.source == "b" and "Latitude" in result.errors[0]


# --- the gridpoint forecast -------------------------------------------------------------------

NWS_POINTS = {
    "properties": {
        "gridId": "SGX", "gridX": 55, "gridY": 60,
        "forecast": "https://api.weather.gov/gridpoints/SGX/55,60/forecast",
        "forecastHourly": "https://api.weather.gov/gridpoints/SGX/55,60/forecast/hourly",
        "forecastGridData": "https://api.weather.gov/gridpoints/SGX/55,60",
    }
}  # fmt: skip
NWS_HOURLY = {
    "properties": {
        "units": "us",
        "periods": [
            {"number": 1, "name": "", "startTime": "2025-06-30T17:00:00-07:00", "endTime": "2025-06-30T18:00:00-07:00",
             "isDaytime": True, "temperature": 86, "temperatureUnit": "F",
             "probabilityOfPrecipitation": {"unitCode": "wmoUnit:percent", "value": 0},
             "dewpoint": {"unitCode": "wmoUnit:degC", "value": 10.0},
             "relativeHumidity": {"unitCode": "wmoUnit:percent", "value": 30},
             "windSpeed": "10 mph", "windDirection": "W", "shortForecast": "Mostly Sunny"},
            {"number": 2, "startTime": "2025-06-30T18:00:00-07:00", "endTime": "2025-06-30T19:00:00-07:00",
             "temperature": {"unitCode": "wmoUnit:degC", "value": 29.0},
             "relativeHumidity": {"unitCode": "wmoUnit:percent", "value": 35}, "shortForecast": "Partly Cloudy"},
            {"number": 3, "startTime": "2025-06-30T19:00:00-07:00", "endTime": "2025-06-30T20:00:00-07:00",
             "temperature": 80, "temperatureUnit": "F",
             "relativeHumidity": {"unitCode": "wmoUnit:percent", "value": 40}, "shortForecast": "Cloudy"},
        ],
    }
}  # fmt: skip
NWS_GRID = {
    "properties": {
        "skyCover": {"uom": "wmoUnit:percent", "values": [
            {"validTime": "2025-07-01T00:00:00+00:00/PT2H", "value": 12},
            {"validTime": "2025-07-01T02:00:00+00:00/PT1H", "value": 70},
        ]},
        "temperature": {"uom": "wmoUnit:degC", "values": [{"validTime": "2025-07-01T00:00:00+00:00/PT3H", "value": 30}]},
    }
}  # fmt: skip


def test_iso_intervals() -> None:
    assert parse_iso_interval("2025-07-01T00:00:00+00:00/PT3H") == (START, 3)
    assert parse_iso_interval("2025-07-01T00:00:00+00:00/P1DT2H") == (START, 26)
    assert parse_iso_interval("2025-07-01T00:00:00+00:00/PT30M") == (START, 1)
    assert parse_iso_interval("garbage/PT1H") is None
    assert parse_iso_interval("2025-07-01T00:00:00+00:00/1H") is None


def test_nws_hourly_periods_parsing() -> None:
    series = parse_nws_hourly(NWS_HOURLY, START, 4)
    assert series[TEMPERATURE].values[:3] == pytest.approx([30.0, 29.0, 26.666667])
    assert series[HUMIDITY].values[:3] == pytest.approx([30, 35, 40])
    assert series[CLOUD_COVER].values[:3] == pytest.approx([20, 50, 100])
    with pytest.raises(ValueError):
        parse_nws_hourly({"properties": {}}, START, 4)


def _nws_fetch(grid_ok: bool = True) -> tuple[Any, list[str]]:
    calls: list[str] = []

    async def fetch_json(url: str, params: Mapping[str, Any]) -> Any:
        calls.append(url)
        if "/points/" in url:
            return NWS_POINTS
        if url.endswith("/forecast/hourly"):
            return NWS_HOURLY
        if not grid_ok:
            raise ConnectionError("grid down")
        return NWS_GRID

    return fetch_json, calls


async def test_nws_provider_prefers_numeric_sky_cover() -> None:
    fetch_json, calls = _nws_fetch()
    provider = NwsWeather(fetch_json, LAT, LON)
    series = await provider.forecast(START, 4)
    assert calls[0] == "https://api.weather.gov/points/34.1000,-117.4000"
    assert series[CLOUD_COVER].values[:3] == pytest.approx([12, 12, 70])
    await provider.forecast(START, 4)
    assert sum("/points/" in c for c in calls) == 1  # the gridpoint is looked up once


async def test_nws_provider_falls_back_to_words_when_grid_data_fails() -> None:
    fetch_json, _ = _nws_fetch(grid_ok=False)
    series = await NwsWeather(fetch_json, LAT, LON).forecast(START, 4)
    assert series[CLOUD_COVER].values[:3] == pytest.approx([20, 50, 100])


# --- the local station ------------------------------------------------------------------------


async def test_local_station_continues_the_daily_cycle() -> None:
    hours = 72
    history_start = START - hours * HOUR
    cycle = 20 + 6 * np.sin(2 * np.pi * np.arange(hours) / 24)
    temp = cycle.copy()
    temp[-1] += 3.0  # warmer than usual right now
    cs = clear_sky_ghi(history_start, hours, LAT, LON).values

    async def history() -> Mapping[str, Any]:
        return {
            TEMPERATURE: HourlySeries(history_start, temp),
            SOLAR: HourlySeries(history_start, 0.5 * cs),
            # Humidity as raw sensor updates, several per hour.
            HUMIDITY: [(history_start + timedelta(minutes=20 * i), 50.0 + (i % 3)) for i in range(3 * hours)],
        }

    provider = LocalStationWeather(history, LAT, LON, decay_hours=6.0)
    series = await provider.forecast(START, 48)
    forecast = series[TEMPERATURE].values
    expected = 20 + 6 * np.sin(2 * np.pi * np.arange(hours, hours + 48) / 24)
    # The anomaly has decayed; the hour it occurred at carries a third of it in the 3-day cycle.
    assert np.delete(forecast[24:], 23) == pytest.approx(np.delete(expected[24:], 23), abs=0.1)
    assert forecast[47] - expected[47] == pytest.approx(1.0, abs=0.1)
    assert forecast[0] - expected[0] > 1.5  # still warm an hour later
    assert series[SOLAR].values == pytest.approx(0.5 * clear_sky_ghi(START, 48, LAT, LON).values, rel=0.01, abs=0.5)
    assert series[HUMIDITY].values == pytest.approx(51.0, abs=0.5)


def test_hourly_means_of_irregular_readings() -> None:
    readings = [(START + timedelta(minutes=m), v) for m, v in ((5, 1.0), (40, 3.0), (130, 5.0))]
    series = hourly_means(readings)
    assert series is not None
    assert series.values[0] == 2.0 and np.isnan(series.values[1]) and series.values[2] == 5.0
    assert hourly_means([]) is None


# --- configuration ----------------------------------------------------------------------------


def test_network_providers_are_off_unless_switched_on() -> None:
    async def fetch_json(url: str, params: Mapping[str, Any]) -> Any:
        raise AssertionError("no network in tests")

    async def get_forecasts() -> Any:
        return {}

    config = WeatherConfig(latitude=LAT, longitude=LON)
    providers = build_providers(config, get_forecasts=get_forecasts, fetch_json=fetch_json)
    assert [type(p).__name__ for p in providers] == ["HomeAssistantWeather"]
    everything = build_providers(
        WeatherConfig(latitude=LAT, longitude=LON, open_meteo=True, nws=True, local_station=True),
        get_forecasts=get_forecasts,
        fetch_json=fetch_json,
        station_history=get_forecasts,
    )
    assert [type(p).__name__ for p in everything] == [
        "HomeAssistantWeather", "OpenMeteoWeather", "NwsWeather", "LocalStationWeather"]  # fmt: skip

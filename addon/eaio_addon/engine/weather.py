"""Weather forecasts from several providers behind one interface, with fallback and a cache.

Every provider answers ``await provider.forecast(start, hours)`` with hourly series under the
keys ``temperature`` (°C), ``humidity`` (%), ``solar`` (global horizontal irradiance, W/m²)
and ``cloud_cover`` (%); a provider leaves out what it does not know. :class:`WeatherService`
asks them in priority order, caches the answer for a while, reuses the last good forecast
when all of them fail, and fills gaps so that callers get complete series where anything is
known at all.

Network providers take an injected ``fetch_json(url, params)`` coroutine: the engine itself
never opens a connection, so it can be tested offline and the add-on decides how (and
whether) to reach the internet. They are off unless configured (:func:`build_providers`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import math
import re
from typing import Any, Protocol

import numpy as np

from .pv import clear_sky_ghi, cloud_cover_from_ghi, ghi_from_cloud_cover
from .series import HOUR, FloatArray, HourlySeries

_LOGGER = logging.getLogger(__name__)

TEMPERATURE = "temperature"
HUMIDITY = "humidity"
SOLAR = "solar"
CLOUD_COVER = "cloud_cover"
KEYS = (TEMPERATURE, HUMIDITY, SOLAR, CLOUD_COVER)

_DAY = 20.0  # W/m² of clear-sky irradiance below which the clear-sky index is meaningless

FetchJson = Callable[[str, Mapping[str, Any]], Awaitable[Any]]
Clock = Callable[[], datetime]


class WeatherProvider(Protocol):
    """Anything that can forecast hourly weather for the site."""

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]: ...


class WeatherUnavailable(RuntimeError):
    """No provider answered and there is no earlier forecast to fall back on."""


def _now() -> datetime:
    return datetime.now(UTC)


def floor_hour(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def _number(value: Any) -> float:
    """A float from a JSON number (or numeric string); NaN for null and anything else."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        result = float(value)
    except (TypeError, ValueError):
        return math.nan
    return result if math.isfinite(result) else math.nan


def _parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or epoch seconds; None if unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a local time without its offset cannot be placed safely
    return parsed.astimezone(UTC)


class _Grid:
    """Collects (time, key, value) points onto the requested hourly window."""

    def __init__(self, start: datetime, hours: int) -> None:
        self.start = floor_hour(start)
        self.hours = hours
        self.data: dict[str, FloatArray] = {}

    def put(self, key: str, when: datetime, value: float, span_hours: int = 1) -> None:
        if not math.isfinite(value):
            return
        index = int((floor_hour(when) - self.start) / HOUR)
        lo, hi = max(0, index), min(self.hours, index + max(1, span_hours))
        if hi <= lo:
            return
        self.data.setdefault(key, np.full(self.hours, np.nan))[lo:hi] = value

    def series(self) -> dict[str, HourlySeries]:
        return {k: HourlySeries(self.start, v) for k, v in self.data.items() if np.isfinite(v).any()}


# --- Home Assistant weather entities ---------------------------------------------------------

# When an entity gives a condition but no cloud coverage, a typical cover for that condition
# still tells the PV forecast much more than nothing.
CONDITION_CLOUD_COVER: dict[str, float] = {
    "sunny": 5.0, "clear-night": 5.0, "partlycloudy": 50.0, "cloudy": 95.0, "fog": 100.0,
    "rainy": 90.0, "pouring": 100.0, "snowy": 95.0, "snowy-rainy": 95.0, "hail": 95.0,
    "lightning": 85.0, "lightning-rainy": 95.0, "windy": 30.0, "windy-variant": 60.0,
    "exceptional": 80.0,
}  # fmt: skip


def parse_home_assistant_forecast(
    response: Any, start: datetime, hours: int, *, entity_id: str | None = None, temperature_unit: str = "°C"
) -> dict[str, HourlySeries]:
    """Hourly series from a ``weather.get_forecasts`` response.

    Accepts the full service response ``{entity_id: {"forecast": [...]}}``, one entity's
    ``{"forecast": [...]}`` or the bare list. Each item has ``datetime`` (ISO 8601) and any of
    ``temperature``, ``humidity``, ``cloud_coverage`` and ``condition``. A forecast coarser
    than hourly leaves gaps that the service interpolates.
    """
    items: Any = response
    if isinstance(items, Mapping) and "forecast" not in items:
        if entity_id is not None and entity_id in items:
            items = items[entity_id]
        elif items:
            items = next(iter(items.values()))
    if isinstance(items, Mapping):
        items = items.get("forecast", [])
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise ValueError("not a weather forecast response")
    fahrenheit = temperature_unit.strip().upper() in ("°F", "F", "FAHRENHEIT")
    grid = _Grid(start, hours)
    for item in items:
        if not isinstance(item, Mapping):
            continue
        when = _parse_time(item.get("datetime"))
        if when is None:
            continue
        temp = _number(item.get("temperature"))
        grid.put(TEMPERATURE, when, _fahrenheit_to_celsius(temp) if fahrenheit else temp)
        grid.put(HUMIDITY, when, _number(item.get("humidity")))
        cover = _number(item.get("cloud_coverage"))
        if math.isnan(cover):
            cover = CONDITION_CLOUD_COVER.get(str(item.get("condition", "")), math.nan)
        grid.put(CLOUD_COVER, when, cover)
    return grid.series()


class HomeAssistantWeather:
    """A Home Assistant weather entity, read through the add-on's link to Home Assistant.

    ``get_forecasts`` is a coroutine returning the ``weather.get_forecasts`` response for the
    entity with ``type: hourly``. ``temperature_unit`` is the entity's unit (the response
    does not carry it).
    """

    name = "home_assistant"

    def __init__(
        self,
        get_forecasts: Callable[[], Awaitable[Any]],
        *,
        entity_id: str | None = None,
        temperature_unit: str = "°C",
    ) -> None:
        self._get_forecasts = get_forecasts
        self.entity_id = entity_id
        self.temperature_unit = temperature_unit

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        response = await self._get_forecasts()
        return parse_home_assistant_forecast(
            response, start, hours, entity_id=self.entity_id, temperature_unit=self.temperature_unit
        )


# --- a public hourly-array forecast API --------------------------------------------------------

OPEN_METEO_URL = "https://api.open-meteo.com/v1/forecast"
OPEN_METEO_HOURLY = ("temperature_2m", "relative_humidity_2m", "cloud_cover", "shortwave_radiation")


def parse_open_meteo(payload: Mapping[str, Any], start: datetime, hours: int) -> dict[str, HourlySeries]:
    """Hourly series from a forecast response with ``hourly`` arrays.

    ``hourly.time`` holds epoch seconds (``timeformat=unixtime``) or ISO local times that
    ``utc_offset_seconds`` turns into UTC. Temperature, humidity and cloud cover are values at
    the stated instant, placed in the hour that starts then. ``shortwave_radiation`` is the
    mean of the *preceding* hour, so the value stamped ``t`` belongs to the hour starting
    ``t - 1 h``.
    """
    hourly = payload.get("hourly")
    if not isinstance(hourly, Mapping) or not isinstance(hourly.get("time"), Sequence):
        raise ValueError("response has no hourly arrays")
    offset_seconds = _number(payload.get("utc_offset_seconds"))
    offset = timedelta(seconds=offset_seconds if math.isfinite(offset_seconds) else 0.0)
    units = payload.get("hourly_units")
    unit = str(units.get("temperature_2m", "°C")) if isinstance(units, Mapping) else "°C"
    fahrenheit = "F" in unit.upper()
    times: list[datetime | None] = []
    for raw in hourly["time"]:
        if isinstance(raw, str) and _parse_time(raw) is None:
            try:
                local = datetime.fromisoformat(raw)
            except ValueError:
                times.append(None)
                continue
            times.append((local - offset).replace(tzinfo=UTC))
        else:
            times.append(_parse_time(raw))
    grid = _Grid(start, hours)
    columns = {
        TEMPERATURE: ("temperature_2m", timedelta(0)),
        HUMIDITY: ("relative_humidity_2m", timedelta(0)),
        CLOUD_COVER: ("cloud_cover", timedelta(0)),
        SOLAR: ("shortwave_radiation", -HOUR),
    }
    for key, (column, shift) in columns.items():
        values = hourly.get(column)
        if not isinstance(values, Sequence):
            continue
        for when, raw in zip(times, values, strict=False):
            value = _number(raw)
            if when is None:
                continue
            if key == TEMPERATURE and fahrenheit:
                value = _fahrenheit_to_celsius(value)
            grid.put(key, when + shift, value)
    return grid.series()


class OpenMeteoWeather:
    """A public forecast API that returns hourly arrays for a latitude/longitude (no key)."""

    name = "open_meteo"

    def __init__(
        self,
        fetch_json: FetchJson,
        latitude: float,
        longitude: float,
        *,
        url: str = OPEN_METEO_URL,
        clock: Clock = _now,
    ) -> None:
        self._fetch = fetch_json
        self.latitude = latitude
        self.longitude = longitude
        self.url = url
        self._clock = clock

    def params(self, start: datetime, hours: int) -> dict[str, Any]:
        """Query covering ``[start - 1 h, start + hours]`` (the hour before for radiation)."""
        today = floor_hour(self._clock()).replace(hour=0)
        first = floor_hour(start) - HOUR
        last = floor_hour(start) + hours * HOUR
        past_days = max(0, math.ceil((today - first) / timedelta(days=1)))
        forecast_days = max(1, (last - today) // timedelta(days=1) + 1)
        return {
            "latitude": round(self.latitude, 4),
            "longitude": round(self.longitude, 4),
            "hourly": ",".join(OPEN_METEO_HOURLY),
            "timeformat": "unixtime",
            "timezone": "GMT",
            "past_days": min(past_days, 92),
            "forecast_days": min(forecast_days, 16),
        }

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        payload = await self._fetch(self.url, self.params(start, hours))
        if not isinstance(payload, Mapping):
            raise ValueError("response is not a JSON object")
        if payload.get("error"):
            raise RuntimeError(f"forecast API error: {payload.get('reason', 'unknown')}")
        return parse_open_meteo(payload, start, hours)


# --- a national weather service's gridpoint forecast ------------------------------------------

NWS_URL = "https://api.weather.gov"

# The hourly periods describe the sky in words (clear 0/8, mostly clear 1-2/8, partly cloudy
# 3-5/8, mostly cloudy 6-7/8, cloudy 8/8); these are typical covers for those words, used
# when the gridpoint's numeric sky cover is unavailable. Longer phrases are matched first.
SHORT_FORECAST_CLOUD_COVER: tuple[tuple[str, float], ...] = (
    ("mostly sunny", 20.0), ("mostly clear", 20.0), ("partly sunny", 50.0), ("partly cloudy", 50.0),
    ("mostly cloudy", 80.0), ("sunny", 5.0), ("clear", 5.0), ("overcast", 100.0), ("cloudy", 100.0),
    ("fog", 100.0), ("thunderstorm", 85.0), ("showers", 80.0), ("drizzle", 95.0), ("rain", 90.0),
    ("snow", 95.0),
)  # fmt: skip

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_iso_interval(value: str) -> tuple[datetime, int] | None:
    """``"2024-06-01T13:00:00+00:00/PT3H"`` → (start in UTC, whole hours covered)."""
    head, _, tail = value.partition("/")
    start = _parse_time(head)
    match = _DURATION.match(tail.strip())
    if start is None or match is None:
        return None
    days, hrs, mins, secs = (int(g) if g else 0 for g in match.groups())
    total = days * 24 + hrs + (mins * 60 + secs) / 3600.0
    return start, max(1, round(total))


def _quantity(value: Any) -> tuple[float, str]:
    """(value, unit code) from a bare number or a ``{"unitCode", "value"}`` object."""
    if isinstance(value, Mapping):
        return _number(value.get("value")), str(value.get("unitCode", ""))
    return _number(value), ""


def parse_nws_hourly(payload: Mapping[str, Any], start: datetime, hours: int) -> dict[str, HourlySeries]:
    """Hourly series from a gridpoint's hourly forecast (``properties.periods``).

    Each period has ``startTime``/``endTime`` (ISO 8601 with offset), ``temperature`` (a number
    with ``temperatureUnit`` "F" or "C", or a quantity object), ``relativeHumidity`` (quantity,
    %) and ``shortForecast`` (words, mapped to a typical sky cover).
    """
    properties = payload.get("properties")
    periods = properties.get("periods") if isinstance(properties, Mapping) else None
    if not isinstance(periods, Sequence):
        raise ValueError("response has no forecast periods")
    grid = _Grid(start, hours)
    for period in periods:
        if not isinstance(period, Mapping):
            continue
        begin, end = _parse_time(period.get("startTime")), _parse_time(period.get("endTime"))
        if begin is None:
            continue
        span = max(1, round((end - begin) / HOUR)) if end is not None else 1
        temp, unit = _quantity(period.get("temperature"))
        unit = unit or str(period.get("temperatureUnit", "F"))
        if unit.upper().endswith("F") or "DEGF" in unit.upper():
            temp = _fahrenheit_to_celsius(temp)
        grid.put(TEMPERATURE, begin, temp, span)
        grid.put(HUMIDITY, begin, _quantity(period.get("relativeHumidity"))[0], span)
        words = str(period.get("shortForecast", "")).lower()
        cover = next((c for phrase, c in SHORT_FORECAST_CLOUD_COVER if phrase in words), math.nan)
        grid.put(CLOUD_COVER, begin, cover, span)
    return grid.series()


def parse_nws_sky_cover(payload: Mapping[str, Any], start: datetime, hours: int) -> HourlySeries | None:
    """Sky cover (%) from a gridpoint's raw layers: ``properties.skyCover.values`` of
    ``{"validTime": "<start>/<ISO 8601 duration>", "value": n}``."""
    properties = payload.get("properties")
    layer = properties.get("skyCover") if isinstance(properties, Mapping) else None
    values = layer.get("values") if isinstance(layer, Mapping) else None
    if not isinstance(values, Sequence):
        return None
    grid = _Grid(start, hours)
    for item in values:
        if not isinstance(item, Mapping) or not isinstance(item.get("validTime"), str):
            continue
        interval = parse_iso_interval(item["validTime"])
        if interval is not None:
            grid.put(CLOUD_COVER, interval[0], _number(item.get("value")), interval[1])
    return grid.series().get(CLOUD_COVER)


class NwsWeather:
    """A national weather service's gridpoint forecast (covers the United States only).

    Looks up the gridpoint for the site once (``/points/{lat},{lon}``), then reads its hourly
    forecast periods and, for numeric sky cover, the gridpoint's raw layers. The service asks
    clients to send an identifying User-Agent: that is the injected ``fetch_json``'s job.
    """

    name = "nws"

    def __init__(
        self, fetch_json: FetchJson, latitude: float, longitude: float, *, base_url: str = NWS_URL
    ) -> None:
        self._fetch = fetch_json
        self.latitude = latitude
        self.longitude = longitude
        self.base_url = base_url.rstrip("/")
        self._hourly_url: str | None = None
        self._grid_url: str | None = None

    async def _endpoints(self) -> tuple[str, str | None]:
        if self._hourly_url is None:
            points = await self._fetch(f"{self.base_url}/points/{self.latitude:.4f},{self.longitude:.4f}", {})
            properties = points.get("properties") if isinstance(points, Mapping) else None
            hourly = properties.get("forecastHourly") if isinstance(properties, Mapping) else None
            if not isinstance(hourly, str):
                raise ValueError("gridpoint lookup gave no hourly forecast address")
            self._hourly_url = hourly
            grid = properties.get("forecastGridData") if isinstance(properties, Mapping) else None
            self._grid_url = grid if isinstance(grid, str) else None
        return self._hourly_url, self._grid_url

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        hourly_url, grid_url = await self._endpoints()
        payload = await self._fetch(hourly_url, {})
        if not isinstance(payload, Mapping):
            raise ValueError("response is not a JSON object")
        result = parse_nws_hourly(payload, start, hours)
        if grid_url is not None:
            try:
                sky = parse_nws_sky_cover(await self._fetch(grid_url, {}), start, hours)
            except Exception as err:  # the words-based cover from the periods still stands
                _LOGGER.debug("gridpoint sky cover unavailable: %s", err)
                sky = None
            if sky is not None:
                merged = sky.values.copy()
                if CLOUD_COVER in result:
                    merged = np.where(np.isfinite(merged), merged, result[CLOUD_COVER].values)
                result[CLOUD_COVER] = HourlySeries(sky.start, merged)
        return result


# --- a local weather station's sensors --------------------------------------------------------

Readings = Mapping[str, HourlySeries | Sequence[tuple[datetime, float]]]


def hourly_means(readings: Sequence[tuple[datetime, float]]) -> HourlySeries | None:
    """Mean of the readings falling in each hour (irregular sensor updates → hourly series)."""
    points = [(floor_hour(t), float(v)) for t, v in readings if math.isfinite(float(v))]
    if not points:
        return None
    first = min(t for t, _ in points)
    size = int((max(t for t, _ in points) - first) / HOUR) + 1
    total, count = np.zeros(size), np.zeros(size)
    for t, v in points:
        i = int((t - first) / HOUR)
        total[i] += v
        count[i] += 1
    with np.errstate(invalid="ignore"):
        return HourlySeries(first, np.where(count > 0, total / np.maximum(count, 1), np.nan))


class LocalStationWeather:
    """Persistence forecast from a local station's recent readings, with the diurnal shape.

    ``history`` returns recent readings per key (an hourly series, or (time, value) pairs as
    sensors report them). Temperature and humidity continue the recent days' mean daily cycle,
    with the current departure from that cycle decaying over ``decay_hours``; irradiance keeps
    the recent clear-sky index on the clear-sky shape. Good for a day, crude beyond.
    """

    name = "local_station"

    def __init__(
        self,
        history: Callable[[], Awaitable[Readings]],
        latitude: float,
        longitude: float,
        *,
        days: int = 3,
        decay_hours: float = 6.0,
    ) -> None:
        self._history = history
        self.latitude = latitude
        self.longitude = longitude
        self.days = days
        self.decay_hours = decay_hours

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        readings = await self._history()
        start = floor_hour(start)
        result: dict[str, HourlySeries] = {}
        for key in (TEMPERATURE, HUMIDITY):
            series = self._hourly(readings.get(key))
            if series is not None:
                result[key] = self._persist_cycle(series, start, hours, key)
        solar = self._hourly(readings.get(SOLAR))
        if solar is not None:
            index = self._clear_sky_index(solar)
            if index is not None:
                cs = clear_sky_ghi(start, hours, self.latitude, self.longitude).values
                result[SOLAR] = HourlySeries(start, cs * index)
                result[CLOUD_COVER] = HourlySeries(start, cloud_cover_from_ghi(cs, cs * index))
        if not result:
            raise ValueError("the station has no recent readings")
        return result

    @staticmethod
    def _hourly(raw: Any) -> HourlySeries | None:
        if raw is None:
            return None
        series = raw if isinstance(raw, HourlySeries) else hourly_means(list(raw))
        if series is None or not np.isfinite(series.values).any():
            return None
        return series

    def _persist_cycle(self, series: HourlySeries, start: datetime, hours: int, key: str) -> HourlySeries:
        finite = np.flatnonzero(np.isfinite(series.values))
        last_i = int(finite[-1])
        last_time, last_value = series.start + last_i * HOUR, float(series.values[last_i])
        recent = series.window(last_time - (24 * self.days - 1) * HOUR, 24 * self.days)
        values = recent.values
        hours_of = (np.array([t.hour for t in recent.timestamps()]))
        mean = float(np.nanmean(values))
        cycle = np.zeros(24)
        if np.isfinite(values).sum() >= 18:  # enough of a day to see the cycle
            for h in range(24):
                sel = values[hours_of == h]
                cycle[h] = float(np.nanmean(sel)) - mean if np.isfinite(sel).any() else 0.0
        anomaly = last_value - (mean + cycle[last_time.hour])
        out = np.empty(hours)
        for i in range(hours):
            t = start + i * HOUR
            lead = max(0.0, (t - last_time) / HOUR)
            out[i] = mean + cycle[t.hour] + anomaly * math.exp(-lead / self.decay_hours)
        if key == HUMIDITY:
            out = np.clip(out, 0.0, 100.0)
        return HourlySeries(start, out)

    def _clear_sky_index(self, solar: HourlySeries) -> float | None:
        recent = solar.window(solar.end - 24 * HOUR * self.days, 24 * self.days)
        cs = clear_sky_ghi(recent.start, len(recent), self.latitude, self.longitude).values
        usable = np.isfinite(recent.values) & (cs > 50.0)
        if usable.sum() < 3:
            return None
        # Weight the most recent day double: cloudiness persists over hours, not days.
        weights = np.where(np.arange(len(cs)) >= len(cs) - 24, 2.0, 1.0)[usable]
        ratio = np.sum(weights * recent.values[usable]) / np.sum(weights * cs[usable])
        return float(np.clip(ratio, 0.0, 1.1))


# --- gap filling ------------------------------------------------------------------------------


def _interp_linear(values: FloatArray) -> FloatArray:
    """Linear interpolation across interior gaps; edges untouched (NaN)."""
    out = values.copy()
    known = np.flatnonzero(np.isfinite(values))
    if known.size >= 2:
        inner = np.arange(known[0], known[-1] + 1)
        out[inner] = np.interp(inner, known, values[known])
    return out


def _fill_edges_by_day(values: FloatArray) -> FloatArray:
    """Edge gaps take the value at the same hour on the nearest day with data, else the
    nearest value: beyond the end of a forecast, yesterday's cycle beats a flat line."""
    out = values.copy()
    known = np.flatnonzero(np.isfinite(values))
    if known.size == 0:
        return out
    first, last = int(known[0]), int(known[-1])
    for i in np.flatnonzero(np.isnan(values)):
        if first < i < last:
            continue  # an interior gap: the caller's interpolation's business
        j = int(i - 24 * math.ceil((i - last) / 24)) if i > last else int(i + 24 * math.ceil((first - i) / 24))
        inside = first <= j <= last and math.isfinite(values[j])
        out[i] = values[j] if inside else values[last if i > last else first]
    return out


def fill_gaps(
    data: Mapping[str, HourlySeries], start: datetime, hours: int, latitude: float, longitude: float
) -> tuple[dict[str, HourlySeries], dict[str, int]]:
    """Complete series on ``[start, start + hours)`` and how many hours of each were filled.

    Temperature and humidity: linear in time across gaps, the nearest day's cycle past the
    ends. Solar: from cloud cover where that is known (Kasten-Czeplak on the clear-sky shape),
    otherwise the clear-sky index interpolated in time times the clear-sky shape, so a gap
    follows the sun instead of a straight line through the night. Cloud cover: from the
    irradiance in daylight, linear otherwise. A key with no data at all stays absent.
    """
    cs = clear_sky_ghi(start, hours, latitude, longitude).values
    out: dict[str, FloatArray] = {k: s.window(start, hours).values.copy() for k, s in data.items() if k in KEYS}
    filled: dict[str, int] = {}
    for key in (TEMPERATURE, HUMIDITY):
        if key in out and np.isfinite(out[key]).any():
            before = np.isnan(out[key])
            out[key] = _fill_edges_by_day(_interp_linear(out[key]))
            if key == HUMIDITY:
                out[key] = np.clip(out[key], 0.0, 100.0)
            filled[key] = int(before.sum())
    solar = out.get(SOLAR, np.full(hours, np.nan))
    cloud = out.get(CLOUD_COVER, np.full(hours, np.nan))
    solar_missing, cloud_missing = np.isnan(solar), np.isnan(cloud)
    if np.isfinite(solar).any() or np.isfinite(cloud).any():
        from_cloud = ghi_from_cloud_cover(cs, _fill_edges_by_day(_interp_linear(cloud)))
        solar = np.where(solar_missing & np.isfinite(cloud), ghi_from_cloud_cover(cs, cloud), solar)
        with np.errstate(divide="ignore", invalid="ignore"):
            index = np.where(cs > _DAY, solar / cs, np.nan)
        index = _interp_linear(index)
        known = np.flatnonzero(np.isfinite(index))
        if known.size:
            index[: known[0]] = index[known[0]]
            index[known[-1] + 1 :] = index[known[-1]]
            solar = np.where(np.isnan(solar), np.clip(index, 0.0, 1.2) * cs, solar)
        else:
            solar = np.where(np.isnan(solar), from_cloud, solar)
        solar = np.where(cs <= 0.0, 0.0, solar)
        cloud = np.where(cloud_missing, cloud_cover_from_ghi(cs, solar), cloud)
        cloud = _fill_edges_by_day(_interp_linear(cloud))
        out[SOLAR], out[CLOUD_COVER] = solar, cloud
        filled[SOLAR], filled[CLOUD_COVER] = int(solar_missing.sum()), int(cloud_missing.sum())
    series = {k: HourlySeries(start, v) for k, v in out.items() if np.isfinite(v).any()}
    return series, filled


# --- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeatherResult:
    """A complete forecast and where it came from."""

    series: dict[str, HourlySeries]
    source: str
    fetched_at: datetime
    from_cache: bool = False
    stale: bool = False  # every provider failed: an earlier forecast, shifted to this window
    filled_hours: dict[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


@dataclass
class _Entry:
    fetched_at: datetime
    source: str
    start: datetime
    hours: int
    data: dict[str, HourlySeries]


def _provider_name(provider: WeatherProvider) -> str:
    return str(getattr(provider, "name", type(provider).__name__))


def _usable(data: Mapping[str, HourlySeries]) -> bool:
    return any(k in data and np.isfinite(data[k].values).any() for k in KEYS)


def _shift_to(data: Mapping[str, HourlySeries], start: datetime, hours: int) -> dict[str, HourlySeries]:
    """An old forecast moved onto a new window: hours it covers are kept, later (or earlier)
    hours take the value at the same time of day on its nearest covered day."""
    out: dict[str, HourlySeries] = {}
    for key, series in data.items():
        offset = series.index_of(start)
        values = np.full(hours, np.nan)
        known = np.flatnonzero(np.isfinite(series.values))
        if known.size == 0:
            continue
        first, last = int(known[0]), int(known[-1])
        for i in range(hours):
            j = offset + i
            if j > last:
                j -= 24 * math.ceil((j - last) / 24)
            elif j < first:
                j += 24 * math.ceil((first - j) / 24)
            if first <= j <= last:
                values[i] = series.values[j]
        out[key] = HourlySeries(start, values)
    return out


class WeatherService:
    """Forecasts from the first provider that answers, cached for ``ttl``.

    When every provider fails, the last good forecast (up to ``max_stale`` old) is reused,
    shifted onto the requested window, and marked stale. Gaps are filled (:func:`fill_gaps`).
    The service itself is a :class:`WeatherProvider`, so it can be handed to anything that
    takes one.
    """

    name = "service"

    def __init__(
        self,
        providers: Sequence[WeatherProvider],
        *,
        latitude: float,
        longitude: float,
        ttl: timedelta = timedelta(minutes=30),
        max_stale: timedelta = timedelta(days=3),
        clock: Clock = _now,
    ) -> None:
        self.providers = list(providers)
        self.latitude = latitude
        self.longitude = longitude
        self.ttl = ttl
        self.max_stale = max_stale
        self._clock = clock
        self._cache: _Entry | None = None
        self._last_good: _Entry | None = None
        self.last_result: WeatherResult | None = None

    async def forecast(self, start: datetime, hours: int) -> dict[str, HourlySeries]:
        return (await self.fetch(start, hours)).series

    async def fetch(self, start: datetime, hours: int) -> WeatherResult:
        """The forecast for ``[start, start + hours)`` with its provenance."""
        if hours <= 0:
            raise ValueError("hours must be positive")
        start = floor_hour(start)
        now = self._clock()
        cached = self._cache
        if (
            cached is not None
            and now - cached.fetched_at < self.ttl
            and cached.start <= start
            and start + hours * HOUR <= cached.start + cached.hours * HOUR
        ):
            return self._finish(cached.data, start, hours, cached.source, cached.fetched_at, from_cache=True)

        errors: list[str] = []
        for provider in self.providers:
            name = _provider_name(provider)
            try:
                data = await provider.forecast(start, hours)
            except Exception as err:  # any provider failure means: try the next one
                errors.append(f"{name}: {type(err).__name__}: {err}")
                _LOGGER.debug("weather provider %s failed", name, exc_info=True)
                continue
            if not _usable(data):
                errors.append(f"{name}: no usable data")
                continue
            entry = _Entry(now, name, start, hours, {k: v.window(start, hours) for k, v in data.items() if k in KEYS})
            self._cache = self._last_good = entry
            return self._finish(entry.data, start, hours, name, now, errors=errors)

        last = self._last_good
        if last is None or now - last.fetched_at > self.max_stale:
            raise WeatherUnavailable("; ".join(errors) or "no weather providers configured")
        shifted = _shift_to(last.data, start, hours)
        return self._finish(shifted, start, hours, f"last_good:{last.source}", last.fetched_at, stale=True, errors=errors)

    def _finish(
        self,
        data: Mapping[str, HourlySeries],
        start: datetime,
        hours: int,
        source: str,
        fetched_at: datetime,
        *,
        from_cache: bool = False,
        stale: bool = False,
        errors: Sequence[str] = (),
    ) -> WeatherResult:
        series, filled = fill_gaps(data, start, hours, self.latitude, self.longitude)
        result = WeatherResult(series, source, fetched_at, from_cache, stale, filled, tuple(errors))
        self.last_result = result
        return result


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WeatherConfig:
    """Which providers to use. The network ones are off unless switched on."""

    latitude: float
    longitude: float
    home_assistant_entity: str | None = None
    home_assistant_temperature_unit: str = "°C"
    open_meteo: bool = False
    nws: bool = False
    local_station: bool = False


def build_providers(
    config: WeatherConfig,
    *,
    get_forecasts: Callable[[], Awaitable[Any]] | None = None,
    fetch_json: FetchJson | None = None,
    station_history: Callable[[], Awaitable[Readings]] | None = None,
) -> list[WeatherProvider]:
    """Providers in priority order: Home Assistant, the two public services, the station.

    A provider is included only when it is switched on and its means of access is given.
    """
    providers: list[WeatherProvider] = []
    if get_forecasts is not None:
        providers.append(
            HomeAssistantWeather(
                get_forecasts,
                entity_id=config.home_assistant_entity,
                temperature_unit=config.home_assistant_temperature_unit,
            )
        )
    if fetch_json is not None and config.open_meteo:
        providers.append(OpenMeteoWeather(fetch_json, config.latitude, config.longitude))
    if fetch_json is not None and config.nws:
        providers.append(NwsWeather(fetch_json, config.latitude, config.longitude))
    if station_history is not None and config.local_station:
        providers.append(LocalStationWeather(station_history, config.latitude, config.longitude))
    return providers

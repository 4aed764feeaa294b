"""Lighting schedules from occupancy and daylight patterns.

Deliberately simple, so every recommendation can be checked by hand:

1. **Occupancy** per zone is learned from an occupancy sensor's history as the probability
   that the zone is occupied in each local hour of the week (168 cells). A cell with few
   observations borrows from the same hour on similar days (weekdays or weekend), so a
   month of history is enough for a usable profile.
2. **Daylight** is the indoor illuminance the sun provides: measured by a light sensor, or
   estimated from outdoor irradiance through the zone's daylight factor (indoor lux per
   outdoor lux; about 0.02 for a room with ordinary windows).
3. For each hour and zone, lights should be **off** when the zone is probably empty
   (occupancy probability below the zone's threshold) or when daylight alone reaches the
   zone's target illuminance; otherwise **on**.
4. The **saving** is measured against how the lights are used today: the learned probability
   that they are on in that hour (from a light switch's history), or, without one, on
   whenever the zone is occupied. Saved energy = P(on today) x (1 - on in the schedule) x
   the zone's lighting power.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np

from .series import HOUR, FloatArray, HourlySeries

LUX_PER_W_M2 = 110.0
"""Luminous efficacy of daylight (lux per W/m² of global horizontal irradiance); 100-120
over the day for clear and overcast skies alike."""

MIN_CELL_SAMPLES = 3


@dataclass(frozen=True)
class WeeklyProfile:
    """A probability for each local hour of the week: ``values[weekday, hour]`` (Monday 0)."""

    values: FloatArray
    samples: FloatArray
    tz: tzinfo

    def at(self, start: datetime, hours: int) -> FloatArray:
        """The profile on the hours from ``start`` (local time, so daylight saving is right)."""
        out = np.empty(hours)
        for k in range(hours):
            local = (start + k * HOUR).astimezone(self.tz)
            out[k] = self.values[local.weekday(), local.hour]
        return out


def learn_weekly_profile(history: HourlySeries, tz: tzinfo, *, prior: float = 0.0) -> WeeklyProfile:
    """Probability per local hour of the week from a 0..1 history (share of the hour "on").

    Each cell is pulled towards the same hour on days of the same kind (Monday-Friday or the
    weekend) with the weight of ``MIN_CELL_SAMPLES`` observations, which only matters for
    cells seen a few times; hours never seen on any such day take ``prior``.
    """
    sums = np.zeros((7, 24))
    counts = np.zeros((7, 24))
    for when, value in zip(history.timestamps(), history.values, strict=True):
        if not np.isfinite(value):
            continue
        local = when.astimezone(tz)
        sums[local.weekday(), local.hour] += min(max(float(value), 0.0), 1.0)
        counts[local.weekday(), local.hour] += 1
    values = np.empty((7, 24))
    for days in (range(5), range(5, 7)):
        rows = list(days)
        pool_sum, pool_count = sums[rows].sum(axis=0), counts[rows].sum(axis=0)
        pooled = np.where(pool_count > 0, pool_sum / np.maximum(pool_count, 1), prior)
        for d in rows:
            # Weighted mean of the cell and its pool: the pool counts as MIN_CELL_SAMPLES.
            values[d] = (sums[d] + MIN_CELL_SAMPLES * pooled) / (counts[d] + MIN_CELL_SAMPLES)
    return WeeklyProfile(values, counts, tz)


def daylight_from_irradiance(ghi_w_m2: FloatArray, daylight_factor: float) -> FloatArray:
    """Indoor daylight illuminance (lux) from outdoor global irradiance (W/m²)."""
    if not 0.0 < daylight_factor <= 1.0:
        raise ValueError("daylight_factor must be in (0, 1]")
    return np.maximum(np.asarray(ghi_w_m2, dtype=np.float64), 0.0) * LUX_PER_W_M2 * daylight_factor


@dataclass(frozen=True)
class Zone:
    name: str
    light_kw: float
    """Installed lighting power of the zone."""
    target_lux: float = 300.0
    """Illuminance the zone needs when occupied (300 lux suits living and office spaces)."""
    occupancy_threshold: float = 0.1
    """Below this probability of occupancy the zone is treated as empty."""

    def __post_init__(self) -> None:
        if self.light_kw < 0 or self.target_lux <= 0 or not 0 <= self.occupancy_threshold <= 1:
            raise ValueError(f"zone {self.name!r}: light_kw >= 0, target_lux > 0 and threshold in 0..1")


@dataclass(frozen=True)
class LightingAction:
    """A stretch of hours with one recommendation for one zone.

    ``code``: ``off_empty`` (probably nobody there), ``off_daylight`` (daylight reaches the
    target) or ``on_needed`` (occupied and too dark: keep the lights on).
    """

    zone: str
    code: str
    start: datetime
    end: datetime
    saving_kwh: float
    message: str


@dataclass(frozen=True)
class ZoneSchedule:
    zone: str
    lights_on: FloatArray
    """1 when the schedule wants the lights on in that hour, else 0."""
    baseline_on: FloatArray
    """Probability the lights are on today in that hour (what the saving is measured against)."""
    saving_kwh: float
    actions: tuple[LightingAction, ...]


@dataclass(frozen=True)
class LightingPlan:
    start: datetime
    hours: int
    zones: tuple[ZoneSchedule, ...]

    @property
    def saving_kwh(self) -> float:
        return float(sum(z.saving_kwh for z in self.zones))


def plan_lighting(
    start: datetime,
    hours: int,
    zones: Sequence[Zone],
    occupancy: Mapping[str, FloatArray],
    daylight_lux: Mapping[str, FloatArray],
    *,
    lights_on_today: Mapping[str, FloatArray] | None = None,
    tz: tzinfo | None = None,
) -> LightingPlan:
    """Hour-by-hour lights on/off per zone, with the energy saved against today's habits.

    ``occupancy[zone]``: probability the zone is occupied in each hour (e.g. a
    :class:`WeeklyProfile` evaluated with ``at``); ``daylight_lux[zone]``: indoor daylight in
    each hour; ``lights_on_today[zone]`` (optional): probability the lights are on today.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    zone_tz = tz or start.tzinfo
    result = []
    for zone in zones:
        occ = _hourly(occupancy, zone.name, hours, "occupancy")
        day = _hourly(daylight_lux, zone.name, hours, "daylight")
        if lights_on_today is not None and zone.name in lights_on_today:
            baseline = np.clip(_hourly(lights_on_today, zone.name, hours, "lights_on_today"), 0.0, 1.0)
        else:
            baseline = np.clip(occ, 0.0, 1.0)
        empty = occ < zone.occupancy_threshold
        bright = ~empty & (day >= zone.target_lux)
        on = ~(empty | bright)
        saved = baseline * (~on) * zone.light_kw
        actions: list[LightingAction] = []
        used = baseline > 1e-9  # hours the lights are already off today need no advice
        for code, mask in (("off_empty", empty & used), ("off_daylight", bright & used), ("on_needed", on)):
            for a, b in _runs(mask):
                kwh = float(saved[a:b].sum())
                actions.append(
                    LightingAction(
                        zone.name,
                        code,
                        start + a * HOUR,
                        start + b * HOUR,
                        kwh,
                        _message(zone, code, a, b, occ, day, kwh, start, zone_tz),
                    )
                )
        actions.sort(key=lambda x: x.start)
        result.append(ZoneSchedule(zone.name, on.astype(np.float64), baseline, float(saved.sum()), tuple(actions)))
    return LightingPlan(start, hours, tuple(result))


def _hourly(source: Mapping[str, FloatArray], zone: str, hours: int, what: str) -> FloatArray:
    if zone not in source:
        raise ValueError(f"no {what} for zone {zone!r}")
    arr = np.asarray(source[zone], dtype=np.float64)
    if arr.shape != (hours,):
        raise ValueError(f"{what} for zone {zone!r} has {arr.shape} values, expected {hours}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} for zone {zone!r} has gaps")
    return arr


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(edges[i]), int(edges[i + 1])) for i in range(0, edges.size, 2)]


def _message(
    zone: Zone,
    code: str,
    a: int,
    b: int,
    occ: FloatArray,
    day: FloatArray,
    kwh: float,
    start: datetime,
    tz: tzinfo,
) -> str:
    span = f"{(start + a * HOUR).astimezone(tz):%H:%M}-{(start + b * HOUR).astimezone(tz):%H:%M}"
    if code == "off_empty":
        return (
            f"{zone.name}: lights off {span}, the zone is usually empty then "
            f"(occupied {float(occ[a:b].max()):.0%} of the time at most); saves {kwh:.2f} kWh"
        )
    if code == "off_daylight":
        return (
            f"{zone.name}: lights off {span}, daylight gives at least {float(day[a:b].min()):.0f} lux "
            f"(target {zone.target_lux:.0f}); saves {kwh:.2f} kWh"
        )
    return f"{zone.name}: lights needed {span}, occupied and daylight below {zone.target_lux:.0f} lux"

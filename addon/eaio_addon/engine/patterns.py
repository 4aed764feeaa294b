"""Consumption patterns: base load, daily and weekly schedules, anomalies, always-on waste.

Every result is a small frozen dataclass with ``reasons``: plain-language codes (snake_case
sentences) that the agents turn into advice without re-deriving the numbers. Load series are
kWh in each hour, so an hour's value is also its mean kW.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from .series import HOUR, FloatArray, Forecast, HourlySeries

HOURS_PER_YEAR = 8766.0  # 365.25 days
NIGHT_HOURS = (1, 2, 3, 4)  # local hours in which a home is usually asleep or empty
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


@dataclass(frozen=True)
class LocalCalendar:
    """Local hour (0-23), weekday (Monday = 0) and date of each hour of a series."""

    hour: IntArray
    weekday: IntArray
    day: list[date]


def local_calendar(series: HourlySeries, tz: str | tzinfo) -> LocalCalendar:
    zone = _zone(tz)
    local = [t.astimezone(zone) for t in series.timestamps()]
    return LocalCalendar(
        hour=np.array([t.hour for t in local], dtype=np.int64),
        weekday=np.array([t.weekday() for t in local], dtype=np.int64),
        day=[t.date() for t in local],
    )


# --- base load --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseLoad:
    """The load that never goes away: a low percentile of night-time hours (kW)."""

    kw: float
    percentile: float
    night_hours: tuple[int, ...]
    hours_used: int
    reasons: tuple[str, ...]


def base_load(
    load: HourlySeries,
    tz: str | tzinfo,
    *,
    percentile: float = 10.0,
    night_hours: Iterable[int] = NIGHT_HOURS,
    days: int | None = 28,
) -> BaseLoad:
    """Base load over the last ``days`` days (all of the series if None).

    Night hours avoid most deliberate use; a low percentile rather than the minimum avoids
    a single odd hour (a meter glitch, a power cut) setting the level.
    """
    if days is not None and len(load) > 24 * days:
        load = load.window(load.end - 24 * days * HOUR, 24 * days)
    nights = tuple(sorted(set(night_hours)))
    cal = local_calendar(load, tz)
    values = load.values[np.isin(cal.hour, nights) & np.isfinite(load.values)]
    if values.size < 7:
        # Too few nights to trust: the whole series' low percentile is the best available.
        values = load.values[np.isfinite(load.values)]
        if values.size == 0:
            return BaseLoad(float("nan"), percentile, nights, 0, ("no_load_data",))
        kw = float(np.percentile(values, percentile))
        return BaseLoad(kw, percentile, nights, int(values.size), ("too_few_night_hours_used_all_hours",))
    kw = float(np.percentile(values, percentile))
    return BaseLoad(kw, percentile, nights, int(values.size), ("night_time_low_percentile",))


# --- schedules --------------------------------------------------------------------------------

DayType = Literal["weekday", "weekend"]


@dataclass(frozen=True)
class Schedule:
    """Mean load by local hour, for weekdays and for weekends/holidays, and the active hours.

    ``weekly_profile`` is 7 by 24 (Monday first). An hour is "occupied" (active) when its mean
    load rises above ``threshold_kw``: the base load plus a quarter of the way to the day's
    peak. This marks when people use energy, which is what schedules and advice act on.
    """

    weekday_profile: FloatArray
    weekend_profile: FloatArray
    weekly_profile: FloatArray
    base_kw: float
    threshold_kw: float
    weekday_occupied_hours: tuple[int, ...]
    weekend_occupied_hours: tuple[int, ...]
    days_used: dict[str, int]
    reasons: tuple[str, ...]

    def occupied(self, day_type: DayType, hour: int) -> bool:
        hours = self.weekday_occupied_hours if day_type == "weekday" else self.weekend_occupied_hours
        return hour in hours


def _profile(values: FloatArray, hours: IntArray, mask: BoolArray) -> FloatArray:
    out = np.full(24, np.nan)
    for h in range(24):
        sel = values[mask & (hours == h)]
        sel = sel[np.isfinite(sel)]
        if sel.size:
            out[h] = float(sel.mean())
    return out


def _hour_span_text(hours: tuple[int, ...]) -> str:
    if not hours:
        return "none"
    spans: list[tuple[int, int]] = []
    for h in hours:
        if spans and h == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], h)
        else:
            spans.append((h, h))
    return "_".join(f"{a:02d}-{b + 1:02d}" for a, b in spans)


def schedules(
    load: HourlySeries,
    tz: str | tzinfo,
    *,
    holidays: Iterable[date] = (),
    active_fraction: float = 0.25,
) -> Schedule:
    """Daily and weekly schedules from the load history (local time, DST-aware)."""
    cal = local_calendar(load, tz)
    off_days = set(holidays)
    weekend = (cal.weekday >= 5) | np.array([d in off_days for d in cal.day], dtype=bool)
    values = load.values
    weekday_profile = _profile(values, cal.hour, ~weekend)
    weekend_profile = _profile(values, cal.hour, weekend)
    weekly = np.vstack([_profile(values, cal.hour, cal.weekday == d) for d in range(7)])
    base = base_load(load, tz, days=None).kw
    both = np.concatenate([weekday_profile, weekend_profile])
    reasons: list[str] = []
    if not np.isfinite(both).any() or not np.isfinite(base):
        return Schedule(weekday_profile, weekend_profile, weekly, base, float("nan"), (), (),
                        {"weekday": 0, "weekend": 0}, ("no_load_data",))  # fmt: skip
    peak = float(np.nanmax(both))
    threshold = base + active_fraction * (peak - base)

    def active(profile: FloatArray) -> tuple[int, ...]:
        return tuple(int(h) for h in np.flatnonzero(np.isfinite(profile) & (profile > threshold)))

    weekday_hours, weekend_hours = active(weekday_profile), active(weekend_profile)
    days_used = {
        "weekday": len({d for d, w in zip(cal.day, weekend, strict=True) if not w}),
        "weekend": len({d for d, w in zip(cal.day, weekend, strict=True) if w}),
    }
    if peak - base < 0.2 * max(base, 1e-9):
        reasons.append("flat_profile_no_clear_schedule")
    else:
        reasons.append(f"weekday_active_hours_{_hour_span_text(weekday_hours)}")
        reasons.append(f"weekend_active_hours_{_hour_span_text(weekend_hours)}")
        wd, we = float(np.nanmean(weekday_profile)), float(np.nanmean(weekend_profile))
        if np.isfinite(wd) and np.isfinite(we) and abs(we - wd) > 0.15 * max(wd, we):
            reasons.append("weekends_use_more_than_weekdays" if we > wd else "weekends_use_less_than_weekdays")
    if min(days_used.values()) < 2:
        reasons.append("less_than_two_days_of_each_day_type")
    return Schedule(weekday_profile, weekend_profile, weekly, base, threshold, weekday_hours,
                    weekend_hours, days_used, tuple(reasons))  # fmt: skip


# --- anomalies --------------------------------------------------------------------------------

# p10/p90 sit 1.2816 standard deviations from the median of a normal distribution; scaling the
# half-band by 1.815 reaches 2.326 standard deviations, a 98 % central band. An hour outside an
# 80 % band is routine (one in five); outside the 98 % band it is worth a look.
DEFAULT_BAND_SCALE = 2.326 / 1.2816


@dataclass(frozen=True)
class AnomalyEvent:
    """Consecutive anomalous hours in the same direction, merged."""

    start: datetime
    hours: int
    direction: Literal["high", "low"]
    energy_excess_kwh: float  # actual minus forecast median over the event (negative if low)
    beyond_band_kwh: float  # the part outside the (scaled) band
    peak_deviation_kw: float
    reason: str


@dataclass(frozen=True)
class AnomalyReport:
    flags: BoolArray  # per hour of the forecast window
    events: tuple[AnomalyEvent, ...]
    hours_checked: int
    hours_flagged: int
    band_scale: float
    reasons: tuple[str, ...]


def detect_anomalies(
    forecast: Forecast,
    actual: HourlySeries,
    *,
    band_scale: float = DEFAULT_BAND_SCALE,
    min_deviation_kw: float = 0.05,
    min_event_hours: int = 1,
) -> AnomalyReport:
    """Hours where metered load falls outside the forecast band, merged into events.

    The band is the forecast's p10-p90 half-widths scaled by ``band_scale`` around the median
    (1.0 flags everything outside the 80 % band). ``min_deviation_kw`` keeps a very narrow
    band (a quiet night) from flagging trivial differences.
    """
    act = actual.window(forecast.start, len(forecast)).values
    upper = forecast.p50 + band_scale * np.maximum(forecast.p90 - forecast.p50, 0.0)
    lower = forecast.p50 - band_scale * np.maximum(forecast.p50 - forecast.p10, 0.0)
    dev = act - forecast.p50
    finite = np.isfinite(act)
    high = finite & (act > upper) & (dev > min_deviation_kw)
    low = finite & (act < lower) & (-dev > min_deviation_kw)
    flags = high | low
    events: list[AnomalyEvent] = []
    i, n = 0, len(act)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        direction: Literal["high", "low"] = "high" if high[i] else "low"
        same = high if direction == "high" else low
        j = i
        while j < n and same[j]:
            j += 1
        if j - i >= min_event_hours:
            sl = slice(i, j)
            edge = upper[sl] if direction == "high" else lower[sl]
            events.append(
                AnomalyEvent(
                    start=forecast.start + i * HOUR,
                    hours=j - i,
                    direction=direction,
                    energy_excess_kwh=float(dev[sl].sum()),
                    beyond_band_kwh=float((act[sl] - edge).sum()),
                    peak_deviation_kw=float(dev[sl][np.argmax(np.abs(dev[sl]))]),
                    reason="consumption_above_forecast_band" if direction == "high"
                    else "consumption_below_forecast_band",
                )
            )
        i = j
    reasons: list[str] = []
    if not finite.any():
        reasons.append("no_metered_data_in_window")
    elif not events:
        reasons.append("consumption_within_forecast_band")
    else:
        high_kwh = sum(e.energy_excess_kwh for e in events if e.direction == "high")
        if high_kwh > 0:
            reasons.append("unexpected_extra_consumption")
        if any(e.direction == "low" for e in events):
            reasons.append("unexpectedly_low_consumption")
        if any(e.hours >= 6 for e in events):
            reasons.append("sustained_deviation_six_hours_or_more")
    return AnomalyReport(flags, tuple(events), int(finite.sum()), int(flags.sum()), band_scale, tuple(reasons))


# --- always-on waste --------------------------------------------------------------------------


@dataclass(frozen=True)
class AlwaysOnWaste:
    """Base load beyond a reference, as energy and money per year."""

    base_kw: float
    reference_kw: float
    reference_source: Literal["configured", "site_best_weeks"]
    excess_kw: float
    kwh_per_year: float
    cost_per_year: float | None
    price_per_kwh: float | None
    reasons: tuple[str, ...]


def _weekly_bases(load: HourlySeries, tz: str | tzinfo, percentile: float) -> list[float]:
    weeks = []
    for offset in range(0, len(load) - 24 * 7 + 1, 24 * 7):
        week = HourlySeries(load.start + offset * HOUR, load.values[offset : offset + 24 * 7])
        result = base_load(week, tz, percentile=percentile, days=None)
        if "night_time_low_percentile" in result.reasons:
            weeks.append(result.kw)
    return weeks


def always_on_waste(
    load: HourlySeries,
    tz: str | tzinfo,
    *,
    reference_kw: float | None = None,
    price_per_kwh: float | HourlySeries | None = None,
    recent_days: int = 28,
    percentile: float = 10.0,
    tolerance_kw: float = 0.02,
) -> AlwaysOnWaste:
    """How much of the recent base load is beyond a reference, and what it costs a year.

    Without a configured ``reference_kw`` the reference is the site's own best: a low (10th)
    percentile of its weekly base loads over the whole history, i.e. a level this home has
    shown it can reach. Excess under ``tolerance_kw`` is reported as none.
    """
    current = base_load(load, tz, percentile=percentile, days=recent_days)
    reasons: list[str] = []
    source: Literal["configured", "site_best_weeks"] = "configured"
    if reference_kw is None:
        source = "site_best_weeks"
        weekly = _weekly_bases(load, tz, percentile)
        if len(weekly) < 4:
            reasons.append("history_too_short_for_a_site_reference")
            reference_kw = current.kw
        else:
            reference_kw = float(np.percentile(weekly, 10))
    price: float | None
    if isinstance(price_per_kwh, HourlySeries):
        finite = price_per_kwh.values[np.isfinite(price_per_kwh.values)]
        # Always-on load runs around the clock, so every hour's price counts equally.
        price = float(finite.mean()) if finite.size else None
    else:
        price = price_per_kwh
    if not np.isfinite(current.kw):
        return AlwaysOnWaste(current.kw, reference_kw, source, 0.0, 0.0, None, price, ("no_load_data",))
    excess = max(0.0, current.kw - reference_kw)
    if excess < tolerance_kw:
        excess = 0.0
        reasons.append("base_load_at_or_below_reference")
    else:
        reasons.append("base_load_above_reference")
        if current.kw > 0 and excess / current.kw > 0.25:
            reasons.append("more_than_a_quarter_of_base_load_is_avoidable")
    kwh = excess * HOURS_PER_YEAR
    cost = kwh * price if price is not None else None
    if "too_few_night_hours_used_all_hours" in current.reasons:
        reasons.append("too_few_night_hours_base_load_uncertain")
    return AlwaysOnWaste(current.kw, reference_kw, source, excess, kwh, cost, price, tuple(reasons))

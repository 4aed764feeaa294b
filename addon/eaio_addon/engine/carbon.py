"""The grid's carbon intensity for the plan's hours, from a sensor's recent history.

The forecast is the last day repeated: the hourly means of the 24 hours before the plan's start,
hour by hour over the horizon. On the benchmark homes' grid data that is as accurate as
hour-of-day means over the last 2 to 14 days, and it follows a change of season or of the grid's
mix a day after it happens.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from .series import HOUR, HourlySeries

DAY_HOURS = 24
# kg CO2(-equivalent) per kWh in one unit of each unit a grid's carbon-intensity sensor reports in.
KG_PER_KWH: dict[str, float] = {
    "gCO2eq/kWh": 1e-3, "gCO2e/kWh": 1e-3, "gCO2/kWh": 1e-3, "g/kWh": 1e-3,
    "kgCO2eq/kWh": 1.0, "kgCO2e/kWh": 1.0, "kgCO2/kWh": 1.0, "kg/kWh": 1.0,
}


def kg_per_kwh_factor(unit: str | None) -> float | None:
    """What one unit of ``unit`` is in kg per kWh; None for a unit that is no carbon intensity."""
    if unit is None:
        return None
    return KG_PER_KWH.get(unit.strip().replace(" ", "").replace("₂", "2"))


def last_day_repeated(history: HourlySeries, start: datetime, hours: int) -> HourlySeries | None:
    """The 24 hourly values before ``start``, repeated over ``hours`` from ``start``.

    ``history`` holds hourly means (NaN: no reading in the hour). A sensor keeps its state
    until it changes, so an hour without a reading takes the last value before it, from as far
    back as ``history`` goes. Negative values are no intensity and count as missing. None when
    the day before ``start`` does not begin with a known value: less than a day of history.
    """
    if hours <= 0:
        raise ValueError("the forecast needs at least one hour")
    first = min(history.start, start - DAY_HOURS * HOUR)
    span = history.window(first, round((start - first) / HOUR))  # up to the plan's start, NaN past history
    values = np.where(span.values >= 0, span.values, np.nan)
    known = np.flatnonzero(np.isfinite(values))
    if known.size == 0:
        return None
    # Carry each known value forward over the hours after it without one.
    carried = values[np.maximum.accumulate(np.where(np.isfinite(values), np.arange(len(values)), 0))]
    carried[: known[0]] = np.nan
    day = carried[-DAY_HOURS:]
    if not np.isfinite(day).all():
        return None
    return HourlySeries(start, np.resize(day, hours))

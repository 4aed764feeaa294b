"""The grid's carbon intensity for a run's plan, from the ``carbon_entity`` sensor's history in the store.

Without the option there is no carbon (the plans' carbon is zero, as before). A sensor in a unit
that is no carbon intensity is refused with the units that are (the run names the step in its
errors); with less than a day of history the plan has no carbon yet and the run's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from ..engine.carbon import DAY_HOURS, KG_PER_KWH, kg_per_kwh_factor, last_day_repeated
from ..engine.series import HourlySeries
from ..store import Store, StoreDb

# How far back a missing hour may take its value from: a sensor quiet for longer says nothing now.
LOOKBACK = timedelta(hours=2 * DAY_HOURS)
UNITS_TEXT = "gCO2eq/kWh, g/kWh or kg/kWh"


class CarbonUnitError(ValueError):
    """The carbon sensor reports in a unit that is no carbon intensity."""


@dataclass(frozen=True)
class CarbonInput:
    """The plan's carbon intensity in kg CO2 per kWh imported, and where it comes from."""

    entity: str
    unit: str  # the sensor's own unit (what a person reads it in)
    series: HourlySeries  # kg/kWh, from the run's hour over its horizon


async def carbon_forecast(store: Store, entity: str, now: datetime, hours: int,
                          notes: list[str]) -> CarbonInput | None:
    """The carbon intensity over ``hours`` from ``now`` (an hour's start): the sensor's last day repeated.

    None when the sensor has less than a day of history (a note says so); CarbonUnitError when its
    unit is none of ``KG_PER_KWH``.
    """
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    meta = next((m for m in await store.call(StoreDb.entities) if m.entity_id == entity), None)
    if meta is None:
        notes.append(f"carbon: no history of {entity} yet (Home Assistant has not reported it); "
                     "the plan has no carbon")
        return None
    factor = kg_per_kwh_factor(meta.unit)
    if factor is None:
        unit = f"in {meta.unit}" if meta.unit else "without a unit"
        raise CarbonUnitError(f"{entity} reports {unit}; carbon_entity takes a carbon intensity in {UNITS_TEXT} "
                              f"({', '.join(KG_PER_KWH)})")
    first = start - LOOKBACK
    rows = await store.call(StoreDb.hourly, entity, first.timestamp(), start.timestamp(), start.timestamp())
    values = np.full(round(LOOKBACK / timedelta(hours=1)), np.nan)
    for row in rows:
        i = round((row.hour - first.timestamp()) / 3600)
        if 0 <= i < len(values) and row.mean is not None:
            values[i] = row.mean * factor
    series = last_day_repeated(HourlySeries(first, values), start, hours)
    if series is None:
        notes.append(f"carbon: {entity} has less than a day of history; the plan has no carbon yet")
        return None
    assert meta.unit is not None  # a unit with a factor
    return CarbonInput(entity, meta.unit, series)

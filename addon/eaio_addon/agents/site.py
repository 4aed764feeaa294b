"""What one run knows about the building: its series (as the engine reads them) and its entities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.series import Forecast, HourlySeries
from ..options import Options
from ..store import EntityMeta, Store, StoreDb

if TYPE_CHECKING:
    from .carbon import CarbonInput
    from .feedback import Measured

ROLES = ("load", "pv", "outdoor", "indoor", "hvac_power", "occupancy", "light", "setpoint")


# Temperatures of equipment, not of a room or the outdoors.
_EQUIPMENT_TEMPERATURE = ("supply", "discharge", "heatsink", "water", "pipe", "flow", "boiler", "tank", "coolant")
# Energy leaving the building (solar surplus to the grid) is no consumption.
_EXPORT = ("export", "feed_in", "feedin", "returned", "to_grid")
# Names that mark the one entity a role should come from when several qualify.
_MAIN = {
    "load": ("total", "house", "home", "main", "grid", "building", "consumption", "import", "site"),
    "indoor": ("zone", "room", "indoor", "living", "bedroom", "office", "kitchen"),
}
_PHASES = ("l1", "l2", "l3")  # one phase of a meter is a third of the building


def role_of(entity_id: str, device_class: str | None, unit: str | None) -> str | None:
    """The role an entity plays, from its id and metadata (the names Home Assistant users give)."""
    domain, _, name = entity_id.partition(".")
    words = name.split("_")
    if domain == "light":
        return "light"
    if domain == "binary_sensor" and (device_class in ("occupancy", "motion", "presence")
                                      or any(k in name for k in ("occupancy", "motion", "presence"))):
        return "occupancy"
    if domain in ("number", "input_number") and "setpoint" in name:
        return "setpoint"
    temperature = device_class == "temperature" or unit in ("°C", "°F") or "temperature" in name
    if temperature:
        if any(k in name for k in _EQUIPMENT_TEMPERATURE):
            return None
        return "outdoor" if "outdoor" in name or "outside" in name else "indoor"
    power = device_class in ("power", "energy") or unit in ("W", "kW", "Wh", "kWh")
    if power:
        if any(k in name for k in _EXPORT):
            return None
        if "pv" in words or "solar" in name:
            return "pv"
        if "hvac" in name or "heat_pump" in name:
            return "hvac_power"
        return "load"
    return None


def role_rank(entity_id: str, role: str) -> int:
    """Which of several entities of one role to use: 0 names the main one, 2 a part or a proxy."""
    words = entity_id.partition(".")[2].split("_")
    if role == "load" and (words[-1] in _PHASES or (len(words) > 1 and words[-2] == "phase")):
        return 2
    if role == "indoor" and "return" in words:  # return air follows the room, late and mixed
        return 2
    if any(k in w for w in words for k in _MAIN.get(role, ())):
        return 0
    return 1


def by_role(metas: list[EntityMeta], hours: Mapping[str, int] | None = None,
            owner: Mapping[str, str] | None = None) -> dict[str, EntityMeta]:
    """The entity each role comes from: the owner's choice (``owner``, the ``roles`` option) when it is
    among ``metas``; otherwise the best ranked (then the first by id) among the candidates with at least
    half the history of the longest (``hours``: hourly rows per entity, when known), so a sensor added
    yesterday does not stand in for one with weeks of history."""
    by_id = {meta.entity_id: meta for meta in metas}
    chosen: dict[str, EntityMeta] = {role: by_id[entity_id] for role, entity_id in (owner or {}).items()
                                     if entity_id in by_id}
    taken = {meta.entity_id for meta in chosen.values()}
    candidates: dict[str, list[EntityMeta]] = {}
    for meta in metas:
        role = role_of(meta.entity_id, meta.device_class, meta.unit)
        if role is not None and role not in chosen and meta.entity_id not in taken:
            candidates.setdefault(role, []).append(meta)
    for role, group in candidates.items():
        group.sort(key=lambda m: (role_rank(m.entity_id, role), m.entity_id))
        if hours is None:
            chosen[role] = group[0]
            continue
        longest = max(hours.get(m.entity_id, 0) for m in group)
        if longest > 0:
            chosen[role] = next(m for m in group if hours.get(m.entity_id, 0) * 2 >= longest)
    return chosen


async def site_entities(store: Store, start: float, end: float,
                        owner: Mapping[str, str] | None = None) -> dict[str, EntityMeta]:
    """``by_role`` over the learned entities with their hourly rows between ``start`` and ``end``."""
    metas = await store.call(StoreDb.entities)
    hours = await store.call(StoreDb.hour_counts, [m.entity_id for m in metas], start, end)
    return by_role(metas, hours, owner)


@dataclass(frozen=True)
class Location:
    """Where the building is and its time zone (Home Assistant's configuration)."""

    latitude: float
    longitude: float
    tz: str = "UTC"
    currency: str = ""  # Home Assistant's currency code (what prices are in)


def price_series(options: Options, start: datetime, hours: int, tz: str) -> HourlySeries:
    """The tariff's price in each hour (looked up at the hour's local start)."""
    zone = ZoneInfo(tz)
    values = []
    for k in range(hours):
        local = (start + timedelta(hours=k)).astimezone(zone)
        values.append(options.price_at(local.hour * 60 + local.minute))
    return HourlySeries(start, np.asarray(values, dtype=np.float64))


def to_kw(value: float, unit: str | None) -> float:
    return value / 1000.0 if unit in ("W", "Wh") else value


@dataclass
class SiteData:
    """Hourly history per role (kW, °C, share of the hour on) and the entity behind each role."""

    now: datetime
    series: dict[str, HourlySeries] = field(default_factory=dict)
    entities: dict[str, str] = field(default_factory=dict)
    latest: dict[str, float] = field(default_factory=dict)


@dataclass
class RunContext:
    """Everything one orchestrator run produced, step by step (None: the step did not deliver)."""

    run_id: str
    options: Options
    now: datetime
    tz: str = "UTC"
    horizon_h: int = 48
    location: Location | None = None
    site: SiteData | None = None
    weather: dict[str, HourlySeries] | None = None
    weather_source: str | None = None
    analysis: dict[str, Any] | None = None
    forecast: Forecast | None = None
    past_forecast: Forecast | None = None  # issued a day ago for the last day: drawn against actual
    pv_forecast: Forecast | None = None
    price: HourlySeries | None = None
    carbon: CarbonInput | None = None  # the grid's carbon intensity (kg/kWh); None: the plan knows no carbon
    candidates: list[Any] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    measured: Measured | None = None  # the state Home Assistant reports now (None: not read)
    previous_plan: dict[str, Any] | None = None  # the plan pushed last (what the executor follows)

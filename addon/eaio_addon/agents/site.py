"""What one run knows about the building: its series (as the engine reads them) and its entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.series import Forecast, HourlySeries
from ..options import Options

ROLES = ("load", "pv", "outdoor", "indoor", "hvac_power", "occupancy", "light", "setpoint")


def role_of(entity_id: str, device_class: str | None, unit: str | None) -> str | None:
    """The role an entity plays, from its id and metadata (the names Home Assistant users give)."""
    domain, _, name = entity_id.partition(".")
    if domain == "light":
        return "light"
    if domain == "binary_sensor" and (device_class in ("occupancy", "motion", "presence")
                                      or any(k in name for k in ("occupancy", "motion", "presence"))):
        return "occupancy"
    if domain in ("number", "input_number") and "setpoint" in name:
        return "setpoint"
    temperature = device_class == "temperature" or unit in ("°C", "°F") or "temperature" in name
    if temperature:
        return "outdoor" if "outdoor" in name or "outside" in name else "indoor"
    power = device_class in ("power", "energy") or unit in ("W", "kW", "Wh", "kWh")
    if power:
        if "pv" in name.split("_") or "solar" in name:
            return "pv"
        if "hvac" in name or "heat_pump" in name:
            return "hvac_power"
        return "load"
    return None


@dataclass(frozen=True)
class Location:
    """Where the building is and its time zone (Home Assistant's configuration)."""

    latitude: float
    longitude: float
    tz: str = "UTC"


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
    candidates: list[Any] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

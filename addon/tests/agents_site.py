"""A synthetic building in a real store, for the agent and orchestrator tests.

Four weeks of hourly states: a house load with a daily shape and a base load that rose in the
last week (always-on waste), a zone cooled by an HVAC unit that follows a simple RC model with solar gain, a light
left on in hours when the room is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import math
from pathlib import Path
from typing import Any

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.data import DataAgent
from eaio_addon.agents.memory import AgentMemory
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import Location
from eaio_addon.agents.weather import WeatherAgent
from eaio_addon.engine.pv import clear_sky_ghi
from eaio_addon.options import parse_options
from eaio_addon.store import EntityMeta, Store, StoreDb, reading

LOAD = "sensor.house_power"
OUTDOOR = "sensor.outdoor_temperature"
INDOOR = "sensor.living_room_temperature"
HVAC = "sensor.hvac_power"
LIGHT = "light.living_room"
OCCUPANCY = "binary_sensor.living_room_occupancy"
SETPOINT = "number.hvac_cooling_setpoint"
LOCATION = Location(0.0, 0.0, "UTC")  # on the equator: the sun (and so the load) has no season
DAYS = 28

METAS = [
    EntityMeta(LOAD, "option", "measurement", "W", "power", "House power"),
    EntityMeta(OUTDOOR, "option", "measurement", "°C", "temperature", "Outdoor"),
    EntityMeta(INDOOR, "option", "measurement", "°C", "temperature", "Living room"),
    EntityMeta(HVAC, "option", "measurement", "W", "power", "HVAC power"),
    EntityMeta(LIGHT, "option", None, None, None, "Living room light"),
    EntityMeta(OCCUPANCY, "option", None, None, "occupancy", "Living room occupancy"),
    EntityMeta(SETPOINT, "option", None, "°C", None, "Cooling setpoint"),
]


def hour_now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def fill(db: StoreDb, end: datetime, days: int = DAYS, last_week_kw: float = 0.3, last_hours_kw: float = 0.0) -> int:
    """Write the building's history up to ``end``; returns the readings written.

    ``last_week_kw`` is added to the load around the clock in the last week, ``last_hours_kw``
    in the last six hours (something left running: an anomaly).
    """
    db.set_learned(METAS)
    start = end - timedelta(days=days)
    rows = []
    indoor = 24.0
    hours = days * 24
    sun = clear_sky_ghi(start, hours + 1, LOCATION.latitude, LOCATION.longitude).values
    for k in range(hours + 1):
        t = start + timedelta(hours=k)
        ts = t.timestamp()
        h = t.hour
        outdoor = 27.0 + 6.0 * math.sin((h - 9) / 24 * 2 * math.pi)
        # Thermostat at 24 °C: the unit runs as much as needed (up to 3 kW), RC zone with tau = 10 h.
        free = indoor + (outdoor - indoor) / 10.0 + 0.001 * sun[k]
        hvac_kw = min(3.0, max(0.0, (free - 24.0) * 2.0))
        indoor = free - hvac_kw * 0.5
        late = k >= hours - 7 * 24
        house_kw = 0.4 + (last_week_kw if late else 0.0) + (last_hours_kw if k >= hours - 6 else 0.0) + 1.2 * (17 <= h < 22) + 0.5 * (7 <= h < 9) + hvac_kw
        occupied = 17 <= h < 23 or 6 <= h < 8
        light_on = 6 <= h < 23  # on all evening and through the empty day: wasted hours 8-17
        rows += [reading(LOAD, ts, f"{house_kw * 1000:.1f}"), reading(OUTDOOR, ts, f"{outdoor:.2f}"),
                 reading(INDOOR, ts, f"{indoor:.3f}"), reading(HVAC, ts, f"{hvac_kw * 1000:.1f}"),
                 reading(LIGHT, ts, "on" if light_on else "off"),
                 reading(OCCUPANCY, ts, "on" if occupied else "off"), reading(SETPOINT, ts, "24.0")]
    return db.add_readings(rows)


async def open_filled(path: Path, end: datetime, days: int = DAYS, last_week_kw: float = 0.3,
                      last_hours_kw: float = 0.0) -> Store:
    store = await Store.open(path)
    await store.call(fill, end, days, last_week_kw, last_hours_kw)
    return store


# Two rates with an evening peak: what the orchestrator tests plan against.
TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]


class Sink:
    """Where recommendations go: the runtime's ``submit_recommendations`` in the add-on."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[dict[str, Any]], bool]] = []
        self.open: list[dict[str, Any]] = []

    async def submit(self, recs: Sequence[dict[str, Any]], replace: bool) -> None:
        self.batches.append((list(recs), replace))
        self.open = list(recs) if replace else self.open + list(recs)

    async def open_recs(self) -> list[dict[str, Any]]:
        return list(self.open)


def make_orchestrator(store: Store, sink: Sink, options: dict[str, Any] | None = None, **kwargs: Any) -> Orchestrator:
    """An orchestrator on the building in ``store`` under ``TARIFF`` (``options`` add to or replace its options)."""
    bus = EventBus()

    async def locate() -> Location:
        return LOCATION

    parsed = parse_options({"tariff": TARIFF, "comfort_min": 22.0, "comfort_max": 25.0, **(options or {})})
    return Orchestrator(bus, parsed, data=DataAgent(bus, store), weather=WeatherAgent(bus, store),
                        memory=AgentMemory(store), submit=sink.submit, open_recommendations=sink.open_recs,
                        locate=locate, **kwargs)

"""Energy used by EAIO's consumption meters: today (the change since the day's first reading),
and the days before it for this week and this month.

Kept by the integration itself so the assistant can answer "how much energy did we use
today" without the add-on and without the recorder. Export and production meters also count
up, but they measure energy sent out or made, not used: they are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
import re
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN

STORE_KEY = f"{DOMAIN}.energy_today"
DAYS_KEPT = 62  # enough for "this month" and "the last 30 days"
# Point keys and names of meters that count energy going out or made here (any profile's spelling).
NOT_CONSUMPTION = re.compile(
    r"export|feed_?in|return|sold|production|produced|generat|solar|\bpv|_pv|einspeis|erzeug", re.IGNORECASE
)


@dataclass
class MeterDay:
    entity_id: str
    name: str
    first: float
    first_at: datetime
    last: float

    @property
    def used(self) -> float:
        return max(0.0, self.last - self.first)


def _energy_entities(hass: HomeAssistant) -> list[str]:
    registry = er.async_get(hass)
    out = []
    for entry in registry.entities.values():
        if entry.platform != DOMAIN or entry.domain != "sensor":
            continue
        state = hass.states.get(entry.entity_id)
        if (
            state is not None
            and state.attributes.get("device_class") == SensorDeviceClass.ENERGY
            and state.attributes.get("state_class") == SensorStateClass.TOTAL_INCREASING
            and not is_export(entry.unique_id, entry.entity_id, entry.original_name or "")
        ):
            out.append(entry.entity_id)
    return out


def is_export(*names: str) -> bool:
    """Whether a meter counts energy sent out or produced (by its point key, entity id or name)."""
    return any(NOT_CONSUMPTION.search(name) for name in names)


@dataclass
class PeriodMeter:
    name: str
    used: float
    since: datetime  # when counting began inside the period (its start, or later)


def _kwh(state: State | None) -> float | None:
    if state is None:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    unit = state.attributes.get("unit_of_measurement")
    return value / 1000.0 if unit == "Wh" else value * 1000.0 if unit == "MWh" else value


class EnergyToday:
    """Follows EAIO's energy meters and remembers each one's first reading of the day."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.meters: dict[str, MeterDay] = {}
        # Finished days: local date (ISO) -> entity id -> kWh used that day.
        self.days: dict[str, dict[str, float]] = {}
        self.names: dict[str, str] = {}
        self.first_seen: dict[str, datetime] = {}  # when EAIO began counting each meter
        self._store: Store[dict[str, Any]] = Store(hass, 1, STORE_KEY)
        self._unsub: Any = None
        self._tracked: tuple[str, ...] = ()

    async def async_load(self) -> None:
        stored = await self._store.async_load() or {}
        today = dt_util.start_of_local_day()
        days = stored.pop("_days", {})
        if isinstance(days, dict):
            self.days = {str(d): {str(k): float(v) for k, v in row.items()} for d, row in days.items()}
        for entity_id, raw_seen in (stored.pop("_first_seen", None) or {}).items():
            if (seen := dt_util.parse_datetime(str(raw_seen))) is not None:
                self.first_seen[entity_id] = seen
        for entity_id, raw in stored.items():
            first_at = dt_util.parse_datetime(raw["first_at"])
            if first_at is None:
                continue
            meter = MeterDay(entity_id, raw["name"], raw["first"], first_at, raw["last"])
            self.first_seen.setdefault(entity_id, first_at)
            self.names[entity_id] = meter.name
            if first_at >= today:
                self.meters[entity_id] = meter
            else:
                self._close_day(meter)

    @callback
    def async_refresh_tracking(self) -> None:
        """Track the energy sensors EAIO has now (devices come and go)."""
        entities = tuple(sorted(_energy_entities(self.hass)))
        if entities == self._tracked:
            return
        if self._unsub is not None:
            self._unsub()
        self._tracked = entities
        self._unsub = async_track_state_change_event(self.hass, list(entities), self._on_change)
        for entity_id in entities:
            self._record(entity_id, self.hass.states.get(entity_id))

    @callback
    def async_stop(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def _on_change(self, event: Event[EventStateChangedData]) -> None:
        self._record(event.data["entity_id"], event.data["new_state"])

    def _record(self, entity_id: str, state: State | None) -> None:
        value = _kwh(state)
        if value is None or state is None:
            return
        now = dt_util.utcnow()
        meter = self.meters.get(entity_id)
        self.names[entity_id] = state.name
        if meter is not None and meter.first_at < dt_util.start_of_local_day():
            # The day's first reading closes yesterday: the meter moved until now.
            meter.last = max(meter.last, value)
            self._close_day(meter)
            meter = None
        if meter is None or value < meter.first:
            # A new day, or the meter was reset: start counting again from here.
            self.meters[entity_id] = MeterDay(entity_id, state.name, value, now, value)
            self.first_seen.setdefault(entity_id, now)
        else:
            meter.last = value
        self._store.async_delay_save(self._snapshot, 10)

    def _close_day(self, meter: MeterDay) -> None:
        day = dt_util.as_local(meter.first_at).date().isoformat()
        row = self.days.setdefault(day, {})
        row[meter.entity_id] = row.get(meter.entity_id, 0.0) + meter.used
        for old in sorted(self.days)[:-DAYS_KEPT]:
            del self.days[old]

    def _snapshot(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {
            m.entity_id: {
                "name": m.name,
                "first": m.first,
                "first_at": m.first_at.isoformat(),
                "last": m.last,
            }
            for m in self.meters.values()
        }
        snapshot["_days"] = self.days
        snapshot["_first_seen"] = {k: v.isoformat() for k, v in self.first_seen.items()}
        return snapshot

    def today(self) -> list[MeterDay]:
        start = dt_util.start_of_local_day()
        return [m for m in self.meters.values() if m.first_at >= start and not is_export(m.entity_id, m.name)]

    def period(self, kind: str) -> list[PeriodMeter]:
        """Energy used per meter since the start of today, this week (Monday) or this month."""
        today_start = dt_util.start_of_local_day()
        if kind == "week":
            start_day = today_start.date() - timedelta(days=today_start.weekday())
        elif kind == "month":
            start_day = today_start.date().replace(day=1)
        else:
            start_day = today_start.date()
        used: dict[str, float] = {}
        since: dict[str, datetime] = {}
        for day_iso, row in sorted(self.days.items()):
            day = date.fromisoformat(day_iso)
            if not start_day <= day < today_start.date():
                continue
            for entity_id, kwh in row.items():
                used[entity_id] = used.get(entity_id, 0.0) + kwh
                since.setdefault(entity_id, _local_midnight(day))
        for meter in self.today():
            used[meter.entity_id] = used.get(meter.entity_id, 0.0) + meter.used
            since.setdefault(meter.entity_id, meter.first_at)
        period_start = _local_midnight(start_day)
        return [
            PeriodMeter(
                self.names.get(entity_id, entity_id),
                kwh,
                max(since[entity_id], self.first_seen.get(entity_id, period_start), period_start),
            )
            for entity_id, kwh in used.items()
            if not is_export(entity_id, self.names.get(entity_id, ""))
        ]


def _local_midnight(day: date) -> datetime:
    return dt_util.start_of_local_day(day)

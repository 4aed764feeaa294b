"""Energy used today by EAIO's meters: the change since the first reading of the local day.

Kept by the integration itself so the assistant can answer "how much energy did we use
today" without the add-on and without the recorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN

STORE_KEY = f"{DOMAIN}.energy_today"


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
        ):
            out.append(entry.entity_id)
    return out


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
        self._store: Store[dict[str, Any]] = Store(hass, 1, STORE_KEY)
        self._unsub: Any = None
        self._tracked: tuple[str, ...] = ()

    async def async_load(self) -> None:
        stored = await self._store.async_load() or {}
        today = dt_util.start_of_local_day()
        for entity_id, raw in stored.items():
            first_at = dt_util.parse_datetime(raw["first_at"])
            if first_at is not None and first_at >= today:
                self.meters[entity_id] = MeterDay(entity_id, raw["name"], raw["first"], first_at, raw["last"])

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
        if meter is None or meter.first_at < dt_util.start_of_local_day() or value < meter.first:
            # A new day, or the meter was reset: start counting again from here.
            self.meters[entity_id] = MeterDay(entity_id, state.name, value, now, value)
        else:
            meter.last = value
        self._store.async_delay_save(self._snapshot, 10)

    def _snapshot(self) -> dict[str, Any]:
        return {
            m.entity_id: {
                "name": m.name,
                "first": m.first,
                "first_at": m.first_at.isoformat(),
                "last": m.last,
            }
            for m in self.meters.values()
        }

    def today(self) -> list[MeterDay]:
        start = dt_util.start_of_local_day()
        return [m for m in self.meters.values() if m.first_at >= start]

"""The weather agent: the forecast for the plan's hours from the engine's weather service.

Providers come from ``build_providers``: the local station (the outdoor sensors in the store)
always; network providers are not switched on by the add-on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.weather import TEMPERATURE, WeatherConfig, WeatherResult, WeatherService, build_providers
from ..store import Store, StoreDb
from .base import Agent
from .bus import EventBus
from .site import Location, site_entities

STATION_DAYS = 3


class WeatherAgent(Agent):
    name = "weather"

    def __init__(self, bus: EventBus, store: Store) -> None:
        super().__init__(bus)
        self.store = store
        self.roles: Mapping[str, str] = {}  # the owner's choices (the ``roles`` option), set by the orchestrator
        self._service: WeatherService | None = None
        self._until: datetime | None = None  # the run's time: the station's history ends there

    async def _station(self) -> dict[str, Any]:
        # The run's own time, not the wall clock: a run for a given moment (a replay, a test) reads
        # the station as it was then.
        now = (self._until or datetime.now(UTC)).timestamp()
        out: dict[str, Any] = {}
        meta = (await site_entities(self.store, now - STATION_DAYS * 86400, now, self.roles)).get("outdoor")
        if meta is not None:
            rows = await self.store.call(StoreDb.hourly, meta.entity_id, now - STATION_DAYS * 86400, now, now)
            out[TEMPERATURE] = [(datetime.fromtimestamp(r.hour + 1800, UTC), r.mean) for r in rows
                                if r.mean is not None]
        return out

    async def fetch(self, start: datetime, hours: int, where: Location | None) -> WeatherResult:
        if where is None:
            raise LookupError("the site's location is unknown (Home Assistant's configuration gives it)")
        if self._service is None or (self._service.latitude, self._service.longitude) != (where.latitude,
                                                                                         where.longitude):
            config = WeatherConfig(latitude=where.latitude, longitude=where.longitude, local_station=True)
            self._service = WeatherService(build_providers(config, station_history=self._station),
                                           latitude=where.latitude, longitude=where.longitude,
                                           ttl=timedelta(minutes=30))
        self._until = start
        result = await self._service.fetch(start, hours)
        await self.emit("weather_ready", source=result.source, stale=result.stale)
        return result

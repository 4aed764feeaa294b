"""The data agent: the building's hourly history from the store, as engine series."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from ..engine.series import HourlySeries
from ..store import HourlyRow, Store, StoreDb
from .base import Agent
from .bus import EventBus
from .site import SiteData, site_entities, to_kw

HISTORY_DAYS = 28


class DataAgent(Agent):
    name = "data"

    def __init__(self, bus: EventBus, store: Store, *, days: int = HISTORY_DAYS) -> None:
        super().__init__(bus)
        self.store = store
        self.days = days
        self.roles: Mapping[str, str] = {}  # the owner's choices (the ``roles`` option), set by the orchestrator

    async def collect(self, now: datetime) -> SiteData:
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=self.days)
        site = SiteData(now=end)
        for role, meta in (await site_entities(self.store, start.timestamp(), end.timestamp(), self.roles)).items():
            rows = await self.store.call(StoreDb.hourly, meta.entity_id, start.timestamp(), end.timestamp(),
                                         now.timestamp())
            if not rows:
                continue
            series = await asyncio.to_thread(_series, rows, start, self.days * 24, meta.unit, role)
            site.series[role] = series
            site.entities[role] = meta.entity_id
            last = rows[-1].last
            if last is not None:
                site.latest[role] = to_kw(last, meta.unit) if role in ("load", "pv", "hvac_power") else last
        await self.emit("data_ready", roles=sorted(site.series), hours=self.days * 24)
        return site


    async def load_history(self, now: datetime, days: int) -> HourlySeries | None:
        """The load alone over a longer window (savings verification trains on weeks before a change)."""
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=days)
        meta = (await site_entities(self.store, start.timestamp(), end.timestamp(), self.roles)).get("load")
        if meta is None:
            return None
        rows = await self.store.call(StoreDb.hourly, meta.entity_id, start.timestamp(), end.timestamp(),
                                     now.timestamp())
        if not rows:
            return None
        return await asyncio.to_thread(_series, rows, start, days * 24, meta.unit, "load")


def _series(rows: list[HourlyRow], start: datetime, hours: int, unit: str | None, role: str) -> HourlySeries:
    values = np.full(hours, np.nan)
    base = start.timestamp()
    energy = unit in ("Wh", "kWh")
    for row in rows:
        i = round((row.hour - base) / 3600)
        if 0 <= i < hours:
            value = row.delta if energy else row.mean
            if value is not None:
                values[i] = to_kw(value, unit) if role in ("load", "pv", "hvac_power") else value
    return HourlySeries(start, values)

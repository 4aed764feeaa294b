"""The analysis agent: base load, schedules, always-on waste and anomalies, all from the engine."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import numpy as np

from ..engine.forecast import seasonal_naive
from ..engine.patterns import always_on_waste, base_load, detect_anomalies, schedules
from ..engine.series import HourlySeries
from .base import Agent
from .bus import EventBus
from .site import SiteData

DAY = 24
RECENT_DAYS = 7  # "always on" now: the last week against the site's best weeks


class AnalysisAgent(Agent):
    name = "analysis"

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus)
        self._reported: set[str] = set()  # anomalies already announced: an event fires once

    async def analyse(self, site: SiteData, tz: str, mean_price: float) -> dict[str, Any]:
        load = site.series.get("load")
        if load is None or not np.isfinite(load.values).any():
            raise LookupError("no load history in the store (an energy or power sensor)")
        result = await asyncio.to_thread(_analyse, load, tz, mean_price)
        for event in result["anomalies"].events:
            key = f"{event.start.isoformat()}/{event.direction}"
            if event.direction == "high" and key not in self._reported:
                self._reported.add(key)
                await self.emit("anomaly", start=event.start.isoformat(), hours=event.hours,
                                excess_kwh=round(event.energy_excess_kwh, 3), reason=event.reason)
        return result


def _analyse(load: HourlySeries, tz: str, mean_price: float) -> dict[str, Any]:
    last_day = load.end - timedelta(hours=DAY)
    band = seasonal_naive(load.window(load.start, len(load) - DAY), last_day, DAY)
    return {
        "base_load": base_load(load, tz),
        "schedules": schedules(load, tz),
        "waste": always_on_waste(load, tz, price_per_kwh=mean_price, recent_days=RECENT_DAYS),
        "anomalies": detect_anomalies(band, load),
    }

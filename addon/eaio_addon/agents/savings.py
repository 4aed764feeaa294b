"""The savings agent: verified savings of applied recommendations (the engine's M&V), into memory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import functools
from typing import Any

from ..engine.savings import SavingsReport, TimeOfWeekTemperatureBaseline, verify_savings
from ..engine.series import HourlySeries
from .base import Agent
from .bus import EventBus
from .data import DataAgent
from .memory import AgentMemory

VERIFY_AFTER = timedelta(days=1)  # less than a day of reporting says nothing
HISTORY_DAYS = 120  # the baseline's training and validation folds need weeks before the change


class SavingsAgent(Agent):
    name = "savings"

    def __init__(self, bus: EventBus, memory: AgentMemory) -> None:
        super().__init__(bus)
        self.memory = memory

    async def verify(self, data: DataAgent, now: datetime, tz: str) -> dict[str, Any]:
        """Verify every applied recommendation old enough; returns ``{rec_id: report or reason}``."""
        applied = [(rec_id, at) for rec_id, at in await self.memory.applied()
                   if now - datetime.fromtimestamp(at, UTC) >= VERIFY_AFTER]
        if not applied:
            return {}
        load = await data.load_history(now, HISTORY_DAYS)
        if load is None:
            raise LookupError("no load history to verify savings against")
        out: dict[str, Any] = {}
        for rec_id, at in applied:
            when = datetime.fromtimestamp(at, UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            try:
                report = await asyncio.to_thread(_verify, load, when, tz)
            except ValueError as err:  # too little history before the change: say so, try again next run
                out[rec_id] = str(err)
                continue
            await self.memory.record("verified", {"id": rec_id, "category": "", "action": {}},
                                     saving_kwh=round(report.savings_kwh, 3))
            out[rec_id] = report
            await self.emit("savings_verified", id=rec_id, kwh=round(report.savings_kwh, 3),
                            uncertainty_kwh=round(report.uncertainty_kwh, 3), significant=report.significant)
        return out


def _verify(load: HourlySeries, applied_at: datetime, tz: str) -> SavingsReport:
    return verify_savings(load, applied_at, functools.partial(TimeOfWeekTemperatureBaseline, tz))

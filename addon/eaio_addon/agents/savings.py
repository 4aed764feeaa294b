"""The savings agent: verified savings of applied recommendations (the engine's M&V), into memory, and the
realized savings of what the executor carried out of the pushed plans (``realized.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import functools
import math
from typing import Any
from zoneinfo import ZoneInfo

from ..engine.savings import SavingsReport, TimeOfWeekTemperatureBaseline, verify_savings
from ..engine.series import HourlySeries
from ..options import Options
from .base import Agent
from .bus import EventBus
from .data import DataAgent
from .feedback import Feedback, open_window
from .memory import AgentMemory
from .plan_push import BATTERY_KEY, CAR_KEY
from .realized import Realized, battery_realized, executed_hours, shift_realized, total
from .site import SiteData

EXECUTED_DAYS = 30  # realized savings: what the executor did over the last month
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


async def verify_plans(feedback: Feedback, site: SiteData | None, options: Options, now: datetime,
                       tz: str) -> dict[str, Any] | None:
    """Realized savings per controllable and in total over the last ``EXECUTED_DAYS``; None: nothing executed
    (or an integration that does not report its executions)."""
    executions = await feedback.executions(now - timedelta(days=EXECUTED_DAYS))
    if not executions:
        return None
    zone = ZoneInfo(tz)

    def price(at: datetime) -> float:
        local = at.astimezone(zone)
        return options.price_at(local.hour * 60 + local.minute)

    def hourly(role: str) -> Callable[[datetime], float | None]:
        series = site.series.get(role) if site is not None else None

        def at(when: datetime) -> float | None:
            if series is None:
                return None
            k = int((when - series.start) / timedelta(hours=1))
            value = float(series.values[k]) if 0 <= k < len(series) else math.nan
            return value if math.isfinite(value) else None

        return at

    items: list[Realized] = []
    notes: list[str] = []
    battery = options.battery
    ran = executed_hours(executions, BATTERY_KEY)
    if battery is not None and ran:
        controllables = await feedback.controllables() or []
        item = next((c for c in controllables if c.get("plan_key") == BATTERY_KEY), {})
        entity = item.get("feedback_entity") or battery.soc_entity
        if entity:
            soc = await feedback.readings(entity, min(ran) - timedelta(hours=1), now)
            eff = math.sqrt(battery.round_trip_efficiency)
            found = battery_realized(ran, soc, hourly("load"), hourly("pv"), price, battery.capacity_kwh, eff, eff,
                                     now)
            if found is not None:
                items.append(found)
        else:
            notes.append("battery: no state-of-charge sensor to measure what it did")
    for load in options.deferrable_loads:
        done = {t: load.power_kw for t, v in executed_hours(executions, load.key).items() if v is True}
        found = shift_realized(load.key, done, _window_of(load.earliest_minute, load.window_minutes, zone), price)
        if found is not None:
            items.append(found)
    if options.ev is not None:
        charged = {t: float(v) for t, v in executed_hours(executions, CAR_KEY).items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}
        found = shift_realized(CAR_KEY, charged, _window_of(options.ev.plugged_in_minute, options.ev.window_minutes,
                                                            zone), price)
        if found is not None:
            items.append(found)
    if not items and not notes:
        return None
    return {"days": EXECUTED_DAYS, "by_controllable": {r.key: r.as_dict() for r in items}, "total": total(items),
            "notes": notes}


def _window_of(start_minute: int, minutes: int, zone: ZoneInfo) -> Callable[[datetime], datetime | None]:
    def begin(at: datetime) -> datetime | None:
        window = open_window(at + timedelta(seconds=1), start_minute, minutes, zone)
        return window[0] if window is not None else None
    return begin


def _verify(load: HourlySeries, applied_at: datetime, tz: str) -> SavingsReport:
    return verify_savings(load, applied_at, functools.partial(TimeOfWeekTemperatureBaseline, tz))

"""What the MCP energy server serves, from the running add-on (``runtime.energy_backend``).

Reads come from the store and the last run; apply and dismiss go to Home Assistant through the
outbox as ``eaio.apply_recommendation`` / ``eaio.dismiss_recommendation``, so the integration's
bounds and audit apply, never to a device directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.optimize.potential import Way, savings_potential
from ..engine.series import HourlySeries
from ..store import Store, StoreDb
from .load import battery_spec
from .memory import AgentMemory
from .orchestrator import Orchestrator
from .plots import plots
from .site import price_series

MAX_HISTORY_HOURS = 24 * 90
# Meters that count energy sent out or made here: not consumption.
_NOT_CONSUMPTION = re.compile(r"export|feed_?in|return|sold|production|generat|solar|\bpv|_pv|einspeis", re.IGNORECASE)


class AddonEnergyBackend:
    def __init__(self, store: Store, orchestrator: Orchestrator, memory: AgentMemory, wake_sender: Callable[[], None],
                 health: Callable[[], Any]) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self.memory = memory
        self._wake = wake_sender
        self._health = health
        self._potential: tuple[tuple[str, int], dict[str, Any] | str] | None = None  # (run, days) -> report or why

    async def status(self) -> dict[str, Any]:
        health = await self._health()
        last = self.orchestrator.last
        return {"health": health, "last_run": last.api() if last is not None else None,
                "open_recommendations": len(await self.store.call(StoreDb.recommendations)),
                "energy_today_kwh": await self.energy_today_kwh()}

    async def history(self, entity_id: str, hours: int) -> dict[str, Any]:
        if not 1 <= hours <= MAX_HISTORY_HOURS:
            raise ValueError(f"hours must be 1..{MAX_HISTORY_HOURS}")
        now = time.time()
        rows = await self.store.call(StoreDb.hourly, entity_id, now - hours * 3600, now, now)
        metas = {e.entity_id: e for e in await self.store.call(StoreDb.entities)}
        if not rows:
            raise LookupError(f"no history for {entity_id}; the store has: {', '.join(metas) or 'nothing yet'}")
        unit = metas[entity_id].unit if entity_id in metas else None
        return {"entity_id": entity_id, "unit": unit, "hours": [
            {"start": datetime.fromtimestamp(r.hour, UTC).isoformat(), "mean": r.mean, "min": r.minimum,
             "max": r.maximum, "delta": r.delta} for r in rows]}

    async def forecast(self, hours: int) -> dict[str, Any]:
        ctx = self.orchestrator.last_context
        if ctx is None or ctx.forecast is None:
            raise LookupError("no forecast yet: no optimization run has produced one")
        n = max(1, min(hours, len(ctx.forecast)))
        times = [(ctx.forecast.start + timedelta(hours=k)).isoformat() for k in range(n)]
        return {"method": ctx.forecast.method, "unit": "kW", "times": times,
                "p10": [round(float(v), 3) for v in ctx.forecast.p10[:n]],
                "p50": [round(float(v), 3) for v in ctx.forecast.p50[:n]],
                "p90": [round(float(v), 3) for v in ctx.forecast.p90[:n]],
                "total_kwh_p50": round(float(ctx.forecast.p50[:n].sum()), 2)}

    async def run_optimization(self) -> dict[str, Any]:
        return (await self.orchestrator.run("mcp")).api()

    async def recommendations(self) -> list[dict[str, Any]]:
        recs = await self.store.call(StoreDb.recommendations)
        out = []
        for rec in recs:
            outcome = await self.memory.outcomes(rec["id"])
            out.append({**rec, "state": outcome["state"] or "open",
                        "verified_savings_kwh": outcome["verified_savings_kwh"]})
        return out

    async def _call(self, service: str, rec_id: str) -> dict[str, Any]:
        known = {r["id"] for r in await self.store.call(StoreDb.recommendations)}
        if rec_id not in known:
            raise LookupError(f"no open recommendation {rec_id!r}; open: {', '.join(sorted(known)) or 'none'}")
        item = await self.store.call(StoreDb.enqueue, "eaio", service, {"recommendation_id": rec_id})
        self._wake()
        return {"queued": True, "push_id": item.push_id, "service": f"eaio.{service}", "recommendation_id": rec_id}

    async def apply_recommendation(self, rec_id: str) -> dict[str, Any]:
        return await self._call("apply_recommendation", rec_id)

    async def dismiss_recommendation(self, rec_id: str) -> dict[str, Any]:
        return await self._call("dismiss_recommendation", rec_id)

    async def verified_savings(self) -> dict[str, Any]:
        return await self.memory.verified_total()

    async def page_potential(self, days: int = 30) -> dict[str, Any] | str:
        """The savings report for the add-on page, made once per optimization run (the page refreshes every
        15 s); the reason in words when there is none."""
        last = self.orchestrator.last
        key = (last.run_id if last is not None else "", days)
        if self._potential is None or self._potential[0] != key:
            try:
                report: dict[str, Any] | str = await self.savings_potential(days)
            except (LookupError, ValueError) as err:  # no battery, no run yet, or too little history
                report = str(err)
            self._potential = (key, report)
        return self._potential[1]

    async def savings_potential(self, days: int) -> dict[str, Any]:
        """What the home battery would have saved over the last ``days`` days: with EAIO's plans
        followed (on the forecasts it issued), with perfect foresight, and with the self-consumption rule."""
        ctx = self.orchestrator.last_context
        battery = self.orchestrator.options.battery
        if battery is None:
            raise LookupError("no home battery in the options: nothing to report")
        if ctx is None or ctx.site is None or "load" not in ctx.site.series:
            raise LookupError("no load history yet: no optimization run has read it")
        zone = ZoneInfo(ctx.tz)
        today = ctx.now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        start = (today - timedelta(days=days)).astimezone(UTC)
        before = start - timedelta(days=8)
        hours = int((today.astimezone(UTC) - before) / timedelta(hours=1)) + 48
        issued = await self.store.call(StoreDb.issued_forecasts, start.timestamp(), today.timestamp())
        values = np.full(days * 24 + 48, np.nan)
        for hour, _issued, p50 in issued:
            k = round((hour - start.timestamp()) / 3600)
            if 0 <= k < values.size:
                values[k] = p50
        price = price_series(self.orchestrator.options, before, hours, ctx.tz)
        spec = battery_spec(battery, battery.min_soc)
        report = await asyncio.to_thread(
            savings_potential, ctx.site.series["load"], ctx.site.series.get("pv"), price, spec, start=start,
            days=days, tz=zone, issued_load=HourlySeries(start, values))
        share = report.share_of_perfect

        def way(w: Way) -> dict[str, float]:
            return {"cost": round(w.cost, 2), "saving": round(w.saving, 2),
                    "saving_pct": round(100.0 * w.saving / report.cost_without, 1) if report.cost_without else 0.0}

        return {"controllable": "battery", "days": days, "from": start.astimezone(zone).date().isoformat(),
                "currency": ctx.location.currency if ctx.location is not None else "",
                "cost_without_battery": round(report.cost_without, 2),
                "plan_followed": way(report.plan_followed), "perfect_foresight": way(report.perfect_foresight),
                "simple_rule": way(report.simple_rule),
                "plan_share_of_perfect_pct": None if share is None else round(100.0 * share, 1),
                "notes": list(report.notes)}

    async def energy_today_kwh(self) -> float | None:
        used = await self.energy_used_kwh("today", time.time())
        return None if used is None else round(used[0], 2)

    async def energy_used_kwh(self, period: str, now: float) -> tuple[float, float] | None:
        """Energy used since the local day's, week's (Monday) or month's start up to the load meter's latest
        reading (kWh, and that reading's time); None without a load entity or readings.

        From the store, which every reading updates, not from the last run: "today" follows the meter.
        """
        ctx = self.orchestrator.last_context
        metas = {e.entity_id: e for e in await self.store.call(StoreDb.entities)}
        entity_id = ctx.site.entities.get("load") if ctx is not None and ctx.site is not None else None
        if entity_id is None:  # before the first run: a consumption meter the store learns from
            entity_id = next((e.entity_id for e in metas.values() if e.device_class == "energy"
                              and not _NOT_CONSUMPTION.search(f"{e.entity_id} {e.name or ''}")), None)
        if entity_id is None:
            return None
        zone = ZoneInfo(ctx.tz if ctx is not None else "UTC")
        local = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
        if period == "week":
            local -= timedelta(days=local.weekday())
        elif period == "month":
            local = local.replace(day=1)
        start = local.timestamp()
        rows = await self.store.call(StoreDb.hourly, entity_id, start, now + 1, now)
        recent = await self.store.call(StoreDb.readings_between, entity_id, max(start, now - 7200), now + 1)
        if not rows:
            return None
        meta = metas.get(entity_id)
        scale = 0.001 if meta is not None and meta.unit in ("W", "Wh") else 1.0
        total = 0.0
        for row in rows:
            if row.delta is not None:
                total += row.delta * scale
            elif row.mean is not None:  # a power sensor: its mean over the part of the hour that has passed
                total += row.mean * scale * min(1.0, max(0.0, (now - row.hour) / 3600))
        latest = recent[-1].ts if recent else min(now, rows[-1].hour + 3600)
        return total, latest

    async def plots(self) -> dict[str, Any]:
        recs = [{"id": r["id"], "title": r["title"], "category": r["category"],
                 "estimated_savings_kwh_per_day": r.get("estimated_savings_kwh_per_day", 0.0),
                 "estimated_savings_per_day": r.get("estimated_savings_per_day", 0.0),
                 "verified_savings_kwh": r["verified_savings_kwh"], "state": r["state"]}
                for r in await self.recommendations()]
        return plots(self.orchestrator.last_context, recs)

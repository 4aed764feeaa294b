"""What the MCP energy server serves, from the running add-on (``runtime.energy_backend``).

Reads come from the store and the last run; apply and dismiss go to Home Assistant through the
outbox as ``eaio.apply_recommendation`` / ``eaio.dismiss_recommendation``, so the integration's
bounds and audit apply, never to a device directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import time
from typing import Any
from zoneinfo import ZoneInfo

from ..store import Store, StoreDb
from .memory import AgentMemory
from .orchestrator import Orchestrator
from .plots import plots

MAX_HISTORY_HOURS = 24 * 90


class AddonEnergyBackend:
    def __init__(self, store: Store, orchestrator: Orchestrator, memory: AgentMemory, wake_sender: Callable[[], None],
                 health: Callable[[], Any]) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self.memory = memory
        self._wake = wake_sender
        self._health = health

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

    async def energy_today_kwh(self) -> float | None:
        ctx = self.orchestrator.last_context
        if ctx is None or ctx.site is None or "load" not in ctx.site.series:
            return None
        load = ctx.site.series["load"]
        midnight = ctx.now.astimezone(ZoneInfo(ctx.tz)).replace(hour=0, minute=0, second=0, microsecond=0)
        values = load.window(midnight, int((ctx.now - midnight) / timedelta(hours=1))).values
        return round(float(values[values == values].sum()), 2)  # NaN != NaN: gaps left out

    async def plots(self) -> dict[str, Any]:
        recs = [{"id": r["id"], "title": r["title"], "category": r["category"],
                 "estimated_savings_kwh_per_day": r.get("estimated_savings_kwh_per_day", 0.0),
                 "estimated_savings_per_day": r.get("estimated_savings_per_day", 0.0),
                 "verified_savings_kwh": r["verified_savings_kwh"], "state": r["state"]}
                for r in await self.recommendations()]
        return plots(self.orchestrator.last_context, recs)

"""Agent memory: what was proposed and what became of it, kept in the store and used.

A recommendation's *form* is its category, its action target and its value; a form the user
dismissed ``DISMISS_LIMIT`` times is not proposed again (a value within ``SIMILAR`` of a
dismissed one counts as the same form).
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any

from ..store import Decision, Store, StoreDb

DISMISS_LIMIT = 2
SIMILAR = 0.5  # °C, kW or kWh: closer than this is the same proposal to a person
KINDS = ("proposed", "applied", "dismissed", "expired", "verified")


@dataclass(frozen=True)
class Form:
    category: str
    target: str
    value: str | None

    def similar(self, other: Form) -> bool:
        if (self.category, self.target) != (other.category, other.target):
            return False
        a, b = _number(self.value), _number(other.value)
        if a is not None and b is not None:
            return abs(a - b) < SIMILAR
        return self.value == other.value


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def form_of(rec: dict[str, Any]) -> Form:
    """The form of a recommendation as the integration sends it back (or as the strategy makes it)."""
    action = rec.get("action") or {}
    target = (rec.get("target_entity") or action.get("point") or action.get("service")
              or rec.get("method") or "")
    value = rec.get("proposed_value")
    return Form(str(rec.get("category", "")), str(target), None if value is None else str(value))


class AgentMemory:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, kind: str, rec: dict[str, Any], *, saving_kwh: float | None = None,
                     run_id: str | None = None, at: float | None = None) -> None:
        await self.record_many(kind, [rec], saving_kwh=saving_kwh, run_id=run_id, at=at)

    async def record_many(self, kind: str, recs: list[dict[str, Any]], *, saving_kwh: float | None = None,
                          run_id: str | None = None, at: float | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown decision kind {kind!r} (one of {', '.join(KINDS)})")
        now = time.time() if at is None else at
        rows = []
        for rec in recs:
            form = form_of(rec)
            rows.append(Decision(now, str(rec.get("id", "")), kind, form.category, form.target, form.value,
                                 saving_kwh, run_id))
        if rows:
            await self.store.call(StoreDb.add_decisions, rows)

    async def on_ha_event(self, data: dict[str, Any]) -> str | None:
        """Record an ``eaio_recommendation`` event's outcome; returns the kind recorded (None if not one)."""
        kind = data.get("type")
        if kind in ("applied", "dismissed", "expired") and data.get("id"):
            await self.record(str(kind), data)
            return str(kind)
        return None

    async def dismissed_forms(self) -> list[tuple[Form, int]]:
        rows = await self.store.call(StoreDb.decisions, kind="dismissed")
        counts: list[tuple[Form, int]] = []
        for row in rows:
            form = Form(row.category, row.target, row.value)
            for i, (known, n) in enumerate(counts):
                if known.similar(form):
                    counts[i] = (known, n + 1)
                    break
            else:
                counts.append((form, 1))
        return counts

    async def suppressed(self, rec: dict[str, Any]) -> bool:
        """Whether the user dismissed this form (or a similar one) at least ``DISMISS_LIMIT`` times."""
        form = form_of(rec)
        rows = await self.store.call(StoreDb.decisions, kind="dismissed", category=form.category, target=form.target)
        return sum(1 for row in rows if form.similar(Form(form.category, form.target, row.value))) >= DISMISS_LIMIT

    async def outcomes(self, rec_id: str) -> dict[str, Any]:
        rows = await self.store.call(StoreDb.decisions, rec_id=rec_id)
        out: dict[str, Any] = {"state": None, "verified_savings_kwh": None}
        for row in rows:
            if row.kind == "verified":
                out["verified_savings_kwh"] = row.saving_kwh
            else:
                out["state"] = {"proposed": "open"}.get(row.kind, row.kind)
        return out

    async def applied(self) -> list[tuple[str, float]]:
        """Recommendations applied (the latest time each), newest last."""
        latest: dict[str, float] = {}
        for row in await self.store.call(StoreDb.decisions, kind="applied"):
            latest[row.rec_id] = max(row.ts, latest.get(row.rec_id, row.ts))
        return sorted(latest.items(), key=lambda item: item[1])

    async def verified_total(self) -> dict[str, Any]:
        rows = await self.store.call(StoreDb.decisions, kind="verified")
        latest = {row.rec_id: row.saving_kwh for row in rows}
        return {"recommendations": len(latest), "kwh": round(sum(v or 0.0 for v in latest.values()), 3),
                "by_recommendation": latest}

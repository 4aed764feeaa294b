"""The strategy agent: ranks, deduplicates, drops what the user keeps refusing, explains, emits."""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Any

from .base import Agent
from .bus import EventBus
from .candidate import Candidate
from .explain import Explainer, Explanation, TemplateExplainer, currency_of
from .memory import AgentMemory, form_of

MAX_RECOMMENDATIONS = 10
_ID = re.compile(r"[^a-z0-9_.-]+")


@dataclass(frozen=True)
class Strategy:
    recommendations: list[dict[str, Any]]
    suppressed: list[str]  # ids not proposed: dismissed repeatedly in this form
    explained_by: str
    explain_error: str | None


def rec_id(c: Candidate) -> str:
    return _ID.sub("-", f"{c.category}-{c.key}".lower()).strip("-")[:128]


READ_ONLY_DOMAINS = ("sensor", "binary_sensor")  # a meter reads; nobody sets it to a proposed value


def to_recommendation(c: Candidate, description: str) -> dict[str, Any]:
    """The recommendation in the schema ``eaio.submit_recommendations`` validates.

    A target that only measures (the import meter an always-on finding was read from) is where the
    finding was read, not something to set: a person shown "energy meter: 0.30" could do nothing with
    it, so no proposed value goes out with it (the title and reasons carry the figure with its unit).
    """
    rec: dict[str, Any] = {
        "id": rec_id(c),
        "category": c.category,
        "title": c.title[:200],
        "description": description,
        "action": c.action,
        "target_entity": c.target_entity,
        "proposed_value": c.proposed_value,
        "estimated_savings_kwh_per_day": max(0.0, round(c.kwh_per_day, 3)),
        "estimated_savings_per_day": max(0.0, round(c.money_per_day, 3)),
        "confidence": min(1.0, max(0.0, c.confidence)),
        "method": c.method,
        "reasons": [str(r) for r in c.reasons],
    }
    if c.target_entity is not None and c.target_entity.split(".", 1)[0] in READ_ONLY_DOMAINS:
        rec["proposed_value"] = None
    if rec["target_entity"] is None:
        del rec["target_entity"]
    if c.valid_until is not None:
        rec["valid_until"] = c.valid_until.isoformat()
    return rec


class StrategyAgent(Agent):
    name = "strategy"

    def __init__(self, bus: EventBus, memory: AgentMemory, explainer: Explainer | None = None) -> None:
        super().__init__(bus)
        self.memory = memory
        self.explainer: Explainer = explainer or TemplateExplainer()

    async def decide(self, candidates: list[Candidate], open_recs: list[dict[str, Any]],
                     currency: str | None = None) -> Strategy:
        """``currency``: Home Assistant's; when not given, the one the candidates' facts name."""
        best: dict[str, Candidate] = {}
        for c in candidates:  # the same proposal twice: keep the better one
            if c.key not in best or c.score > best[c.key].score:
                best[c.key] = c
        kept: list[Candidate] = []
        suppressed: list[str] = []
        for c in best.values():
            draft = to_recommendation(c, "")
            if await self.memory.suppressed(draft):
                suppressed.append(draft["id"])
            else:
                kept.append(c)
        explanation: Explanation = await self.explainer.explain(kept, currency or currency_of(candidates))
        by_key = {c.key: c for c in kept}
        open_by_form = {form_of(r): r["id"] for r in open_recs if "id" in r}
        out: list[dict[str, Any]] = []
        for key in explanation.order[:MAX_RECOMMENDATIONS]:
            rec = to_recommendation(by_key[key], explanation.descriptions.get(key, ""))
            for form, existing in open_by_form.items():  # already open in this form: same id, no duplicate
                if form.similar(form_of(rec)):
                    rec["id"] = existing
                    break
            if any(r["id"] == rec["id"] for r in out):
                continue
            out.append(rec)
        await self.emit("recommendations_ready", count=len(out), suppressed=suppressed)
        return Strategy(out, suppressed, explanation.source, explanation.error)

"""How the strategy words its recommendations: a template, or the local LLM with the engine's numbers.

The LLM gets each candidate's numbers and returns a ranking and wording; a sentence that carries
a number not among the candidate's own is not used (the template's is), so every figure a
person reads is the engine's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import logging
import re
from typing import Any, Protocol

from ..wording import money
from .candidate import Candidate
from .site import RunContext

_LOGGER = logging.getLogger(__name__)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Explanation:
    order: list[str]  # candidate keys, best first
    descriptions: dict[str, str]
    source: str  # "template" or "llm:<model>"
    error: str | None = None


class Explainer(Protocol):
    async def explain(self, candidates: list[Candidate], currency: str = "") -> Explanation: ...


CURRENCY = "currency"  # the candidate's fact that carries Home Assistant's currency code


def currency_fact(ctx: RunContext) -> dict[str, float | str]:
    """``{"currency": "EUR"}`` for a candidate's facts, when Home Assistant said which currency it uses."""
    currency = ctx.location.currency if ctx.location is not None else ""
    return {CURRENCY: currency} if currency else {}


def currency_of(candidates: list[Candidate]) -> str:
    """The currency the candidates' money is in (every agent prices in Home Assistant's one)."""
    return next((str(c.facts[CURRENCY]) for c in candidates if c.facts.get(CURRENCY)), "")


def score_order(candidates: list[Candidate]) -> list[str]:
    return [c.key for c in sorted(candidates, key=lambda c: (-c.score, c.key))]


def template_text(c: Candidate, currency: str = "") -> str:
    # A shift in time (a battery, pre-heating) saves money, not energy: no "0.00 kWh" then.
    cost = money(c.money_per_day, currency)
    saving = f"{c.kwh_per_day:.2f} kWh and {cost}" if round(c.kwh_per_day, 2) > 0 else cost
    parts = [f"{c.title}: saves about {saving} a day (confidence {c.confidence:.0%})."]
    parts += [r.rstrip(".") + "." for r in c.reasons[:3]]
    return " ".join(parts)


class TemplateExplainer:
    async def explain(self, candidates: list[Candidate], currency: str = "") -> Explanation:
        return Explanation(score_order(candidates), {c.key: template_text(c, currency) for c in candidates},
                           "template")


def allowed_numbers(c: Candidate) -> set[float]:
    values = [c.kwh_per_day, c.money_per_day, c.confidence * 100, c.confidence]
    values += [v for v in c.facts.values() if isinstance(v, int | float)]
    if isinstance(c.proposed_value, int | float):
        values.append(float(c.proposed_value))
    for text in (c.title, *c.reasons):
        values += [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]
    return {round(float(v), 2) for v in values}


def numbers_ok(text: str, c: Candidate) -> bool:
    """Whether every number in ``text`` is one of the candidate's (to the cent)."""
    allowed = allowed_numbers(c)
    for token in _NUMBER.findall(text):
        value = round(float(token.replace(",", ".")), 2)
        if not any(abs(value - a) <= 0.011 for a in allowed):
            return False
    return True


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ranking": {"type": "array", "items": {"type": "string"}},
        "descriptions": {"type": "array", "items": {
            "type": "object",
            "properties": {"key": {"type": "string"}, "text": {"type": "string", "minLength": 1}},
            "required": ["key", "text"]}},
    },
    "required": ["ranking", "descriptions"],
}


class StructuredLlm(Protocol):
    async def structured(self, messages: list[dict[str, Any]], schema: dict[str, Any], *, purpose: str) -> Any: ...


class LlmExplainer:
    """Ranking and wording from the local LLM; anything it gets wrong falls back to the template."""

    def __init__(self, llm: StructuredLlm, *, timeout_s: float = 60.0) -> None:
        self.llm = llm
        self.template = TemplateExplainer()
        # Below the strategy step's own timeout: a slow model costs the wording, never the run.
        self.timeout_s = timeout_s

    async def explain(self, candidates: list[Candidate], currency: str = "") -> Explanation:
        fallback = await self.template.explain(candidates, currency)
        if not candidates:
            return fallback
        facts = [{"key": c.key, "category": c.category, "title": c.title, "kwh_per_day": c.kwh_per_day,
                  "money_per_day": c.money_per_day, "currency": currency or None, "confidence": c.confidence,
                  "reasons": c.reasons, "facts": c.facts} for c in candidates]
        messages = [
            {"role": "system", "content": "You rank and explain energy-saving recommendations for a home. "
             "Use only the numbers given; do not compute new ones. Money is in the currency given (name it). "
             "Reply with JSON: 'ranking' (the keys, "
             "most worthwhile first) and 'descriptions' (one or two plain sentences per key)."},
            {"role": "user", "content": json.dumps(facts)},
        ]
        try:
            reply = await asyncio.wait_for(self.llm.structured(messages, SCHEMA, purpose="explain_recommendations"),
                                           self.timeout_s)
        except TimeoutError:
            return Explanation(fallback.order, fallback.descriptions, "template",
                               f"the language model did not answer within {self.timeout_s:g} s")
        if reply.data is None:
            return Explanation(fallback.order, fallback.descriptions, "template", reply.error)
        by_key = {c.key: c for c in candidates}
        ranking = [k for k in reply.data.get("ranking", []) if k in by_key]
        order = list(dict.fromkeys(ranking)) if sorted(set(ranking)) == sorted(by_key) else fallback.order
        descriptions = dict(fallback.descriptions)
        rejected = []
        for item in reply.data.get("descriptions", []):
            key, text = item.get("key"), str(item.get("text", "")).strip()
            if key in by_key and text:
                if numbers_ok(text, by_key[key]):
                    descriptions[key] = text
                else:
                    rejected.append(key)
        if rejected:
            _LOGGER.info("LLM wording for %s carried numbers not from the engine: template used", rejected)
        return Explanation(order, descriptions, f"llm:{reply.model}",
                           f"wording with foreign numbers replaced: {rejected}" if rejected else None)

"""The load agent: the plan of the site's load against the price, and always-on waste, from the engine."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ..engine.optimize import Plan, make_plan
from ..engine.patterns import AlwaysOnWaste
from .base import Agent
from .candidate import Candidate
from .optimizers import site_inputs
from .site import RunContext


class LoadAgent(Agent):
    name = "load"

    async def optimise(self, ctx: RunContext) -> list[Candidate]:
        site = site_inputs(ctx)
        plan: Plan = await asyncio.to_thread(make_plan, site)
        ctx.plans.setdefault("load", plan)
        out: list[Candidate] = []
        waste = (ctx.analysis or {}).get("waste")
        if isinstance(waste, AlwaysOnWaste) and waste.excess_kw > 0:
            out.append(_waste_candidate(ctx, waste))
        return out


def _waste_candidate(ctx: RunContext, waste: AlwaysOnWaste) -> Candidate:
    kwh_day = waste.excess_kw * 24.0
    money_day = (waste.cost_per_year or 0.0) / 365.0
    entity = (ctx.site.entities.get("load") if ctx.site else None) or None
    return Candidate(
        category="load",
        key="always-on",
        title=f"Cut always-on load by {waste.excess_kw:.2f} kW",
        action={"type": "none"},
        kwh_per_day=round(kwh_day, 3),
        money_per_day=round(money_day, 3),
        confidence=0.6 if "too_few_night_hours_base_load_uncertain" not in waste.reasons else 0.4,
        method="base_load_excess",
        reasons=[r.replace("_", " ").capitalize() for r in waste.reasons],
        facts={"base_kw": round(waste.base_kw, 3), "reference_kw": round(waste.reference_kw, 3),
               "excess_kw": round(waste.excess_kw, 3), "kwh_per_year": round(waste.kwh_per_year, 1)},
        target_entity=entity,
        proposed_value=round(waste.reference_kw, 2),
        valid_until=ctx.now + timedelta(days=7),
    )

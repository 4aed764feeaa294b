"""The load agent: the plan of the site's load against the price, and always-on waste, from the engine.

With a home battery in the options the plan includes it, and when the battery's schedule saves
money against leaving it idle the agent proposes that schedule (EAIO does not drive it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.optimize import Battery, Plan, PlanInfeasible, make_plan
from ..engine.patterns import AlwaysOnWaste
from ..engine.series import HOUR, FloatArray
from ..options import BatteryOptions
from ..store import Store, StoreDb
from .base import Agent
from .bus import EventBus
from .candidate import Candidate
from .optimizers import per_day, site_inputs
from .site import RunContext

SOC_LOOKBACK = timedelta(days=2)  # an older state of charge says nothing about the battery now
FLOW_KW = 1e-3  # smaller battery flows are no decision (as the engine's reasons)
STRETCH_KWH = 0.05  # a stretch moving less is not worth naming
BATTERY_CODES = ("charge_from_pv_surplus", "charge_from_grid_low_price", "discharge_peak_price",
                 "discharge_cover_load", "plan_summary")


class LoadAgent(Agent):
    name = "load"

    def __init__(self, bus: EventBus, store: Store | None = None) -> None:
        super().__init__(bus)
        self.store = store  # where the battery's state-of-charge sensor is read; None: min_soc is assumed

    async def optimise(self, ctx: RunContext) -> list[Candidate]:
        site = site_inputs(ctx)
        out: list[Candidate] = []
        battery = ctx.options.battery
        plan: Plan | None = None
        if battery is not None:
            soc, source = await self._soc(ctx, battery)
            spec = battery_spec(battery, soc)
            try:
                plan = await asyncio.to_thread(make_plan, site, battery=spec)
            except PlanInfeasible as err:  # the waste check below still runs
                ctx.notes.append(f"load: no battery plan: {err}")
            if plan is not None and plan.saving > 1e-6:
                candidate = _battery_candidate(ctx, plan, battery, spec, source)
                if candidate is not None:
                    out.append(candidate)
        if plan is None:
            plan = await asyncio.to_thread(make_plan, site)
        ctx.plans.setdefault("load", plan)
        waste = (ctx.analysis or {}).get("waste")
        if isinstance(waste, AlwaysOnWaste) and waste.excess_kw > 0:
            out.append(_waste_candidate(ctx, waste))
        return out

    async def _soc(self, ctx: RunContext, battery: BatteryOptions) -> tuple[float, str]:
        """The state of charge (%) the plan starts from, and where it comes from."""
        entity = battery.soc_entity
        if entity is None:
            return battery.min_soc, "min_soc"
        if self.store is None:
            ctx.notes.append("load: battery state of charge unknown here; min_soc assumed")
            return battery.min_soc, "min_soc"
        end = ctx.now + HOUR  # the current hour's row holds the newest reading
        rows = await self.store.call(StoreDb.hourly, entity, (end - SOC_LOOKBACK).timestamp(), end.timestamp())
        last = next((r.last for r in reversed(rows) if r.last is not None), None)
        if last is None:
            ctx.notes.append(f"load: no state of charge from {entity} in the last "
                             f"{SOC_LOOKBACK.days} days; min_soc assumed")
            return battery.min_soc, "min_soc"
        if not 0.0 <= last <= 100.0:
            ctx.notes.append(f"load: {entity} reads {last:g}, not a state of charge in %; min_soc assumed")
            return battery.min_soc, "min_soc"
        if not battery.min_soc <= last <= battery.max_soc:
            # The plan keeps the battery within its bounds, so it starts at the nearest one.
            ctx.notes.append(f"load: {entity} reads {last:g}%, outside min_soc..max_soc "
                             f"({battery.min_soc:g}..{battery.max_soc:g}%); the plan starts at the nearest bound")
        return min(max(last, battery.min_soc), battery.max_soc), entity


def battery_spec(battery: BatteryOptions, soc_pct: float) -> Battery:
    """The engine's battery for the options: starting at ``soc_pct`` and ending with at least as much.

    Ending where it started makes the plan's saving a saving of the schedule itself, not of
    energy already stored that the plan would sell off inside its horizon.
    """
    capacity = battery.capacity_kwh
    initial = capacity * soc_pct / 100.0
    return Battery.with_round_trip(
        capacity, battery.max_power_kw, battery.round_trip_efficiency,
        initial_soc_kwh=initial, soc_min_kwh=capacity * battery.min_soc / 100.0,
        soc_max_kwh=capacity * battery.max_soc / 100.0, terminal_soc_kwh=initial)


def _stretches(power: FloatArray) -> Iterator[tuple[int, int]]:
    """Half-open ``[start, end)`` hours where the battery moves energy worth naming."""
    mask = np.concatenate([[False], power > FLOW_KW, [False]])
    edges = np.flatnonzero(mask[1:] != mask[:-1])
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if float(power[a:b].sum()) >= STRETCH_KWH:
            yield int(a), int(b)


def _span(start: datetime, a: int, b: int, tz: ZoneInfo) -> str:
    return f"{(start + a * HOUR).astimezone(tz):%H:%M}-{(start + b * HOUR).astimezone(tz):%H:%M}"


def _battery_candidate(ctx: RunContext, plan: Plan, battery: BatteryOptions, spec: Battery,
                       soc_source: str) -> Candidate | None:
    assert plan.battery is not None
    tz = ZoneInfo(ctx.tz)
    day = min(24, plan.hours)
    # The schedule of the coming day: the stretches that start in it.
    charge = [s for s in _stretches(plan.battery.charge_kw) if s[0] < day]
    discharge = [s for s in _stretches(plan.battery.discharge_kw) if s[0] < day]
    if not charge and not discharge:
        return None
    charge_text = ", ".join(_span(plan.start, a, b, tz) for a, b in charge)
    discharge_text = ", ".join(_span(plan.start, a, b, tz) for a, b in discharge)
    if charge and discharge:
        title = f"Charge the battery {charge_text}, discharge {discharge_text}"
    elif charge:
        title = f"Charge the battery {charge_text}"
    else:
        title = f"Discharge the battery {discharge_text}"
    charged = float(plan.battery.charge_kw.sum())
    discharged = float(plan.battery.discharge_kw.sum())
    stored_change = float(plan.battery.soc_kwh[-1] - plan.battery.soc_kwh[0])
    # Energy the battery loses: what went in, less what came out and what is still stored.
    losses = max(0.0, charged - discharged - stored_change)
    # A battery moves energy, it does not save it: the kWh saved is the grid import it avoids
    # (PV surplus kept for later), 0 when it only moves grid energy to cheaper hours.
    import_avoided = max(0.0, plan.baseline.import_kwh - plan.totals.import_kwh)
    hours = plan.hours
    facts: dict[str, float | str] = {
        "charge": charge_text or "none", "discharge": discharge_text or "none",
        "plan_saving": round(plan.saving, 3), "hours": hours,
        "charge_kwh_per_day": round(per_day(charged, hours), 2),
        "discharge_kwh_per_day": round(per_day(discharged, hours), 2),
        "loss_kwh_per_day": round(per_day(losses, hours), 2),
        "capacity_kwh": round(battery.capacity_kwh, 2), "max_power_kw": round(battery.max_power_kw, 2),
        "round_trip_efficiency_pct": round(battery.round_trip_efficiency * 100, 1),
        "initial_soc_pct": round(spec.initial_soc_kwh / spec.capacity_kwh * 100, 1),
        "initial_soc_from": soc_source,
    }
    reasons = [r.message for r in plan.reasons if r.code in BATTERY_CODES and r.start < plan.start + day * HOUR]
    if losses > 1e-6:
        reasons.append(f"The battery loses {facts['loss_kwh_per_day']} kWh a day in charging and discharging")
    return Candidate(
        category="load",
        key="battery-schedule",
        title=title,
        action={"type": "none"},
        kwh_per_day=round(per_day(import_avoided, hours), 3),
        money_per_day=round(per_day(plan.saving, hours), 3),
        confidence=0.7 if soc_source != "min_soc" else 0.6,
        method="battery_dispatch",
        reasons=reasons[:5],
        facts=facts,
        valid_until=ctx.now + timedelta(days=1),
    )


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

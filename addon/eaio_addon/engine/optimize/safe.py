"""A battery plan that does no harm: never expected to cost or emit more than the battery's own
self-consumption mode, and no cycle whose gain is inside the forecast's error.

The comparison is the battery left to itself: it stores PV surplus and covers the net load
whenever it holds energy, never buying from the grid. Its expected cost and carbon on the same
forecasts are the ceiling for the plan:

- **carbon** is a constraint of the plan's model (``CarbonCap``): the plan may move energy to
  dearer hours only while the carbon it imports stays at or below the self-consumption mode's.
  The self-consumption schedule satisfies it, so the constraint never makes the plan worse
  than that mode on cost; and since that mode never imports more than the home without a
  battery, neither does the plan (in expectation: on the forecasts).
- **cost** (with the battery's wear, ``cycle_cost`` per kWh discharged) is checked after the
  solve; a plan that is expected to cost more than the self-consumption mode (possible when
  the battery must end the horizon fuller than it started, or the carbon cap cannot be met),
  or no plan at all, gives way to the self-consumption schedule.

Both sides value the energy left at the end the same way: what it can surely displace later
(the horizon's cheapest price, and lowest carbon, after the discharge loss).

**With a car and appliances in the plan** (``evs``, ``deferrables``) the comparison is the
same car charge and appliance runs placed as they would be without a battery (the cheapest
plan of them alone: what EAIO recommends for them when the battery is left to itself), the
battery in its self-consumption mode on the load they add. The guarded plan places the battery,
the car and the appliances together, with the wear plus the margin below on each kWh cycled and
the carbon ceiling on all its imports, so the car and appliances cannot be moved into dirtier
hours to make room for a cycle either; it is kept only when it is expected to cost and emit no
more than that comparison, else the plan is the comparison itself (the car and appliances where
the plan without a battery puts them, the battery in its own mode). That comparison is known
before the solve, so the ceiling can be a constraint of the model, and it is a schedule the
model may pick, so the guarded plan is refused only when the battery's own mode misses the
plan's end-of-horizon charge or the margin charged on each cycle tips the balance. A comparison
built from the joint plan's own placement would be known only after the solve, and a placement
chosen for the battery's trades could cost or emit more than the one the owner gets without
them. With appliance runs the model is a MIP, whose rows may overshoot by its feasibility
tolerance, so the check then allows ``MIP_SLACK`` more than ``TOLERANCE``.

**Uncertainty margin.** A cycle pays its round-trip loss whatever happens, and what it buys is
only worth it if the load it was bought for turns up. Each kWh discharged must clear, besides
the wear, the round-trip loss on the share of the planned energy the forecast cannot promise:
``margin = (1 - round trip) * mean price * u`` with ``u`` the load band's relative half-width
(P90 - P10) / (P90 + P10) averaged over the horizon. Cycles whose gain is inside that are not
planned; PV surplus, which costs nothing to store, still is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..series import FloatArray
from .baseline import totals
from .errors import PlanInfeasible
from .plan import make_plan, terminal_value
from .result import BatteryPlan, Expected, Guard, Plan
from .spec import Battery, CarbonCap, DeferrableRun, EVCharge, SiteInputs

SHIFT_CODES = ("ev_charge", "deferrable_scheduled")  # a plan's reasons about the car and appliances
TOLERANCE = 1e-6  # $ or kg: a plan this close to the self-consumption mode is not worse
MIP_SLACK = 1e-5  # $ or kg: more than a MIP's overshoot of a row (its feasibility tolerance, 1e-6)
SELF_CONSUMPTION_NOTE = "the battery's own self-consumption mode: no plan was expected to do better"

__all__ = ["SELF_CONSUMPTION_NOTE", "Expected", "expected", "plan_battery_safe", "self_consumption",
           "shifted_load", "uncertainty_margin"]


def uncertainty_margin(battery: Battery, price: FloatArray, low: FloatArray, high: FloatArray) -> float:
    """$ per kWh discharged that a cycle must clear on top of the wear (see the module)."""
    low, high = np.maximum(np.asarray(low, dtype=np.float64), 0.0), np.asarray(high, dtype=np.float64)
    total = low + high
    spread = np.where(total > 1e-9, (high - low) / np.maximum(total, 1e-9), 0.0)
    u = float(np.clip(np.mean(spread), 0.0, 1.0))
    loss = 1.0 - battery.charge_efficiency * battery.discharge_efficiency
    return loss * float(np.mean(price)) * u


def self_consumption(site: SiteInputs, battery: Battery) -> BatteryPlan:
    """The battery left to itself on these forecasts: store surplus, cover the net load."""
    h = site.hours
    net = site.load - site.pv
    charge, discharge, soc = np.zeros(h), np.zeros(h), np.empty(h + 1)
    soc[0] = level = battery.initial_soc_kwh
    for t in range(h):
        if net[t] < 0:
            room = max(battery.soc_max - level, 0.0) / battery.charge_efficiency
            charge[t] = min(-net[t], battery.max_charge_kw, room)
        else:
            spare = max(level - battery.soc_min_kwh, 0.0) * battery.discharge_efficiency
            discharge[t] = min(net[t], battery.max_discharge_kw, spare)
        level += charge[t] * battery.charge_efficiency - discharge[t] / battery.discharge_efficiency
        soc[t + 1] = level = min(max(level, battery.soc_min_kwh), battery.soc_max)
    return BatteryPlan(charge, discharge, soc)


def expected(site: SiteInputs, battery: Battery, schedule: BatteryPlan) -> Expected:
    """Expected cost (with wear) and carbon of a schedule on the site's forecasts."""
    grid = site.load - site.pv + schedule.charge_kw - schedule.discharge_kw
    imp, exp = np.maximum(grid, 0.0), np.maximum(-grid, 0.0)
    end = float(schedule.soc_kwh[-1])
    price_value = terminal_value(battery, site.price)
    carbon_value = battery.discharge_efficiency * float(np.min(site.co2))
    cost = float(site.price @ imp - site.export @ exp) + battery.cycle_cost * float(schedule.discharge_kw.sum())
    return Expected(cost - price_value * end, float(site.co2 @ imp) - carbon_value * end)


def shifted_load(plan: Plan) -> FloatArray:
    """The power the plan's car charging and appliance runs draw in each hour."""
    power = np.zeros(plan.hours)
    for drawn in [e.power_kw for e in plan.evs] + [d.power_kw for d in plan.deferrables]:
        power = power + drawn
    return power


def plan_battery_safe(
    site: SiteInputs,
    battery: Battery,
    *,
    evs: Sequence[EVCharge] = (),
    deferrables: Sequence[DeferrableRun] = (),
    load_band: tuple[FloatArray, FloatArray] | None = None,
    carbon_allowance_kg: float = 0.0,
    time_limit: float = 10.0,
    explain_plan: bool = True,
) -> Plan:
    """The battery's plan, never expected to cost or emit more than its self-consumption mode.

    ``evs`` and ``deferrables``: a car to charge and appliance runs to place in the same plan;
    the comparison is then the battery's own mode with them placed as without a battery (see
    the module). Raises :class:`PlanInfeasible` when they cannot be placed at all.
    ``load_band``: the load forecast's (P10, P90) for the plan's hours; with it, cycles must
    clear the uncertainty margin. ``carbon_allowance_kg`` moves the carbon ceiling: a controller
    that measured its battery emitting more than no battery so far passes that excess, negative,
    so the next plans pay it back (plans are each capped on their own horizon, so forecast error
    and energy carried from one plan into the next can add up over weeks). The returned plan's
    notes say when the fallback was taken, and its ``guard`` what it was held to.
    """
    alone: Plan | None = None
    home = site  # the load the battery's own mode sees: with the car and appliances where they run
    if evs or deferrables:
        alone = make_plan(site, evs=evs, deferrables=deferrables, time_limit=time_limit, explain_plan=explain_plan)
        home = replace(site, load=site.load + shifted_load(alone))
    own = self_consumption(home, battery)
    baseline = expected(home, battery, own)
    margin = 0.0 if load_band is None else uncertainty_margin(battery, site.price, *load_band)
    hurdle = replace(battery, cycle_cost=battery.cycle_cost + margin)
    credit = battery.discharge_efficiency * float(np.min(site.co2))
    ceiling = baseline.carbon_kg + carbon_allowance_kg
    cap = CarbonCap(ceiling + TOLERANCE, credit)
    # A MIP may overshoot the cap by its feasibility tolerance: a plan using all of it is not refused for that.
    slack = TOLERANCE + (MIP_SLACK if alone is not None else 0.0)
    notes: list[str] = []
    plan: Plan | None = None
    try:
        plan = make_plan(site, battery=hurdle, evs=evs, deferrables=deferrables, time_limit=time_limit,
                         explain_plan=explain_plan, carbon_cap=cap)  # fmt: skip
    except PlanInfeasible as err:
        notes.append(f"no plan within the self-consumption mode's carbon: {err}")
    if plan is not None and plan.battery is not None:
        planned = replace(site, load=site.load + shifted_load(plan)) if alone is not None else site
        outcome = expected(planned, battery, plan.battery)
        if outcome.cost <= baseline.cost + slack and outcome.carbon_kg <= ceiling + slack:
            if margin > 0:
                plan = replace(plan, notes=(*plan.notes, f"each kWh cycled must clear {margin:.4f} of forecast "
                                                         "uncertainty besides the wear"))  # fmt: skip
            return replace(plan, guard=Guard(baseline, outcome, margin, fell_back=False))
        notes.append(f"the plan was expected to cost {outcome.cost:.3f} and emit {outcome.carbon_kg:.3f} kg "
                     f"against {baseline.cost:.3f} and {baseline.carbon_kg:.3f} kg in self-consumption mode")  # fmt: skip
    fallback = _as_plan(home, own, alone or plan, (*notes, SELF_CONSUMPTION_NOTE), time_limit, keep=alone is not None)
    return replace(fallback, guard=Guard(baseline, baseline, margin, fell_back=True))


def _as_plan(site: SiteInputs, own: BatteryPlan, template: Plan | None, notes: tuple[str, ...],
             time_limit: float, *, keep: bool = False) -> Plan:  # fmt: skip
    """The self-consumption schedule as a plan, with the same baseline as any plan of the site.

    ``site``: its load with the template's car and appliances; ``keep``: the template is their
    plan without a battery, whose placement and reasons for them are kept."""
    if template is None:
        template = make_plan(site, time_limit=time_limit, explain_plan=False)
    grid = site.load - site.pv + own.charge_kw - own.discharge_kw
    imp, exp = np.maximum(grid, 0.0), np.maximum(-grid, 0.0)
    curtailed = np.zeros(site.hours)
    if site.export_limit_kw is not None:
        curtailed = np.maximum(exp - site.export_limit_kw, 0.0)
        exp = exp - curtailed
    reasons = tuple(r for r in template.reasons if r.code in SHIFT_CODES) if keep else ()
    return replace(template, grid_import=imp, grid_export=exp, curtailed=curtailed, battery=own,
                   totals=totals(site, imp, exp), reasons=reasons, notes=notes)  # fmt: skip

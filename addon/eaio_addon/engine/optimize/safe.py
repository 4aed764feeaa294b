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

**Uncertainty margin.** A cycle pays its round-trip loss whatever happens, and what it buys is
only worth it if the load it was bought for turns up. Each kWh discharged must clear, besides
the wear, the round-trip loss on the share of the planned energy the forecast cannot promise:
``margin = (1 - round trip) * mean price * u`` with ``u`` the load band's relative half-width
(P90 - P10) / (P90 + P10) averaged over the horizon. Cycles whose gain is inside that are not
planned; PV surplus, which costs nothing to store, still is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..series import FloatArray
from .baseline import totals
from .errors import PlanInfeasible
from .plan import make_plan, terminal_value
from .result import BatteryPlan, Plan
from .spec import Battery, CarbonCap, SiteInputs

TOLERANCE = 1e-6  # $ or kg: a plan this close to the self-consumption mode is not worse
SELF_CONSUMPTION_NOTE = "the battery's own self-consumption mode: no plan was expected to do better"


@dataclass(frozen=True)
class Expected:
    """What a schedule is expected to cost (with wear) and emit over the plan, net of the energy
    left in the battery at its end."""

    cost: float
    carbon_kg: float


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


def plan_battery_safe(
    site: SiteInputs,
    battery: Battery,
    *,
    load_band: tuple[FloatArray, FloatArray] | None = None,
    carbon_allowance_kg: float = 0.0,
    time_limit: float = 10.0,
    explain_plan: bool = True,
) -> Plan:
    """The battery's plan, never expected to cost or emit more than its self-consumption mode.

    ``load_band``: the load forecast's (P10, P90) for the plan's hours; with it, cycles must
    clear the uncertainty margin. ``carbon_allowance_kg`` moves the carbon ceiling: a controller
    that measured its battery emitting more than no battery so far passes that excess, negative,
    so the next plans pay it back (plans are each capped on their own horizon, so forecast error
    and energy carried from one plan into the next can add up over weeks). The returned plan's
    notes say when the fallback was taken.
    """
    own = self_consumption(site, battery)
    baseline = expected(site, battery, own)
    margin = 0.0 if load_band is None else uncertainty_margin(battery, site.price, *load_band)
    hurdle = replace(battery, cycle_cost=battery.cycle_cost + margin)
    credit = battery.discharge_efficiency * float(np.min(site.co2))
    ceiling = baseline.carbon_kg + carbon_allowance_kg
    cap = CarbonCap(ceiling + TOLERANCE, credit)
    notes: list[str] = []
    plan: Plan | None = None
    try:
        plan = make_plan(site, battery=hurdle, time_limit=time_limit, explain_plan=explain_plan, carbon_cap=cap)
    except PlanInfeasible as err:
        notes.append(f"no plan within the self-consumption mode's carbon: {err}")
    if plan is not None and plan.battery is not None:
        outcome = expected(site, battery, plan.battery)
        if outcome.cost <= baseline.cost + TOLERANCE and outcome.carbon_kg <= ceiling + TOLERANCE:
            if margin > 0:
                plan = replace(plan, notes=(*plan.notes, f"each kWh cycled must clear {margin:.4f} of forecast "
                                                         "uncertainty besides the wear"))  # fmt: skip
            return plan
        notes.append(f"the plan was expected to cost {outcome.cost:.3f} and emit {outcome.carbon_kg:.3f} kg "
                     f"against {baseline.cost:.3f} and {baseline.carbon_kg:.3f} kg in self-consumption mode")  # fmt: skip
    return _as_plan(site, own, plan, (*notes, SELF_CONSUMPTION_NOTE), time_limit)


def _as_plan(site: SiteInputs, own: BatteryPlan, template: Plan | None, notes: tuple[str, ...],
             time_limit: float) -> Plan:  # fmt: skip
    """The self-consumption schedule as a plan, with the same baseline as any plan of the site."""
    if template is None:
        template = make_plan(site, time_limit=time_limit, explain_plan=False)
    grid = site.load - site.pv + own.charge_kw - own.discharge_kw
    imp, exp = np.maximum(grid, 0.0), np.maximum(-grid, 0.0)
    curtailed = np.zeros(site.hours)
    if site.export_limit_kw is not None:
        curtailed = np.maximum(exp - site.export_limit_kw, 0.0)
        exp = exp - curtailed
    return replace(template, grid_import=imp, grid_export=exp, curtailed=curtailed, battery=own,
                   totals=totals(site, imp, exp), reasons=(), notes=notes)  # fmt: skip

"""What the battery would have saved over a past period, three ways: with EAIO's plans followed,
with perfect foresight, and with the simple rule people set their battery to (self-consumption).

Each way runs the period day by day from the battery's state the day before, as a controller
would. **Plan followed**: every local midnight a plan (``plan_battery_safe``) is made from what
was known then — the load forecasts EAIO issued for those hours (where it issued none: the same
hour a week earlier, the seasonal-naive rule), PV as the day before, carbon as the day before —
and carried out hour by hour by the ``PlanFollower`` on the measured load and PV.
**Perfect foresight**: the same with the measured future in place of the forecasts.
**Simple rule**: store surplus PV, cover the net load from the battery, never buy for it.

Accounting: an hour's cost is its grid import times the price (export earns nothing), its carbon
the import times the carbon intensity. Savings are against the same hours without a battery.
So the owner sees where planning helps (the gap from the rule), and what forecast errors cost
(the gap from perfect foresight).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

import numpy as np

from ..series import HOUR, FloatArray, HourlySeries
from .execute import PlanFollower
from .safe import plan_battery_safe
from .spec import Battery, SiteInputs

HORIZON = 48
WEEK = 168


@dataclass(frozen=True)
class Way:
    """One way of running the battery over the period."""

    name: str
    cost: float
    carbon_kg: float
    saving: float  # against no battery
    carbon_saving_kg: float


@dataclass(frozen=True)
class SavingsPotential:
    start: datetime
    days: int
    cost_without: float
    carbon_without_kg: float
    plan_followed: Way
    perfect_foresight: Way
    simple_rule: Way
    notes: tuple[str, ...] = ()

    @property
    def share_of_perfect(self) -> float | None:
        """The plan's saving as a share of perfect foresight's (None when that saves nothing)."""
        best = self.perfect_foresight.saving
        return None if best <= 1e-9 else self.plan_followed.saving / best


def _midnights(start: datetime, hours: int, tz: tzinfo) -> list[int]:
    return [i for i in range(hours) if (start + i * HOUR).astimezone(tz).hour == 0]


def _filled(values: FloatArray, fallback: FloatArray | float) -> FloatArray:
    return np.where(np.isfinite(values), values, fallback)


def savings_potential(
    load: HourlySeries,
    pv: HourlySeries | None,
    price: HourlySeries,
    battery: Battery,
    *,
    start: datetime,
    days: int,
    tz: tzinfo,
    issued_load: HourlySeries | None = None,
    carbon: HourlySeries | None = None,
) -> SavingsPotential:
    """The three ways over ``days`` days from ``start`` (a local midnight is best; the first plan
    is made at the first one). ``load``/``pv`` (kWh per hour) must reach a week before ``start``
    for the seasonal-naive stand-in; ``issued_load``: EAIO's issued load forecasts by hour."""
    hours = days * 24
    notes: list[str] = []
    week_before = load.window(start - WEEK * HOUR, hours + HORIZON).values
    actual_load = _filled(load.window(start, hours + HORIZON).values, week_before)
    if np.isnan(actual_load[:hours]).any():
        missing = int(np.isnan(actual_load[:hours]).sum())
        raise ValueError(f"the load has {missing} hours missing in the period (and a week before them)")
    actual_load = _filled(actual_load, 0.0)
    zeros = np.zeros(hours + HORIZON + 24)
    actual_pv = zeros[: hours + HORIZON] if pv is None else _filled(pv.window(start, hours + HORIZON).values, 0.0)
    pv_before = zeros if pv is None else _filled(pv.window(start - 24 * HOUR, hours + HORIZON + 24).values, 0.0)
    prices = price.window(start, hours + HORIZON).values
    if np.isnan(prices[:hours]).any():
        raise ValueError("the price is missing for hours of the period")
    prices = _filled(prices, float(np.nanmean(prices[:hours])))
    co2 = zeros[: hours + HORIZON + 24] if carbon is None else _filled(
        carbon.window(start - 24 * HOUR, hours + HORIZON + 24).values, 0.0)  # fmt: skip
    forecast_load = week_before if issued_load is None else _filled(
        issued_load.window(start, hours + HORIZON).values, week_before)  # fmt: skip
    forecast_load = _filled(forecast_load, actual_load)
    if issued_load is None or not np.isfinite(issued_load.window(start, hours).values).any():
        notes.append("no issued load forecasts for the period: the plan used the same hour a week earlier")

    def run(foresight: bool) -> tuple[float, float]:
        soc = battery.initial_soc_kwh
        imports = np.zeros(hours)
        starts = _midnights(start, hours, tz) or [0]
        if starts[0] != 0:
            starts = [0, *starts]
        for first, stop in zip(starts, [*starts[1:], hours], strict=True):
            span = slice(first, first + HORIZON)
            f_load = actual_load[span] if foresight else forecast_load[span]
            f_pv = actual_pv[span] if foresight else pv_before[first : first + HORIZON]
            f_co2 = co2[first + 24 : first + 24 + HORIZON] if foresight else co2[first : first + HORIZON]
            site = SiteInputs(start + first * HOUR, f_load, np.maximum(f_pv, 0.0), prices[span], carbon=f_co2)
            today = replace(battery, initial_soc_kwh=soc, terminal_soc_kwh=None)
            plan = plan_battery_safe(site, today, explain_plan=False)
            assert plan.battery is not None
            follower = PlanFollower(today, plan.battery, site.load - site.pv, site.price)
            for t in range(stop - first):
                h = first + t
                c, d = follower.hour(t, float(actual_load[h]), float(actual_pv[h]))
                imports[h] = max(actual_load[h] - actual_pv[h] + c - d, 0.0)
            soc = follower.soc_kwh
        return float(imports @ prices[:hours]), float(imports @ co2[24 : 24 + hours])

    def rule() -> tuple[float, float]:
        b, level = battery, battery.initial_soc_kwh
        imports = np.zeros(hours)
        for h in range(hours):
            net = actual_load[h] - actual_pv[h]
            if net < 0:
                c = min(-net, b.max_charge_kw, max(b.soc_max - level, 0.0) / b.charge_efficiency)
                level += c * b.charge_efficiency
            else:
                d = min(net, b.max_discharge_kw, max(level - b.soc_min_kwh, 0.0) * b.discharge_efficiency)
                level -= d / b.discharge_efficiency
                imports[h] = net - d
        return float(imports @ prices[:hours]), float(imports @ co2[24 : 24 + hours])

    without = np.maximum(actual_load[:hours] - actual_pv[:hours], 0.0)
    base_cost, base_carbon = float(without @ prices[:hours]), float(without @ co2[24 : 24 + hours])

    def way(name: str, outcome: tuple[float, float]) -> Way:
        return Way(name, outcome[0], outcome[1], base_cost - outcome[0], base_carbon - outcome[1])

    return SavingsPotential(start, days, base_cost, base_carbon, way("plan followed", run(foresight=False)),
                            way("perfect foresight", run(foresight=True)), way("simple rule", rule()),
                            tuple(notes))  # fmt: skip

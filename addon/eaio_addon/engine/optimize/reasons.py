"""Reason codes: why the plan does what it does, in words and numbers, per stretch of hours.

Each reason is derived from the plan itself and the inputs it was made from (not from the
solver's internals), so it can be checked by reading the plan: a charge stretch is "from
PV surplus" only for the part the planned surplus covers, a discharge is "at peak price"
only when its hours are in the upper half of the horizon's price range.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from ..series import HOUR, FloatArray
from .result import Plan, Reason
from .spec import Battery, SiteInputs

TOL = 1e-3  # kW: smaller flows are not decisions
MIN_KWH = 0.05  # a stretch moving less energy than this is not worth a sentence


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    """Half-open ``[start, end)`` stretches where ``mask`` holds."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    for i in range(0, edges.size, 2):
        yield int(edges[i]), int(edges[i + 1])


class _Clock:
    def __init__(self, site: SiteInputs) -> None:
        self.site = site
        self.long = site.hours > 24

    def at(self, k: int) -> datetime:
        return self.site.start + k * HOUR

    def fmt(self, k: int) -> str:
        local = self.at(k).astimezone(self.site.tz)
        return local.strftime("%a %H:%M" if self.long else "%H:%M")

    def span(self, a: int, b: int) -> str:
        return f"{self.fmt(a)}-{self.fmt(b)}"

    def money(self, amount: float) -> str:
        """``0.61 EUR``: the site's currency after the number (the number alone when it is unknown)."""
        return f"{amount:.2f} {self.site.currency}" if self.site.currency else f"{amount:.2f}"

    def per_kwh(self, price: float) -> str:
        """``0.20 EUR/kWh``."""
        return f"{price:.2f} {self.site.currency}/kWh" if self.site.currency else f"{price:.2f}/kWh"

    def reason(self, code: str, message: str, a: int, b: int, **attrs: float | str) -> Reason:
        return Reason(code, message, self.at(a), self.at(b), dict(attrs))


def _mean(values: FloatArray, weights: FloatArray) -> float:
    total = float(weights.sum())
    return float(values @ weights) / total if total > 0 else float(values.mean())


def explain(
    site: SiteInputs, plan: Plan, battery: Battery | None, baseline_flex: dict[str, FloatArray]
) -> tuple[Reason, ...]:
    clock = _Clock(site)
    price = site.price
    spread = float(price.max() - price.min())
    high = price >= price.min() + 0.5 * spread if spread > 1e-9 else np.zeros(site.hours, dtype=bool)
    reasons = [_summary(clock, plan)]
    flex = np.zeros(site.hours)
    for ev in plan.evs:
        flex += ev.power_kw
    for run in plan.deferrables:
        flex += run.power_kw
    if plan.hvac is not None:
        flex += plan.hvac.power_kw
    net_pv = site.pv - site.load - flex  # PV left after every planned consumption
    surplus = np.maximum(net_pv, 0.0)
    if plan.battery is not None and battery is not None:
        reasons += _battery(clock, plan, battery, surplus, high)
    reasons += _evs(clock, plan, net_pv)
    reasons += _deferrables(clock, plan, baseline_flex)
    if plan.hvac is not None:
        reasons += _hvac(clock, plan, high)
    return tuple(reasons)


def _summary(clock: _Clock, plan: Plan) -> Reason:
    base, tot = plan.baseline, plan.totals
    pct = f" ({plan.saving / base.cost:.0%})" if base.cost > 1e-9 else ""
    message = (
        f"Plan costs {clock.money(tot.cost)} against {clock.money(base.cost)} for doing nothing: saves "
        f"{clock.money(plan.saving)}{pct} and {plan.carbon_saving_kg:.1f} kg CO2 over {plan.hours} h"
    )
    return clock.reason(
        "plan_summary",
        message,
        0,
        plan.hours,
        cost=tot.cost,
        baseline_cost=base.cost,
        saving=plan.saving,
        carbon_kg=tot.carbon_kg,
        baseline_carbon_kg=base.carbon_kg,
    )


def _battery(
    clock: _Clock, plan: Plan, battery: Battery, surplus: FloatArray, high: np.ndarray
) -> list[Reason]:
    assert plan.battery is not None
    site, bp = clock.site, plan.battery
    out: list[Reason] = []
    from_pv = np.minimum(bp.charge_kw, surplus)
    from_grid = bp.charge_kw - from_pv
    dis = bp.discharge_kw
    for a, b in _runs(from_pv > TOL):
        kwh = float(from_pv[a:b].sum())
        if kwh < MIN_KWH:
            continue
        fate = (
            "would otherwise be exported for nothing"
            if float(site.export[a:b].max()) <= 0
            else f"would otherwise be exported at {clock.per_kwh(float(site.export[a:b].mean()))}"
        )
        out.append(
            clock.reason(
                "charge_from_pv_surplus",
                f"Charge the battery from PV surplus {clock.span(a, b)}: {kwh:.1f} kWh that {fate}",
                a,
                b,
                energy_kwh=kwh,
            )
        )
    for a, b in _runs(from_grid > TOL):
        kwh = float(from_grid[a:b].sum())
        if kwh < MIN_KWH:
            continue
        paid = _mean(site.price[a:b], from_grid[a:b])
        later = dis[b:]
        use = (
            f" to use later at {clock.per_kwh(_mean(site.price[b:], later))}"
            if float(later.sum()) > TOL
            else " to hold for after this plan"
        )
        out.append(
            clock.reason(
                "charge_from_grid_low_price",
                f"Charge {kwh:.1f} kWh from the grid {clock.span(a, b)} at {clock.per_kwh(paid)}{use} "
                f"(after {1 - battery.charge_efficiency * battery.discharge_efficiency:.0%} round-trip loss it still pays)",
                a,
                b,
                energy_kwh=kwh,
                price=paid,
            )
        )
    for a, b in _runs(dis > TOL):
        kwh = float(dis[a:b].sum())
        if kwh < MIN_KWH:
            continue
        paid = _mean(site.price[a:b], dis[a:b])
        peak = bool(high[a:b].all())
        code = "discharge_peak_price" if peak else "discharge_cover_load"
        what = "peak-price" if peak else "household"
        out.append(
            clock.reason(
                code,
                f"Discharge {kwh:.1f} kWh {clock.span(a, b)} to cover {what} load instead of "
                f"importing at {clock.per_kwh(paid)}",
                a,
                b,
                energy_kwh=kwh,
                price=paid,
            )
        )
    if not out and float(bp.charge_kw.sum() + dis.sum()) < MIN_KWH:
        rte = battery.charge_efficiency * battery.discharge_efficiency
        cheap = float(site.price.min())
        dear = float(site.price.max())
        out.append(
            clock.reason(
                "battery_idle",
                f"Battery stays idle: no PV surplus to store, and buying at {clock.per_kwh(cheap)} to avoid "
                f"{clock.per_kwh(dear)} loses money after the {1 - rte:.0%} round-trip loss"
                if cheap / rte >= dear - battery.cycle_cost
                else "Battery stays idle: nothing it could do in this horizon pays for its losses",
                0,
                site.hours,
            )
        )
    return out


def _evs(clock: _Clock, plan: Plan, net_pv: FloatArray) -> list[Reason]:
    site = clock.site
    out: list[Reason] = []
    for ev in plan.evs:
        # PV this car could have used: what is left once everything but the car is served.
        room = np.maximum(net_pv + ev.power_kw, 0.0)
        for a, b in _runs(ev.power_kw > TOL):
            kwh = float(ev.power_kw[a:b].sum())
            solar = float(np.minimum(ev.power_kw[a:b], room[a:b]).sum())
            paid = _mean(site.price[a:b], ev.power_kw[a:b])
            source = f", {solar:.1f} kWh of it PV surplus" if solar > TOL else ""
            out.append(
                clock.reason(
                    "ev_charge",
                    f"Charge EV '{ev.name}' {clock.span(a, b)}: {kwh:.1f} kWh at {clock.per_kwh(paid)}{source}",
                    a,
                    b,
                    ev=ev.name,
                    energy_kwh=kwh,
                    price=paid,
                )
            )
    return out


def _deferrables(clock: _Clock, plan: Plan, baseline_flex: dict[str, FloatArray]) -> list[Reason]:
    site = clock.site
    out: list[Reason] = []
    for run in plan.deferrables:
        if run.start_index is None:
            out.append(
                clock.reason(
                    "deferrable_scheduled",
                    f"'{run.name}' does not fit before the end of this plan; a later plan places it",
                    0,
                    site.hours,
                    run=run.name,
                )
            )
            continue
        a = run.start_index
        b = a + int(np.count_nonzero(run.power_kw[a:]) or 1)
        base = baseline_flex.get(f"deferrable:{run.name}", np.zeros(site.hours))
        planned_price = _mean(site.price, run.power_kw)
        base_price = _mean(site.price, base)
        if float(base.sum()) > 0 and int(np.argmax(base > 0)) == a:
            why = "its earliest start is already the best time"
        else:
            why = f"at {clock.per_kwh(planned_price)} instead of {clock.per_kwh(base_price)} at its earliest start"
        out.append(
            clock.reason(
                "deferrable_scheduled",
                f"Run '{run.name}' {clock.span(a, b)}: {why}",
                a,
                b,
                run=run.name,
                price=planned_price,
                baseline_price=base_price,
            )
        )
    return out


def _hvac(clock: _Clock, plan: Plan, high: np.ndarray) -> list[Reason]:
    hv = plan.hvac
    assert hv is not None
    site = clock.site
    out: list[Reason] = []
    cooling = hv.mode == "cooling"
    end_temp = hv.indoor_temp[1:]
    running = hv.power_kw > TOL
    # Pre-conditioning: the unit runs and takes the zone past the band edge it would
    # otherwise sit at, ahead of dearer hours.
    edge = hv.comfort_high if cooling else hv.comfort_low
    beyond = (edge - end_temp if cooling else end_temp - edge) > 0.25
    for a, b in _runs(running & beyond & ~high):
        later = np.flatnonzero(high[b:])
        if later.size == 0:
            continue
        p0 = b + int(later[0])
        p1 = next(e for s, e in _runs(high) if s <= p0 < e)
        extreme = float(end_temp[a:b].min() if cooling else end_temp[a:b].max())
        code, verb = ("precool", "Pre-cool") if cooling else ("preheat", "Pre-heat")
        out.append(
            clock.reason(
                code,
                f"{verb} to {extreme:.1f} °C {clock.span(a, b)} at {clock.per_kwh(float(site.price[a:b].mean()))} "
                f"before the {clock.per_kwh(float(site.price[p0:p1].mean()))} period {clock.span(p0, p1)}",
                a,
                b,
                temperature=extreme,
            )
        )
    for a, b in _runs(high & ~running):
        t0, t1 = float(hv.indoor_temp[a]), float(hv.indoor_temp[b])
        if abs(t1 - t0) < 0.1:
            continue
        out.append(
            clock.reason(
                "coast_through_peak",
                f"Keep the unit off {clock.span(a, b)} at {clock.per_kwh(float(site.price[a:b].mean()))} and let the zone "
                f"drift from {t0:.1f} to {t1:.1f} °C (band edge {float(edge[b - 1]):.1f} °C)",
                a,
                b,
                start_temp=t0,
                end_temp=t1,
            )
        )
    for a, b in _runs(np.abs(hv.violation) > 0):
        worst = float(np.max(np.abs(hv.violation[a:b])))
        side = "above" if hv.violation[a:b].max() > 0 else "below"
        bound = hv.comfort_high[a:b].min() if side == "above" else hv.comfort_low[a:b].max()
        full = bool(np.all(hv.power_kw[max(a - 1, 0) : b] >= 0.999 * hv.max_power_kw))
        cause = (
            "the unit is already at full power"
            if full
            else "the unit cannot act in that direction"
            if (side == "above") != cooling
            else "holding it would cost more than the comfort penalty"
        )
        out.append(
            clock.reason(
                "comfort_violation",
                f"Comfort cannot be held {clock.span(a, b)}: up to {worst:.1f} K {side} {float(bound):.1f} °C "
                f"({cause})",
                a,
                b,
                kelvin=worst,
                side=side,
            )
        )
    return out

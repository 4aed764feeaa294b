"""One model for the whole site: battery, EVs, deferrable runs and HVAC against price,
PV and carbon.

Per hour ``t`` (1 h steps, so kW and kWh coincide), the site balance is::

    import + discharge + (pv - curtailed) = load + charge + ev + runs + hvac + export

and the objective is ``sum(price*import - export_price*export) + carbon_weight *
sum(carbon*import)``, plus the battery's wear, minus the value of the energy left in it at
the end, plus the comfort penalty. A few tie-breaks of at most 1e-5 $/kWh (below any real
price step) make degenerate optima deterministic: export rather than curtail, charge the EV
and start a run as early as equal prices allow, charge the battery as late as they allow, and do
not cycle the battery for nothing.

Charging and discharging in the same hour only loses energy, so with efficiencies below one
the LP never does it while energy has a positive value. When it does pay (a negative price,
or surplus with nowhere to go) the plan is solved again with a binary charge/discharge mode
per hour, so the battery is never asked to do both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..series import HOUR, FloatArray
from .baseline import baseline, totals
from .errors import PlanInfeasible
from .hvac import check_reachable, hvac_result
from .lp import INF, IntArray, LinearModel, Solution
from .parts import COMFORT_TOL, EvPart, HvacPart, RunPart, band_text, band_values, clean, hourly, local_time
from .reasons import explain
from .result import BatteryPlan, DeferrablePlan, EVPlan, Plan
from .spec import Battery, CarbonCap, DeferrableRun, EVCharge, HvacSpec, SiteInputs

TIE = 1e-6
PREFER_EARLY = 1e-5  # $/kWh over the horizon: above solver tolerance, below any price step
DEFAULT_COMFORT_PENALTY_NOTE = "comfort is soft: each degree-hour outside the band costs the penalty"


def plan_battery(
    site: SiteInputs,
    battery: Battery,
    *,
    reserve_kwh: FloatArray | None = None,
    time_limit: float = 10.0,
    explain_plan: bool = True,
    carbon_cap: CarbonCap | None = None,
) -> Plan:
    """Battery dispatch alone."""
    return make_plan(
        site, battery=battery, reserve_kwh=reserve_kwh, time_limit=time_limit, explain_plan=explain_plan,
        carbon_cap=carbon_cap,
    )


def make_plan(
    site: SiteInputs,
    *,
    battery: Battery | None = None,
    evs: Sequence[EVCharge] = (),
    deferrables: Sequence[DeferrableRun] = (),
    hvac: HvacSpec | None = None,
    reserve_kwh: FloatArray | None = None,
    time_limit: float = 10.0,
    explain_plan: bool = True,
    carbon_cap: CarbonCap | None = None,
) -> Plan:
    """The cheapest plan (cost plus weighted carbon) for everything given, in one model.

    ``reserve_kwh`` (optional, one value per hour) is the least energy the battery must
    hold at the end of each hour: a backup reserve, or insurance bought ahead of a peak.
    ``carbon_cap`` (optional, with a battery) bounds the plan's carbon, net of what the energy
    left in the battery will displace later.
    Raises :class:`PlanInfeasible` when no plan exists, naming the constraints that bite.
    """
    names = [e.name for e in evs] + [d.name for d in deferrables]
    if len(set(names)) != len(names):
        raise PlanInfeasible("invalid_bounds", "EVs and deferrable runs need distinct names", ("names",))
    builder = _Builder(site)
    if battery is not None:
        builder.add_battery(battery, reserve_kwh)
    elif reserve_kwh is not None:
        raise PlanInfeasible("invalid_bounds", "a battery reserve needs a battery", ("battery reserve",))
    if carbon_cap is not None:
        builder.add_carbon_cap(carbon_cap)
    ev_parts = [builder.add_ev(e) for e in evs]
    run_parts = [builder.add_run(d) for d in deferrables]
    hvac_part = builder.add_hvac(hvac) if hvac is not None else None
    solution = builder.solve(time_limit)
    notes: list[str] = []
    if builder.battery is not None and _simultaneous(builder, solution):
        builder.exclude_simultaneous()
        solution = builder.solve(time_limit)
        notes.append(
            "charging and discharging at once paid in this horizon (negative price or surplus "
            "with nowhere to go); solved again with one battery direction per hour"
        )
    return _assemble(builder, solution, ev_parts, run_parts, hvac_part, notes, explain_plan)


class _Builder:
    def __init__(self, site: SiteInputs) -> None:
        self.site = site
        self.h = site.hours
        self.model = LinearModel()
        m, h = self.model, self.h
        self.weighted_price = site.price + site.carbon_weight * site.co2
        self.imp = m.var(h, 0.0, INF if site.import_limit_kw is None else site.import_limit_kw, self.weighted_price)
        self.exp = m.var(h, 0.0, INF if site.export_limit_kw is None else site.export_limit_kw, -site.export)
        self.curt = m.var(h, 0.0, site.pv, TIE)
        net = site.load - site.pv
        self.bal = m.rows(net, net, h)
        m.coef(self.bal, self.imp, 1.0)
        m.coef(self.bal, self.exp, -1.0)
        m.coef(self.bal, self.curt, -1.0)
        if site.import_limit_kw is not None:
            m.group(
                "import_limit",
                f"grid import limited to {site.import_limit_kw:g} kW",
                cols=self.imp,
                relaxed_ub=INF,
            )
        self._export_row: IntArray | None = None
        if np.any(site.export > 0) or np.any(site.price < 0):
            # Only PV (and battery energy, when allowed) may be exported. Without this row a
            # paying export price or a negative import price would make buying from the grid
            # to sell back look like free money.
            self._export_row = m.rows(-INF, site.pv, h)
            m.coef(self._export_row, self.exp, 1.0)
            m.coef(self._export_row, self.curt, 1.0)
        if site.export_limit_kw is not None:
            m.group(
                "export_limit",
                f"grid export limited to {site.export_limit_kw:g} kW",
                cols=self.exp,
                relaxed_ub=INF,
            )
        self.battery: Battery | None = None
        self.ch = self.dis = self.soc = np.zeros(0, dtype=np.int64)
        self.hours = np.arange(h, dtype=np.float64)

    # -- battery ---------------------------------------------------------------------------
    def add_battery(self, b: Battery, reserve: FloatArray | None = None) -> None:
        m, h = self.model, self.h
        self.battery = b
        reach = b.initial_soc_kwh + b.charge_efficiency * b.max_charge_kw * h
        if b.terminal_soc_kwh is not None and b.terminal_soc_kwh > min(reach, b.soc_max) + 1e-9:
            raise PlanInfeasible(
                "terminal_soc_unreachable",
                f"the battery cannot reach {b.terminal_soc_kwh:g} kWh by the end of the plan: from "
                f"{b.initial_soc_kwh:g} kWh, {h} h at {b.max_charge_kw:g} kW add at most "
                f"{reach - b.initial_soc_kwh:.2f} kWh",
                ("battery terminal_soc_kwh",),
            )
        soc_cost = np.zeros(h)
        soc_cost[-1] = -terminal_value(b, self.weighted_price)
        soc_lb = np.full(h, b.soc_min_kwh)
        if b.terminal_soc_kwh is not None:
            soc_lb[-1] = max(b.soc_min_kwh, b.terminal_soc_kwh)
        if reserve is not None:
            reserve = hourly(reserve, h, "battery reserve")
            if np.any(reserve > b.soc_max + 1e-9):
                raise PlanInfeasible(
                    "invalid_bounds",
                    f"battery reserve up to {reserve.max():g} kWh is above the SoC limit {b.soc_max:g} kWh",
                    ("battery reserve",),
                )
            soc_lb = np.maximum(soc_lb, reserve)
        self.ch = m.var(h, 0.0, b.max_charge_kw, charge_tie_break(h))
        self.dis = m.var(h, 0.0, b.max_discharge_kw, b.cycle_cost + TIE)
        self.soc = m.var(h, soc_lb, b.soc_max, soc_cost)
        if reserve is not None and np.any(reserve > b.soc_min_kwh):
            m.group(
                "battery reserve",
                f"battery must hold its reserve (up to {reserve.max():.1f} kWh) at the hours set",
                cols=self.soc,
                relaxed_lb=b.soc_min_kwh,
            )
        if b.terminal_soc_kwh is not None:
            m.group(
                "battery terminal_soc_kwh",
                f"battery must hold at least {b.terminal_soc_kwh:g} kWh at the end of the plan",
                cols=self.soc[-1:],
                relaxed_lb=b.soc_min_kwh,
            )
        rhs = np.zeros(h)
        rhs[0] = b.initial_soc_kwh
        dyn = m.rows(rhs, rhs, h)
        m.coef(dyn, self.soc, 1.0)
        m.coef(dyn[1:], self.soc[:-1], -1.0)
        m.coef(dyn, self.ch, -b.charge_efficiency)
        m.coef(dyn, self.dis, 1.0 / b.discharge_efficiency)
        m.coef(self.bal, self.dis, 1.0)
        m.coef(self.bal, self.ch, -1.0)
        if self._export_row is not None and b.allow_export:
            m.coef(self._export_row, self.dis, -1.0)

    def add_carbon_cap(self, cap: CarbonCap) -> None:
        if self.battery is None:
            raise PlanInfeasible("invalid_bounds", "a carbon cap needs a battery", ("carbon cap",))
        row = self.model.rows(-INF, cap.limit_kg, 1)
        self.model.coef(row[0], self.imp, self.site.co2)
        self.model.coef(row[0], self.soc[-1:], -cap.credit_kg_per_kwh)
        self.model.group("carbon cap", f"carbon at most {cap.limit_kg:.3f} kg (the battery's own mode)", rows=row)

    def exclude_simultaneous(self) -> None:
        b = self.battery
        assert b is not None
        m, h = self.model, self.h
        mode = m.var(h, 0.0, 1.0, integer=True)  # 1 = may charge, 0 = may discharge
        r1 = m.rows(-INF, 0.0, h)
        m.coef(r1, self.ch, 1.0)
        m.coef(r1, mode, -b.max_charge_kw)
        r2 = m.rows(-INF, b.max_discharge_kw, h)
        m.coef(r2, self.dis, 1.0)
        m.coef(r2, mode, b.max_discharge_kw)

    # -- EV --------------------------------------------------------------------------------
    def add_ev(self, ev: EVCharge) -> EvPart:
        m, h, site = self.model, self.h, self.site
        first_abs = site.index(ev.available_from, up=True)
        last_abs = site.index(ev.deadline, up=False)
        if last_abs <= 0:
            raise PlanInfeasible(
                "ev_energy_unreachable",
                f"EV '{ev.name}': the deadline {local_time(site, ev.deadline)} is not after the plan's start",
                (f"ev:{ev.name}",),
            )
        first, last = max(first_abs, 0), min(last_abs, h)
        per_hour = ev.max_kw * ev.efficiency
        after = max(0, last_abs - max(first_abs, h))  # hours still available after this plan
        required = max(0.0, ev.energy_kwh - per_hour * after)
        hours_in = max(0, last - first)
        if required > per_hour * hours_in + 1e-9:
            raise PlanInfeasible(
                "ev_energy_unreachable",
                f"EV '{ev.name}' needs {ev.energy_kwh:g} kWh by {local_time(site, ev.deadline)}, but "
                f"{hours_in + after} whole hour(s) between {local_time(site, ev.available_from)} and then "
                f"at {ev.max_kw:g} kW (charger efficiency {ev.efficiency:.0%}) deliver at most "
                f"{per_hour * (hours_in + after):.1f} kWh",
                (f"ev:{ev.name}",),
            )
        ub = np.zeros(h)
        ub[first:last] = ev.max_kw
        cols = m.var(h, 0.0, ub, TIE + PREFER_EARLY * self.hours / h)
        m.coef(self.bal, cols, -1.0)
        if last > first:
            row = m.rows(required, ev.energy_kwh, 1)
            m.coef(row[0], cols[first:last], ev.efficiency)
            m.group(
                f"ev:{ev.name}",
                f"EV '{ev.name}' needs {required:.1f} kWh by {local_time(site, ev.deadline)} "
                f"(at most {ev.max_kw:g} kW from {local_time(site, ev.available_from)})",
                rows=row,
            )
        return EvPart(ev, cols, required, first, last)

    # -- deferrable runs -------------------------------------------------------------------
    def add_run(self, run: DeferrableRun) -> RunPart:
        m, h, site = self.model, self.h, self.site
        dur = run.duration_h
        first_abs = site.index(run.earliest_start, up=True)
        end_abs = site.index(run.latest_end, up=False)
        if end_abs - max(first_abs, 0) < dur:
            raise PlanInfeasible(
                "deferrable_window_too_short",
                f"'{run.name}' runs {dur} h but only {max(end_abs - max(first_abs, 0), 0)} whole "
                f"hour(s) remain between {local_time(site, max(run.earliest_start, site.start))} and "
                f"{local_time(site, run.latest_end)}",
                (f"deferrable:{run.name}",),
            )
        first, end = max(first_abs, 0), min(end_abs, h)
        starts = np.arange(first, end - dur + 1, dtype=np.int64)
        if starts.size == 0:
            # The window reaches past the horizon and the run does not fit before its end:
            # leave it to a later plan rather than force it in.
            return RunPart(run, starts, np.zeros(0, dtype=np.int64))
        cols = m.var(starts.size, 0.0, 1.0, PREFER_EARLY * np.arange(starts.size) / h, integer=True)
        row = m.rows(1.0, 1.0, 1)
        m.coef(row[0], cols, 1.0)
        # Only a run that must finish within this plan is a hard requirement.
        if end_abs <= h:
            m.group(
                f"deferrable:{run.name}",
                f"'{run.name}' ({dur} h, {run.energy_kwh:g} kWh) must run between "
                f"{local_time(site, run.earliest_start)} and {local_time(site, run.latest_end)}",
                rows=row,
            )
        else:
            m.group(f"deferrable:{run.name}", f"'{run.name}' placed in this plan", rows=row)
        profile = np.asarray(run.profile_kw, dtype=np.float64)
        rows = self.bal[starts[:, None] + np.arange(dur)[None, :]]
        m.coef(rows, cols[:, None], -profile[None, :])
        return RunPart(run, starts, cols)

    # -- HVAC ------------------------------------------------------------------------------
    def add_hvac(self, spec: HvacSpec) -> HvacPart:
        m, h = self.model, self.h
        mdl = spec.model
        outdoor = hourly(spec.outdoor, h, "HVAC outdoor temperature")
        solar = hourly(spec.solar, h, "HVAC solar irradiance")
        comfort_low = band_values(spec.comfort_low, h, "HVAC comfort_low")
        comfort_high = band_values(spec.comfort_high, h, "HVAC comfort_high")
        low = np.maximum(comfort_low, spec.setpoint_min)
        high = np.minimum(comfort_high, spec.setpoint_max)
        empty = np.flatnonzero(low > high)
        if empty.size:
            k = int(empty[0])
            raise PlanInfeasible(
                "invalid_bounds",
                f"at {local_time(self.site, self.site.start + (k + 1) * HOUR)} the comfort band "
                f"{comfort_low[k]:g}..{comfort_high[k]:g} °C and the setpoint bounds "
                f"{spec.setpoint_min:g}..{spec.setpoint_max:g} °C do not overlap",
                ("HVAC comfort band", "HVAC setpoint bounds"),
            )
        if spec.strict:
            check_reachable(self.site, spec, outdoor, solar, low, high)
        cap = 0.0 if spec.strict else INF
        power = m.var(h, 0.0, spec.max_power_kw, TIE)
        temp = m.var(h, -INF, INF)
        above = m.var(h, 0.0, cap, spec.comfort_penalty)
        below = m.var(h, 0.0, cap, spec.comfort_penalty)
        drive = mdl.b_out * outdoor + mdl.b_solar * solar + mdl.c
        drive[0] += mdl.a * spec.initial_temp
        dyn = m.rows(drive, drive, h)
        m.coef(dyn, temp, 1.0)
        m.coef(dyn[1:], temp[:-1], -mdl.a)
        m.coef(dyn, power, -mdl.b_hvac)
        top = m.rows(-INF, high, h)
        m.coef(top, temp, 1.0)
        m.coef(top, above, -1.0)
        bottom = m.rows(low, INF, h)
        m.coef(bottom, temp, 1.0)
        m.coef(bottom, below, 1.0)
        m.coef(self.bal, power, -1.0)
        if spec.strict:
            m.group(
                "HVAC comfort band",
                f"indoor temperature within the comfort band ({band_text(low, high)}) every hour",
                cols=np.concatenate([above, below]),
                relaxed_ub=INF,
            )
        return HvacPart(spec, power, temp, above, below, low, high)

    def solve(self, time_limit: float) -> Solution:
        solution = self.model.solve(time_limit=time_limit)
        if solution.ok:
            return solution
        if solution.status == "infeasible":
            conflict = self.model.conflict()
            if conflict:
                described = "; ".join(self.model.groups[g].description for g in conflict)
                code = "conflicting_constraints"
                if conflict == ["HVAC comfort band"]:
                    code = "comfort_unreachable"
                elif len(conflict) == 1 and conflict[0].startswith("ev:"):
                    code = "ev_energy_unreachable"
                raise PlanInfeasible(
                    code, f"no plan can meet all of these at once: {described}", tuple(conflict)
                )
        raise PlanInfeasible(
            "solver_failed", f"the solver stopped without a plan ({solution.status})", ()
        )


def charge_tie_break(h: int) -> FloatArray:
    """Among equally priced hours, charge as late as possible: energy bought just before it
    is needed leaves room for PV that turns out larger than forecast, and is bought with
    the most recent information."""
    return TIE + PREFER_EARLY * (h - 1 - np.arange(h)) / h


def terminal_value(b: Battery, weighted_price: FloatArray) -> float:
    """$ per kWh left in the battery at the end (see :class:`Battery`)."""
    value = b.terminal_value
    if value is None:
        value = b.discharge_efficiency * float(np.min(weighted_price))
    return max(value, 0.0)


def _simultaneous(builder: _Builder, solution: Solution) -> bool:
    both = np.minimum(solution.x[builder.ch], solution.x[builder.dis])
    return bool(np.any(both > 1e-6))


def _assemble(
    builder: _Builder,
    solution: Solution,
    evs: list[EvPart],
    runs: list[RunPart],
    hvac: HvacPart | None,
    notes: list[str],
    explain_plan: bool,
) -> Plan:
    site, x, h = builder.site, solution.x, builder.h
    imp, exp, curt = (clean(x[c]) for c in (builder.imp, builder.exp, builder.curt))
    battery_plan = None
    if builder.battery is not None:
        soc = clean(np.concatenate([[builder.battery.initial_soc_kwh], x[builder.soc]]))
        battery_plan = BatteryPlan(clean(x[builder.ch]), clean(x[builder.dis]), soc)
    ev_plans = tuple(
        EVPlan(e.spec.name, clean(x[e.cols]), float(x[e.cols].sum() * e.spec.efficiency), e.required)
        for e in evs
    )
    run_plans = []
    for r in runs:
        power = np.zeros(h)
        if r.cols.size:
            k = int(np.argmax(x[r.cols]))
            s = int(r.starts[k])
            power[s : s + r.spec.duration_h] = r.spec.profile_kw
            run_plans.append(DeferrablePlan(r.spec.name, site.start + s * HOUR, s, power))
        else:
            run_plans.append(DeferrablePlan(r.spec.name, None, None, power))
    hvac_plan = None
    penalty = 0.0
    if hvac is not None:
        hvac_plan, penalty = hvac_result(hvac, x)
        if hvac_plan.violation_degree_hours > COMFORT_TOL and not hvac.spec.strict:
            notes.append(DEFAULT_COMFORT_PENALTY_NOTE)
    doing_nothing, baseline_flex = baseline(site, evs, runs, hvac)
    plan = Plan(
        start=site.start,
        hours=h,
        grid_import=imp,
        grid_export=exp,
        curtailed=curt,
        battery=battery_plan,
        evs=ev_plans,
        deferrables=tuple(run_plans),
        hvac=hvac_plan,
        totals=totals(site, imp, exp),
        baseline=doing_nothing,
        comfort_penalty=penalty,
        reasons=(),
        notes=tuple(notes),
    )
    if not explain_plan:
        return plan
    return replace(plan, reasons=explain(site, plan, builder.battery, baseline_flex))



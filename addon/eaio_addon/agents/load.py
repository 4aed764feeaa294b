"""The load agent: the plan of the site's load against the price, and always-on waste, from the engine.

With a home battery in the options the plan includes it, and when the battery's schedule saves
money against leaving it idle the agent proposes that schedule (EAIO does not drive it). The
battery's plan, with or without the car and appliances, is the engine's guarded one: never
expected to cost or emit more than the battery's own self-consumption mode with the car and
appliances placed as without a battery, else that mode, which the run's notes and the battery's
reasons then say.
Appliances that can wait (``deferrable_loads``) and an electric car (``ev``) go into the same
plan, each in its next daily window; when the plan's start for one of them costs less than
running it at the window's start (charging the car as soon as it is plugged in), the agent
proposes that start. The saving is the engine's: the cost of the plan with that one appliance
held at the window's start, less the cost of the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.optimize import (
    Battery,
    DeferrableRun,
    EVCharge,
    Plan,
    PlanInfeasible,
    SiteInputs,
    make_plan,
    plan_battery_safe,
)
from ..engine.patterns import AlwaysOnWaste
from ..engine.series import HOUR, FloatArray
from ..options import EV_CHARGER_EFFICIENCY, BatteryOptions, DeferrableLoad, EvOptions
from ..store import Store, StoreDb
from ..wording import span
from .base import Agent
from .bus import EventBus
from .candidate import Candidate
from .feedback import Measured, delivered_in_plan, open_window, planned_in, run_done, run_in_progress
from .optimizers import per_day, site_inputs
from .plan_push import BATTERY_KEY, CAR_KEY, LoadPlanParts
from .pv_alert import pv_alert
from .site import RunContext

SOC_LOOKBACK = timedelta(days=2)  # an older state of charge says nothing about the battery now
FLOW_KW = 1e-3  # smaller battery flows are no decision (as the engine's reasons)
STRETCH_KWH = 0.05  # a stretch moving less is not worth naming
MIN_SAVING = 1e-3  # money a day: a shift saving less is no recommendation
EV_NAME = "car"  # the car's name in the plan
OWN_MODE_REASON = ("No schedule was expected to beat the battery's own self-consumption mode on these "
                   "forecasts, so it is left to that mode")
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
        spec: Battery | None = None
        source = ""
        if battery is not None:
            soc, source = await self._soc(ctx, battery)
            spec = battery_spec(battery, soc)
        shifts = shiftables(ctx.options.deferrable_loads, ctx.options.ev, site, ctx.measured, ctx.previous_plan)
        plan: Plan | None = None
        while spec is not None or shifts:
            try:
                plan = await asyncio.to_thread(_plan, site, spec, shifts, _band(ctx, site.hours))
                break
            except PlanInfeasible as err:  # the waste check below still runs
                what = ["the battery"] * (spec is not None) + [s.label for s in shifts]
                ctx.notes.append(f"load: no plan for {', '.join(what)}: {err}")
                # Leave out what the engine names (a window too short here); else the appliances.
                named = [s for s in shifts if s.constraint in err.constraints]
                if not shifts:
                    break
                shifts = [s for s in shifts if s not in named] if named else []
        carbon = _carbon_guard(ctx, plan, shifted=bool(shifts))
        if carbon is not None:
            ctx.notes.append(f"load: {carbon}")
        if plan is not None and plan.guard is not None and plan.guard.fell_back:
            ctx.notes.append(f"load: {'; '.join(plan.notes)}")  # why, ending with SELF_CONSUMPTION_NOTE
        if plan is not None and spec is not None and battery is not None:
            saving, import_avoided = plan.saving, plan.baseline.import_kwh - plan.totals.import_kwh
            if shifts:
                # The battery's own saving: against the plan without it, the appliances still placed.
                try:
                    alone = await asyncio.to_thread(_plan, site, None, shifts)
                    saving = alone.totals.cost - plan.totals.cost
                    import_avoided = alone.totals.import_kwh - plan.totals.import_kwh
                except PlanInfeasible as err:
                    ctx.notes.append(f"load: no plan without the battery to compare with: {err}")
                    saving = 0.0
            if saving > 1e-6:
                candidate = _battery_candidate(ctx, plan, battery, spec, source, saving, import_avoided,
                                               summary=not shifts)
                if candidate is not None:
                    if plan.guard is not None and plan.guard.fell_back:
                        candidate.reasons = [OWN_MODE_REASON, *candidate.reasons[:4]]
                    if carbon is not None and ctx.carbon is not None:
                        candidate.reasons = [*candidate.reasons[:4], carbon[0].upper() + carbon[1:]]
                        candidate.facts["carbon_from"] = ctx.carbon.entity
                    out.append(candidate)
        if plan is not None:
            for shift in shifts:
                candidate = await self._shift_candidate(ctx, site, spec, shifts, shift, plan)
                if candidate is not None:
                    out.append(candidate)
        if plan is None:
            plan = await asyncio.to_thread(make_plan, site)
        ctx.plans.setdefault("load", plan)
        ev_shift = next((s for s in shifts if s.ev is not None), None)
        ctx.plans.setdefault("load_parts", LoadPlanParts(site, spec, ev_shift.window_end if ev_shift else None))
        waste = (ctx.analysis or {}).get("waste")
        if isinstance(waste, AlwaysOnWaste) and waste.excess_kw > 0:
            out.append(_waste_candidate(ctx, waste))
        alert = await asyncio.to_thread(pv_alert, ctx)  # a dead or shaded PV array, with its evidence
        if alert is not None:
            out.append(alert)
        return out

    async def _shift_candidate(self, ctx: RunContext, site: SiteInputs, battery: Battery | None,
                               shifts: list[Shift], shift: Shift, plan: Plan) -> Candidate | None:
        """The plan's start for one appliance, when it saves against running it at its window's start."""
        held = [shift.held(site) if s is shift else s for s in shifts]
        try:  # under the same guard as the plan, so the difference is the appliance's alone
            at_start = await asyncio.to_thread(_plan, site, battery, held, _band(ctx, site.hours))
        except PlanInfeasible as err:
            ctx.notes.append(f"load: no plan with {shift.label} at the window's start to compare with: {err}")
            return None
        saving = at_start.totals.cost - plan.totals.cost
        if saving < MIN_SAVING:
            return None
        return _shift_candidate(ctx, plan, shift, saving, at_start)

    async def _soc(self, ctx: RunContext, battery: BatteryOptions) -> tuple[float, str]:
        """The state of charge (%) the plan starts from, and where it comes from."""
        if ctx.measured is not None and ctx.measured.soc_pct is not None:  # read just now (feedback.py)
            soc = min(max(ctx.measured.soc_pct, battery.min_soc), battery.max_soc)
            return soc, ctx.measured.soc_entity or "measured"
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


def _carbon_guard(ctx: RunContext, plan: Plan | None, *, shifted: bool) -> str | None:
    """What the plan's carbon is held to, in words; None without a guarded battery plan or carbon.

    ``shifted``: the car or appliances are in the plan, so the mode's figure has them too."""
    if ctx.carbon is None or plan is None or plan.battery is None or plan.guard is None:
        return None
    source = f"from {ctx.carbon.entity}"
    mode = "that mode with the same car and appliance runs" if shifted else "that mode"
    # Both net of what the energy left in the battery at the end will displace later (the cap's terms).
    return (f"carbon capped at the self-consumption mode's, {source}: the plan is expected to emit "
            f"{plan.guard.planned.carbon_kg:.1f} kg CO2 over {plan.hours} h against "
            f"{plan.guard.own_mode.carbon_kg:.1f} kg in {mode} "
            f"({plan.baseline.carbon_kg:.1f} kg without the battery)")


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
        soc_max_kwh=capacity * battery.max_soc / 100.0, terminal_soc_kwh=initial, cycle_cost=battery.cycle_cost)


def _stretches(power: FloatArray) -> Iterator[tuple[int, int]]:
    """Half-open ``[start, end)`` hours where the battery moves energy worth naming."""
    mask = np.concatenate([[False], power > FLOW_KW, [False]])
    edges = np.flatnonzero(mask[1:] != mask[:-1])
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if float(power[a:b].sum()) >= STRETCH_KWH:
            yield int(a), int(b)


def _span(start: datetime, a: int, b: int, tz: ZoneInfo, now: datetime) -> str:
    """Hours ``a`` to ``b`` of a plan in Home Assistant's zone, saying "tomorrow" when they start then."""
    return span(start + a * HOUR, start + b * HOUR, tz, now)


def _battery_candidate(ctx: RunContext, plan: Plan, battery: BatteryOptions, spec: Battery,
                       soc_source: str, saving: float, import_avoided: float, *,
                       summary: bool = True) -> Candidate | None:
    """The battery's schedule; ``summary``: the plan's summary is the battery's (nothing else in the plan)."""
    assert plan.battery is not None
    tz = ZoneInfo(ctx.tz)
    day = min(24, plan.hours)
    # The schedule of the coming day: the stretches that start in it.
    charge = [s for s in _stretches(plan.battery.charge_kw) if s[0] < day]
    discharge = [s for s in _stretches(plan.battery.discharge_kw) if s[0] < day]
    if not charge and not discharge:
        return None
    charge_text = ", ".join(_span(plan.start, a, b, tz, ctx.now) for a, b in charge)
    discharge_text = ", ".join(_span(plan.start, a, b, tz, ctx.now) for a, b in discharge)
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
    import_avoided = max(0.0, import_avoided)
    hours = plan.hours
    facts: dict[str, float | str] = {
        "charge": charge_text or "none", "discharge": discharge_text or "none",
        "plan_saving": round(saving, 3), "hours": hours,
        "charge_kwh_per_day": round(per_day(charged, hours), 2),
        "discharge_kwh_per_day": round(per_day(discharged, hours), 2),
        "loss_kwh_per_day": round(per_day(losses, hours), 2),
        "capacity_kwh": round(battery.capacity_kwh, 2), "max_power_kw": round(battery.max_power_kw, 2),
        "round_trip_efficiency_pct": round(battery.round_trip_efficiency * 100, 1),
        "initial_soc_pct": round(spec.initial_soc_kwh / spec.capacity_kwh * 100, 1),
        "initial_soc_from": soc_source,
    }
    codes = BATTERY_CODES if summary else tuple(c for c in BATTERY_CODES if c != "plan_summary")
    reasons = [r.message for r in plan.reasons if r.code in codes and r.start < plan.start + day * HOUR]
    if losses > 1e-6:
        reasons.append(f"The battery loses {facts['loss_kwh_per_day']} kWh a day in charging and discharging")
    return Candidate(
        category="load",
        key="battery-schedule",
        title=title,
        action={"type": "plan", "key": BATTERY_KEY},  # the whole schedule is in the pushed plan
        kwh_per_day=round(per_day(import_avoided, hours), 3),
        money_per_day=round(per_day(saving, hours), 3),
        confidence=0.7 if soc_source != "min_soc" else 0.6,
        method="battery_dispatch",
        reasons=reasons[:5],
        facts=facts,
        valid_until=ctx.now + timedelta(days=1),
    )


@dataclass(frozen=True)
class Shift:
    """An appliance run or the car's charge in its next daily window, as the plan gets it."""

    label: str  # for people: "dishwasher", "the EV"
    key: str  # the candidate's stable key
    plan_key: str  # the item's key in the pushed plan (a controllable's plan_key)
    window_start: datetime
    window_end: datetime
    entity: str | None
    run: DeferrableRun | None = None
    ev: EVCharge | None = None

    @property
    def constraint(self) -> str:
        """How the engine names this appliance's constraint."""
        return f"deferrable:{self.run.name}" if self.run is not None else f"ev:{EV_NAME}"

    def held(self, site: SiteInputs) -> DeferrableRun | EVCharge:
        """The same energy at the window's start: a run started then, the car charged at full power
        from the hour it is plugged in until it has its energy (as the engine's baseline)."""
        first = site.start + site.index(max(self.window_start, site.start), up=True) * HOUR
        if self.run is not None:
            return replace(self.run, earliest_start=first, latest_end=first + self.run.duration_h * HOUR)
        assert self.ev is not None
        profile: list[float] = []
        need = self.ev.energy_kwh
        while need > 1e-12:
            drawn = min(self.ev.max_kw, need / self.ev.efficiency)
            profile.append(drawn)
            need -= drawn * self.ev.efficiency
        return DeferrableRun(EV_NAME, tuple(profile), first, first + len(profile) * HOUR)


def _next_window(site: SiteInputs, start_minute: int, minutes: int, skip_today: bool = False) -> tuple[datetime, datetime]:
    """The first daily window (local start, length) that starts at or after the plan's start
    (``skip_today``: and not today, local time)."""
    tz = site.tz
    local = site.start.astimezone(tz)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        begin = datetime.combine(day, time(start_minute // 60, start_minute % 60), tzinfo=tz)
        if begin >= site.start and not (skip_today and day == local.date()):
            return begin, begin + timedelta(minutes=minutes)
    raise AssertionError("a daily window starts within two days")  # pragma: no cover


def _profile(power_kw: float, run_hours: float) -> tuple[float, ...]:
    hours = math.ceil(run_hours - 1e-9)
    last = run_hours - (hours - 1)  # the part of the last hour it runs
    return (power_kw,) * (hours - 1) + (power_kw * last,)


def shiftables(loads: tuple[DeferrableLoad, ...], ev: EvOptions | None, site: SiteInputs,
               measured: Measured | None = None, previous: dict[str, Any] | None = None) -> list[Shift]:
    """The engine's runs for the appliances and the car, each in its next daily window.

    A re-plan keeps what the last pushed plan (``previous``) started or placed in a window that is
    open now: a run under way goes on to its end, a run or charge planned later in the open window
    stays in it (the car with the energy still missing), so hourly re-plans do not push them to
    tomorrow. An appliance that already ran today (``measured``) waits for tomorrow's window.
    """
    out: list[Shift] = []
    ran = measured.ran_today if measured is not None else set()
    for load in loads:
        going = run_in_progress(previous, load.key, site.start)
        window = open_window(site.start, load.earliest_minute, load.window_minutes, site.tz)
        if going is not None:  # fixed from now to its end: the executor switched it on
            begin, end = site.start, site.start + math.ceil((going[1] - site.start) / HOUR - 1e-9) * HOUR
            profile = _profile(load.power_kw, (going[1] - site.start) / HOUR)
        else:
            if (window is not None and load.key not in ran and planned_in(previous, load.key, site.start, window[1])
                    and not run_done(previous, load.key, window[0], site.start)):
                begin, end = site.start, window[1]
            else:
                # Ran in the open window: its next one; ran earlier today, outside a window: not today.
                begin, end = _next_window(site, load.earliest_minute, load.window_minutes,
                                          load.key in ran and window is None)
            profile = _profile(load.power_kw, load.run_hours)
        out.append(Shift(load.name, f"deferrable-{load.key}", load.key, begin, end, load.entity,
                         run=DeferrableRun(load.name, profile, begin, end)))
    if ev is not None:
        begin, end = _next_window(site, ev.plugged_in_minute, ev.window_minutes)
        energy = ev.energy_kwh
        window = open_window(site.start, ev.plugged_in_minute, ev.window_minutes, site.tz)
        if window is not None:
            measured_kwh = measured.ev_delivered_kwh if measured is not None else None
            delivered = (measured_kwh if measured_kwh is not None
                         else delivered_in_plan(previous, window[0], site.start, EV_CHARGER_EFFICIENCY))
            if (delivered > 0 or planned_in(previous, CAR_KEY, site.start, window[1])) \
                    and ev.energy_kwh - delivered > STRETCH_KWH:
                begin, end, energy = site.start, window[1], ev.energy_kwh - delivered
        out.append(Shift("the EV", "ev-charging", CAR_KEY, begin, end, ev.entity,
                         ev=EVCharge(EV_NAME, energy, ev.max_power_kw, begin, end, EV_CHARGER_EFFICIENCY)))
    return out


def _band(ctx: RunContext, hours: int) -> tuple[FloatArray, FloatArray] | None:
    """The load forecast's P10 and P90 for the plan's hours: the margin a battery cycle must clear."""
    if ctx.forecast is None or len(ctx.forecast) < hours:
        return None
    return ctx.forecast.p10[:hours], ctx.forecast.p90[:hours]


def _plan(site: SiteInputs, battery: Battery | None, shifts: Sequence[Shift | DeferrableRun | EVCharge],
          band: tuple[FloatArray, FloatArray] | None = None) -> Plan:
    parts = [(s.run or s.ev) if isinstance(s, Shift) else s for s in shifts]
    evs = [p for p in parts if isinstance(p, EVCharge)]
    runs = [p for p in parts if isinstance(p, DeferrableRun)]
    if battery is not None:  # never expected to do worse than the battery's own mode, the car and appliances placed
        return plan_battery_safe(site, battery, evs=evs, deferrables=runs, load_band=band)
    return make_plan(site, evs=evs, deferrables=runs)


def _shift_candidate(ctx: RunContext, plan: Plan, shift: Shift, saving: float, at_start: Plan) -> Candidate | None:
    tz = ZoneInfo(ctx.tz)
    window = f"{shift.window_start.astimezone(tz):%H:%M}-{shift.window_end.astimezone(tz):%H:%M}"
    if shift.run is not None:
        run = next(r for r in plan.deferrables if r.name == shift.run.name)
        if run.start is None or run.start_index is None:
            return None  # the run does not fit in this plan
        begin = f"{run.start.astimezone(tz):%H:%M}"
        title = f"Run the {shift.label} at {begin}"
        held = next(r for r in at_start.deferrables if r.name == shift.run.name)
        facts: dict[str, float | str] = {
            "start": begin, "end": f"{(run.start + shift.run.duration_h * HOUR).astimezone(tz):%H:%M}",
            "window": window,
            "start_at_window_start": f"{held.start.astimezone(tz):%H:%M}" if held.start is not None else "none",
            "energy_kwh": round(shift.run.energy_kwh, 3),
        }
        reasons = [r.message for r in plan.reasons if r.code == "deferrable_scheduled"
                   and r.attributes.get("run") == shift.run.name]
        method = "deferrable_shift"
    else:
        assert shift.ev is not None
        ev = next(e for e in plan.evs if e.name == EV_NAME)
        spans = list(_stretches(ev.power_kw))
        if not spans:
            return None
        charge = ", ".join(_span(plan.start, a, b, tz, ctx.now) for a, b in spans)
        title = f"Charge the EV {charge}"
        facts = {"charge": charge, "window": window, "start": f"{(plan.start + spans[0][0] * HOUR).astimezone(tz):%H:%M}",
                 "energy_kwh": round(shift.ev.energy_kwh, 3), "delivered_kwh": round(ev.delivered_kwh, 3),
                 "max_power_kw": round(shift.ev.max_kw, 2)}
        reasons = [r.message for r in plan.reasons if r.code == "ev_charge" and r.attributes.get("ev") == EV_NAME]
        method = "ev_charge_shift"
    facts.update({"plan_cost": round(plan.totals.cost, 4), "plan_cost_at_window_start": round(at_start.totals.cost, 4),
                  "saving_per_run": round(saving, 4)})
    if shift.entity is not None:
        facts["entity"] = shift.entity
    reasons.append(f"It costs {saving:.2f} less than at the window's start; it moves energy to cheaper hours "
                   "and saves none, so the kWh saved is 0")
    return Candidate(
        category="load",
        key=shift.key,
        title=title,
        action={"type": "plan", "key": shift.plan_key},  # the timed start is in the pushed plan
        kwh_per_day=0.0,
        money_per_day=round(saving, 3),  # one run (one charge) a day
        confidence=0.7,
        method=method,
        reasons=reasons[:5],
        facts=facts,
        target_entity=shift.entity,
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

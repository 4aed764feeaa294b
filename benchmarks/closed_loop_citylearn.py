"""Closed-loop benchmark: the pushed plan carried out by the executor's own rules on an emulated battery.

From the repository root, with the add-on's environment::

    nice python benchmarks/closed_loop_citylearn.py [--buildings 1 2 3 4 5] [--forecast-cache DIR]
        [--drift-pp 10] [--step-kw 0.1] [--noise-pp 1] [--delay-min 15] [--max-changes 12]
        [--fixed-power] [--reserve [--top-up]] [--replan-hours 1]

The homes, battery, forecasts, accounting and the rule-based controller are those of
``battery_citylearn.py`` (imported from it, not copied). What differs is how a plan reaches the
battery, as it does in a home:

1. **Plan** (the add-on): at every local midnight ``plan_battery_safe`` (the add-on's planner, as
   the open loop's) plans 48 h from EAIO's forecasts, starting from the state of charge the
   emulated sensor *reports*. The plan becomes
   the pushed plan's battery values with the add-on's own function
   (``agents.plan_push.battery_values``): a power where the plan charges from the grid (+) or
   holds its charge (0), ``null`` (the battery's automatic mode: cover the load, store surplus)
   where that is the plan's intent. ``--fixed-power`` pushes the planned power in every slot
   instead (a controllable without an automatic mode). ``--reserve``: the battery's controllable
   also names its reserve entity, so held slots are automatic too and every automatic slot carries
   the reserve (``agents.plan_push.battery_reserves``), which the executor sets (0-100 %, step 1,
   rate-limited as its own entity) and the emulated automatic mode never discharges below.
   ``--top-up`` (a diagnosis, not in the contract or the executor): grid charges are bought from
   the measured state of charge up to the open loop's just-in-time level instead of the planned power.
   As the add-on's orchestrator, a re-plan whose battery plan falls back to the battery's own mode
   does not replace a plan with a cycle under way while that plan has slots left.
2. **Execute** (the integration): at each hour boundary the executor's rules from
   ``custom_components/eaio/control_rules.py`` (loaded by file path, no Home Assistant import)
   turn the slot's value into the command: clamped into the controllable's limits and rounded
   to the entity's step (``--step-kw``), sent only when it differs from what the entity holds,
   and only while the rate limit (``--max-changes`` per sliding hour) allows; a refused change
   leaves the entity where it was.
3. **Emulated battery**: a power command is held for the hour (bounded by the battery's power
   and state of charge; a discharge larger than the load is exported and earns nothing); the
   automatic mode covers the measured net load and stores measured surplus. Physics as the
   open-loop benchmark (6.4 kWh, 5 kW, round trip 0.9).
4. **Feedback**: the state-of-charge sensor reports the true value ``--delay-min`` minutes
   old, with Gaussian noise of ``--noise-pp`` percentage points (seeded), rounded to 1 %. At
   every hour boundary the add-on compares it with the plan's state of charge; more than
   ``--drift-pp`` apart, it re-plans at once from the reported value, with the hours left of the
   last midnight's forecast (a new forecast is made only at midnight: a re-plan uses what the
   add-on already knows).

Reported: cost / carbon as ratios to no battery for the peak rule, the open-loop EAIO of
``battery_citylearn.py`` (``PlanFollower`` with exact measurements), this closed loop and
perfect foresight (the same daily 48 h plans with the actual future, executed exactly). Targets
(issue 10): closed loop >= 90 % of the perfect-foresight saving in every home, within 2 points
of the open-loop share, never costlier or dirtier than no battery. Exit 0 when met, 3 when not.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
import importlib.util
import os
from pathlib import Path
import platform
import sys
import time
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "addon"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from eaio_addon.agents.plan_push import battery_reserves, battery_values  # noqa: E402
from eaio_addon.engine.optimize import SiteInputs, plan_battery_safe  # noqa: E402
from eaio_addon.engine.optimize.execute import PlanFollower  # noqa: E402
from eaio_addon.engine.optimize.safe import SELF_CONSUMPTION_NOTE  # noqa: E402
from eaio_addon.engine.series import HOUR, FloatArray  # noqa: E402

from benchmarks.battery_citylearn import (  # noqa: E402
    CAPACITY_KWH,
    POWER_KW,
    VARIANTS,
    DayForecast,
    account,
    apply,
    battery,
    cached_loads,
    check_physics,
    day_forecasts,
    midnights,
    rolling,
    rule,
)
from benchmarks.citylearn import BUILDINGS, Building, load_building  # noqa: E402

RULES_PATH = ROOT / "custom_components" / "eaio" / "control_rules.py"
EXIT_FAILED = 3
TARGET_SHARE = 0.90
TARGET_GAP = 0.02
TARGET = "battery"  # the emulated power entity's id for the rate limiter
RESERVE = "battery reserve"  # the emulated reserve entity's


def load_rules() -> ModuleType:
    """The executor's own command rules, by file path: the add-on's environment has no Home Assistant."""
    spec = importlib.util.spec_from_file_location("eaio_control_rules", RULES_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {RULES_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the file runs
    spec.loader.exec_module(module)
    return module


@dataclass
class LoopSettings:
    drift_pp: float = 10.0
    step_kw: float = 0.1
    noise_pp: float = 1.0
    delay_min: float = 15.0
    max_changes: int = 12
    automatic: bool = True
    seed: int = 1
    replan_hours: int = 24  # besides midnight: the add-on's schedule (its default is hourly)
    reserve: bool = False
    top_up: bool = False


@dataclass
class LoopStats:
    plans: int = 0
    drift_replans: int = 0
    commands: int = 0
    refused: int = 0
    auto_hours: int = 0
    top_ups: int = 0
    kept: int = 0  # re-plans that fell back while a cycle was under way: the cycle went on
    held: list[float | None] = field(default_factory=list)  # what the entity held each hour (None: automatic)


class EmulatedBattery:
    """A battery inverter behind a power entity and a mode: what the executor commands."""

    def __init__(self) -> None:
        self.spec = battery()
        self.soc = 0.0  # kWh, true
        self.command: float | None = None  # None: the battery's automatic mode
        self.reserve_pct = 0.0  # the reserve entity: what the automatic mode keeps, % of capacity

    def hour(self, load: float, pv: float) -> tuple[float, float]:
        b = self.spec
        room = max(b.soc_max - self.soc, 0.0) / b.charge_efficiency
        avail = max(self.soc - b.soc_min_kwh, 0.0) * b.discharge_efficiency
        net = load - pv
        if self.command is None:
            keep = max(b.soc_min_kwh, self.reserve_pct / 100.0 * CAPACITY_KWH)
            avail = max(self.soc - keep, 0.0) * b.discharge_efficiency
            charge = min(max(-net, 0.0), b.max_charge_kw, room)
            discharge = min(max(net, 0.0), b.max_discharge_kw, avail)
        elif self.command >= 0:
            charge, discharge = min(self.command, b.max_charge_kw, room), 0.0
        else:
            charge, discharge = 0.0, min(-self.command, b.max_discharge_kw, avail)
        self.soc += charge * b.charge_efficiency - discharge / b.discharge_efficiency
        self.soc = min(max(self.soc, b.soc_min_kwh), b.soc_max)
        return charge, discharge


class SocSensor:
    """Reports the state of charge in %, ``delay`` of an hour old, noisy and rounded to 1 %."""

    def __init__(self, noise_pp: float, delay_h: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.noise_pp, self.delay_h = noise_pp, delay_h
        self.previous = 0.0

    def read(self, soc_now: float) -> float:
        lagged = soc_now + (self.previous - soc_now) * self.delay_h  # linear within the hour
        self.previous = soc_now
        pct = lagged / CAPACITY_KWH * 100.0 + self.rng.normal(0.0, self.noise_pp)
        return float(np.clip(round(pct), 0.0, 100.0))


def closed_loop(b: Building, forecasts: dict[int, DayForecast], settings: LoopSettings,
                rules: ModuleType) -> tuple[FloatArray, FloatArray, LoopStats]:
    n = len(b.load)
    load, pv, price = b.load.values, b.pv.values, b.price.values
    charge, discharge = np.zeros(n), np.zeros(n)
    device = EmulatedBattery()
    sensor = SocSensor(settings.noise_pp, settings.delay_min / 60.0, settings.seed)
    limits = rules.Limits(-POWER_KW, POWER_KW, settings.step_kw)
    reserve_limits = rules.Limits(0.0, 100.0, 1.0)
    reserves: list[int] = []
    charge_to: list[float] = []
    limiter = rules.RateLimiter(max_per_hour=settings.max_changes)
    stats = LoopStats()
    starts = set(midnights(b))
    origin = min(starts)
    values: list[float | None] = []
    cycling = False  # the plan followed has a cycle (it is not the battery's own mode)
    tried_at = 0
    soc_plan: FloatArray = np.zeros(0)
    planned_at = 0
    ledger = 0.0  # kg CO2 saved so far against no battery, as measured (the open loop's ledger)
    for t in range(origin, n):
        measured = sensor.read(device.soc)
        k = t - planned_at
        drift = bool(values) and k < len(values) and abs(measured - soc_plan[k]) > settings.drift_pp
        scheduled = t - max(planned_at, tried_at) >= settings.replan_hours
        if t in starts or drift or scheduled or k >= len(values):
            if t in starts:
                origin = t
            elif drift and not scheduled:
                stats.drift_replans += 1
            fc = forecasts[origin]
            offset = t - origin
            hours = min(len(fc.load.p50) - offset, n - t)
            site = SiteInputs(b.load.start + t * HOUR, fc.load.p50[offset:offset + hours],
                              fc.pv.p50[offset:offset + hours], price[t:t + hours], carbon=fc.carbon[offset:offset + hours])
            band = (fc.load.p10[offset:offset + hours], fc.load.p90[offset:offset + hours])
            plan = plan_battery_safe(site, battery(min(measured / 100.0 * CAPACITY_KWH, CAPACITY_KWH)),
                                     load_band=band, carbon_allowance_kg=min(ledger, 0.0), time_limit=30.0,
                                     explain_plan=False)
            assert plan.battery is not None
            fell_back = any(SELF_CONSUMPTION_NOTE in note for note in plan.notes)
            if fell_back and cycling and values and k < len(values):
                # As the add-on's orchestrator (plan_push.keep_battery_under_way): a re-plan that falls
                # back to the battery's own mode does not drop a cycle under way; its slots go on.
                stats.kept += 1
                stats.plans += 1
                tried_at = t  # the schedule's next re-plan counts from this one
                fell_back = False
            else:
                cycling = not fell_back
                values = battery_values(plan.battery, site.load - site.pv, automatic=settings.automatic,
                                        price=site.price, soc_min_kwh=0.0)
                soc_plan = plan.battery.soc_kwh / CAPACITY_KWH * 100.0
                reserves = []
                if settings.reserve and settings.automatic:
                    # As the add-on's battery_item: a held slot becomes automatic with its reserve.
                    values = [None if v is not None and abs(v) <= 1e-3 else v for v in values]
                    reserves = battery_reserves(plan.battery, site.price, CAPACITY_KWH)
                    if settings.top_up:
                        sun = np.maximum(fc.pv.p90[offset:offset + hours] - site.load, 0.0)
                        charge_to = top_up_targets(plan.battery, site, sun)
                planned_at, k = t, 0
                stats.plans += 1
        value = values[k]
        now_s = float(t) * 3600.0
        if settings.top_up and reserves and (value is None or value > 0):
            # Diagnosis only (neither the contract nor the executor has it): instead of the planned
            # grid charge, the executor buys from the measured SoC up to the slot's charge-to level.
            value = None
            if charge_to[k] > measured + 0.5:
                need = (charge_to[k] - measured) / 100.0 * CAPACITY_KWH / device.spec.charge_efficiency
                value = min(need, POWER_KW)
                stats.top_ups += 1
        if value is None:
            target: float | None = None
            stats.auto_hours += 1
        else:
            target = float(rules.to_command(value, limits))
        if target != device.command:
            # A mode change and a power change count alike against the entity's rate limit.
            current = device.command
            changes = target is None or current is None or rules.needs_command(target, current, settings.step_kw)
            if changes and limiter.allows(TARGET, now_s):
                limiter.record(TARGET, now_s)
                device.command = target
                stats.commands += 1
            elif changes:
                stats.refused += 1
        if reserves and target is None:
            # The executor sets the reserve entity (0-100 %, step 1) before the automatic mode.
            pct = float(rules.to_command(float(reserves[k]), reserve_limits))
            if rules.needs_command(pct, device.reserve_pct, 1.0):
                if limiter.allows(RESERVE, now_s):
                    limiter.record(RESERVE, now_s)
                    device.reserve_pct = pct
                    stats.commands += 1
                else:
                    stats.refused += 1
        stats.held.append(device.command)
        charge[t], discharge[t] = device.hour(float(load[t]), float(pv[t]))
        net = float(load[t] - pv[t])
        ledger += (max(net, 0.0) - max(net + charge[t] - discharge[t], 0.0)) * float(b.carbon.values[t])
    return charge, discharge, stats


def top_up_targets(bp: Any, site: SiteInputs, sun: FloatArray) -> list[float]:
    """Per slot the state of charge (%) the open loop's rule buys up to from the grid: the plan's
    charge at its next paying discharge less what later PV (up to the forecast's P90 surplus ``sun``)
    and cheap hours no dirtier than this one still bring."""
    follower = PlanFollower(battery(float(bp.soc_kwh[0])), bp, site.load - site.pv, site.price,
                            carbon=site.co2, surplus_high=sun)
    return [float((follower.target[j] - follower.coming[j]) / CAPACITY_KWH * 100.0)
            if np.isfinite(follower.target[j]) else -1.0 for j in range(len(site.price))]


def forecasts_for(b: Building, n: int, cache: Path | None) -> tuple[str, dict[int, DayForecast], float]:
    """The open-loop benchmark's forecasts for the unchanged home (its load cache, when a folder is given)."""
    began = time.perf_counter()
    loads, method = cached_loads(b, n, 48, 24, cache)
    home, configured_kw = apply(b, VARIANTS["base"])
    forecasts, _ = day_forecasts(home, loads, VARIANTS["base"], configured_kw)
    return method, forecasts, time.perf_counter() - began


def run_home(b: Building, forecasts: dict[int, DayForecast], settings: LoopSettings,
             rules: ModuleType) -> tuple[dict[str, Any], dict[str, float]]:
    """Every controller's (charge, discharge[, stats]) for one home, and the seconds each took."""
    n = len(b.load)
    controllers: dict[str, Callable[[], Any]] = {
        "none": lambda: (np.zeros(n), np.zeros(n)),
        "rule (peak)": lambda: rule(b, peak_only=True),
        "open loop": lambda: rolling(b, 48, forecasts),
        "closed loop": lambda: closed_loop(b, forecasts, settings, rules),
        "perfect foresight": lambda: rolling(b, 48, None),
    }
    runs: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name, fn in controllers.items():
        began = time.perf_counter()
        runs[name] = fn()
        seconds[name] = time.perf_counter() - began
    return runs, seconds


NAMES = ["rule (peak)", "open loop", "closed loop", "perfect foresight"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--buildings", nargs="+", type=int, default=list(BUILDINGS))
    parser.add_argument("--forecast-cache", type=Path, default=None)
    parser.add_argument("--drift-pp", type=float, default=10.0, help="re-plan when the SoC is this far off the plan")
    parser.add_argument("--step-kw", type=float, default=0.1, help="the power entity's step")
    parser.add_argument("--noise-pp", type=float, default=1.0, help="SoC sensor noise (standard deviation, %%)")
    parser.add_argument("--delay-min", type=float, default=15.0, help="SoC sensor delay (minutes)")
    parser.add_argument("--max-changes", type=int, default=12, help="rate limit: changes per hour per entity")
    parser.add_argument("--fixed-power", action="store_true", help="push the planned power in every slot")
    parser.add_argument("--reserve", action="store_true",
                        help="the battery also has a reserve entity (minimum state of charge) EAIO sets per slot")
    parser.add_argument("--top-up", action="store_true",
                        help="diagnosis: with --reserve, grid charges bought from the measured SoC up to a charge-to level")
    parser.add_argument("--replan-hours", type=int, default=24,
                        help="re-plan this often besides midnight and drift (the add-on's default schedule: 1)")
    args = parser.parse_args(argv)
    settings = LoopSettings(args.drift_pp, args.step_kw, args.noise_pp, args.delay_min, args.max_changes,
                            not args.fixed_power, replan_hours=args.replan_hours, reserve=args.reserve, top_up=args.top_up)
    rules = load_rules()

    print(f"{datetime.now().date()}: python {platform.python_version()}, numpy {version('numpy')}, "
          f"scipy {version('scipy')}; {os.cpu_count()} CPUs, {platform.machine()}")
    every = "daily plans at local midnight" if settings.replan_hours >= 24 else \
        f"plans at local midnight and every {settings.replan_hours} h"
    print(f"closed loop: {every}, re-plan on drift > {settings.drift_pp:g} pp; power step "
          f"{settings.step_kw:g} kW; SoC sensor {settings.delay_min:g} min late, noise {settings.noise_pp:g} pp, "
          f"1 % resolution; rate limit {settings.max_changes}/h; battery values: "
          f"{'automatic mode where it is the intent' if settings.automatic else 'the planned power in every slot'}"
          f"{', with the reserve' if settings.reserve else ''}{', top-up (diagnosis)' if settings.top_up else ''}; "
          f"rules from {RULES_PATH.relative_to(ROOT)}\n")
    print("| building | " + " | ".join(NAMES) + " | open-loop share | closed-loop share | plans (drift) | pass |")
    print("|---|" + "---|" * (len(NAMES) + 4))
    passed = True
    totals: dict[str, list[float]] = {k: [0.0, 0.0] for k in ["none", *NAMES]}
    notes: list[str] = []
    for n in args.buildings:
        b = load_building(n)
        method, forecasts, fc_seconds = forecasts_for(b, n, args.forecast_cache)
        runs, seconds = run_home(b, forecasts, settings, rules)
        stats: LoopStats = runs["closed loop"][2]
        res = {}
        for name, run in runs.items():
            check_physics(run[0], run[1])
            res[name] = account(b, run[0], run[1])
        for name in totals:
            totals[name][0] += res[name][0]
            totals[name][1] += res[name][1]
        base_cost, base_carbon = res["none"]
        pf_saving = base_cost - res["perfect foresight"][0]
        open_share = (base_cost - res["open loop"][0]) / pf_saving
        closed_share = (base_cost - res["closed loop"][0]) / pf_saving
        ok = (closed_share >= TARGET_SHARE and closed_share >= open_share - TARGET_GAP
              and res["closed loop"][0] <= base_cost and res["closed loop"][1] <= base_carbon)
        passed &= ok
        cells = " | ".join(f"{res[k][0] / base_cost:.3f} / {res[k][1] / base_carbon:.3f}" for k in NAMES)
        print(f"| {n} | {cells} | {open_share:.1%} | {closed_share:.1%} | {stats.plans} ({stats.drift_replans}) "
              f"| {'PASS' if ok else 'FAIL'} |", flush=True)
        notes.append(f"building {n}: without battery {base_cost:.2f} $ and {base_carbon:.1f} kg CO2; forecasts "
                     f"{fc_seconds:.0f} s ({method}); closed loop {seconds['closed loop']:.1f} s, "
                     f"{stats.commands} commands, {stats.refused} refused by the rate limit, "
                     f"{stats.auto_hours} h in automatic mode, {stats.kept} re-plans kept the cycle under way"
                     f"{f', {stats.top_ups} top-ups' if settings.top_up else ''}")
    base_cost, base_carbon = totals["none"]
    cells = " | ".join(f"{totals[k][0] / base_cost:.3f} / {totals[k][1] / base_carbon:.3f}" for k in NAMES)
    pf = base_cost - totals["perfect foresight"][0]
    print(f"| all | {cells} | {(base_cost - totals['open loop'][0]) / pf:.1%} | "
          f"{(base_cost - totals['closed loop'][0]) / pf:.1%} | | |\n")
    print("cells: cost / carbon as ratios to the same home without a battery (lower is better)")
    for line in notes:
        print(line)
    print(f"\n{'PASS' if passed else 'FAIL'}: closed loop >= 90 % of the perfect-foresight saving, within 2 points "
          "of the open loop, never costlier or dirtier than no battery, every building")
    return 0 if passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

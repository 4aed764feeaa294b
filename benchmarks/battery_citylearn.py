"""Benchmark 2: battery dispatch on CityLearn 2022 homes, planned on EAIO's own forecasts.

From the repository root, with the add-on's environment::

    nice python benchmarks/battery_citylearn.py [--buildings 1 2 3 4 5] [--horizon 48]
        [--replan-every 24] [--carbon-weight 0] [--forecast-cache DIR]

Each home gets the challenge's battery (6.4 kWh, 5 kW both ways, round-trip efficiency 0.9
split evenly between charging and discharging, starting empty, SoC 0..6.4 kWh) for the
whole year of data. Controllers compared, all simulated by the same battery physics:

- **EAIO**: at every local midnight the engine plans the next ``--horizon`` hours
  (``plan_battery``, cost objective unless ``--carbon-weight``) from EAIO's forecasts; the
  plan is executed until the next local midnight (23, 24 or 25 h) hour by hour by
  ``engine.optimize.execute.PlanFollower``, which sees each hour's *measured* load and PV
  as a real controller would (nothing later): it covers the measured net load from energy
  the plan does not keep for dearer hours (never exporting battery energy), buys grid
  energy just in time to reach the plan's state of charge before its next paying
  discharge, and stores measured PV surplus. Forecasts, all made from data before the
  planning time only: load: ``engine.forecast.LoadForecaster`` (its central forecast),
  updated with each day's load, no weather (the data set has no genuine weather forecasts),
  or, when that module is not importable, the mean of the last 7 days at the same hour (the
  header says which); PV: ``engine.pv.PvForecaster`` without weather (the site's clear-sky
  shape scaled by its recent days); carbon: the last 24 hourly values, repeated; price: the
  published time-of-use tariff (the actual column, known in advance). ``--replan-every``
  plans more often than daily (not the issue's protocol; shown as what would help);
  ``--oracle load pv`` hands EAIO the actual future of one input instead of its forecast, to
  measure what each forecast's error costs (a diagnosis, never a result).
- **perfect foresight**: the same daily 48 h LP and the same execution, with the actual
  load, PV and carbon of the horizon as its "forecast".
- **year optimum**: one LP over the whole year with the actual future (no rolling horizon):
  the upper bound on what any controller could save with this battery model.
- **rule (peak)**: the simple rule asked for: store PV surplus whenever there is any; in the
  hours whose price is above the midpoint of that day's lowest and highest price, discharge
  to cover the net load; otherwise idle.
- **rule (self-consumption)**: the common default of home batteries: store surplus, cover
  any net load from the battery.

Accounting follows the challenge's convention: an hour's cost is ``max(net import, 0) *
price`` and its carbon ``max(net import, 0) * carbon intensity``, so exported energy earns
nothing and avoids no carbon. Results are ratios to the same home without a battery.
Targets (issue 5): EAIO's cost saving at least 90 % of the perfect-foresight saving, and
EAIO better than the peak rule on both cost and carbon, for every building. Exit 0 when met,
3 when not.

Battery model: energy ``soc[t+1] = soc[t] + 0.949 * charge - discharge / 0.949``; no
self-discharge, no power-dependent efficiency and no capacity fade (the challenge's own
simulator has these; they are left out here for every controller alike).

Forecasting takes most of the run time; ``--forecast-cache DIR`` keeps each home's
forecasts in DIR and reuses them on the next run (delete DIR after changing a forecaster).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
import os
from pathlib import Path
import pickle
import platform
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "addon"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from eaio_addon.engine.optimize import (  # noqa: E402
    Battery,
    SiteInputs,
    plan_battery,
)
from eaio_addon.engine.optimize.execute import PlanFollower  # noqa: E402
from eaio_addon.engine.pv import PvForecaster  # noqa: E402
from eaio_addon.engine.series import HOUR, FloatArray, Forecast, HourlySeries  # noqa: E402

from benchmarks.citylearn import BUILDINGS, Building, load_building  # noqa: E402

CAPACITY_KWH = 6.4
POWER_KW = 5.0
ROUND_TRIP = 0.9
LATITUDE, LONGITUDE = 34.09, -117.43  # Fontana, California: the homes' location
EXIT_FAILED = 3

Forecaster = Callable[[Building, int, int], tuple[FloatArray, FloatArray, FloatArray]]


def battery(soc: float = 0.0) -> Battery:
    return Battery.with_round_trip(CAPACITY_KWH, POWER_KW, ROUND_TRIP, initial_soc_kwh=soc)


@dataclass(frozen=True)
class Outcome:
    name: str
    cost: float
    carbon: float
    charge: FloatArray
    discharge: FloatArray
    seconds: float


def account(b: Building, charge: FloatArray, discharge: FloatArray) -> tuple[float, float]:
    grid = np.maximum(b.load.values - b.pv.values + charge - discharge, 0.0)
    return float(grid @ b.price.values), float(grid @ b.carbon.values)


def check_physics(charge: FloatArray, discharge: FloatArray) -> None:
    """Every controller's schedule must be one the battery can do."""
    bat = battery()
    soc = bat.initial_soc_kwh
    for c, d in zip(charge, discharge, strict=True):
        assert -1e-6 <= c <= bat.max_charge_kw + 1e-6 and -1e-6 <= d <= bat.max_discharge_kw + 1e-6
        assert min(c, d) <= 1e-6, "charge and discharge in the same hour"
        soc += c * bat.charge_efficiency - d / bat.discharge_efficiency
        assert -1e-5 <= soc <= bat.soc_max + 1e-5, f"SoC {soc} out of bounds"


def midnights(b: Building, every: int = 24) -> list[int]:
    """Indices of the hours starting at local midnight (and every ``every`` hours after)."""
    zone = ZoneInfo(b.tz)
    return [i for i, t in enumerate(b.load.timestamps()) if t.astimezone(zone).hour % every == 0]


# --- forecasts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayForecast:
    load: Forecast
    pv: Forecast
    carbon: FloatArray


def recent_profile(b: Building, origin: int, hours: int, days: int = 7) -> Forecast:
    """Mean of the last ``days`` days at the same hour, with their 10-90 % spread as band:
    the stand-in while the engine's forecaster is not importable, and before any history."""
    values = b.load.values
    p10, p50, p90 = np.empty(hours), np.empty(hours), np.empty(hours)
    for j in range(hours):
        lags = [origin + (j % 24) - 24 * k for k in range(1, days + 1)]
        past = np.array([values[i] for i in lags if 0 <= i < origin] or [np.mean(values[:origin]) if origin else 0.0])
        p10[j], p50[j], p90[j] = np.quantile(past, 0.1), past.mean(), np.quantile(past, 0.9)
    return Forecast(b.load.start + origin * HOUR, p50, np.minimum(p10, p50), np.maximum(p90, p50), "recent_profile")


class LoadForecasts:
    """EAIO's load forecaster as a home would run it: updated with each day's load at
    midnight (it retrains itself weekly), then asked for the next hours. No weather: the
    data set has no genuine weather forecasts (its "prediction" columns are the actuals)."""

    def __init__(self, tz: str) -> None:
        self.tz = tz
        try:
            from eaio_addon.engine.forecast import LoadForecaster
        except ImportError:
            self.factory: Callable[[], Any] | None = None
            self.method = "mean of the last 7 days at the same hour (engine/forecast.py not importable)"
        else:
            self.factory = lambda: LoadForecaster(tz=tz)
            self.method = "engine.forecast.LoadForecaster, updated daily with the load before midnight, no weather"
        self._model: Any = None
        self._seen = 0

    def __call__(self, b: Building, origin: int, hours: int) -> Forecast:
        if self.factory is None or origin < 24:
            return recent_profile(b, origin, hours)
        if self._model is None or self._seen > origin:
            self._model = self.factory().fit(HourlySeries(b.load.start, b.load.values[:origin]))
        else:
            self._model.update(HourlySeries(b.load.start + self._seen * HOUR, b.load.values[self._seen : origin]))
        self._seen = origin
        forecast: Forecast = self._model.predict(b.load.start + origin * HOUR, hours)
        return forecast


def pv_forecast(b: Building, origin: int, hours: int) -> Forecast:
    model = PvForecaster(LATITUDE, LONGITUDE, capacity_kw=b.pv_kw)
    if origin > 0:
        model.fit(HourlySeries(b.load.start, b.pv.values[:origin]))
    return model.predict(b.load.start + origin * HOUR, hours)


def carbon_forecast(b: Building, origin: int, hours: int) -> FloatArray:
    values = b.carbon.values
    if origin < 24:
        return np.full(hours, float(values[:origin].mean()) if origin else float(values[0]))
    return np.resize(values[origin - 24 : origin], hours)


def day_forecasts(b: Building, horizon: int, every: int) -> dict[int, DayForecast]:
    """Every planning time's forecasts, from the data before that time only."""
    load_fc = LoadForecasts(b.tz)
    n = len(b.load)
    out = {}
    for origin in midnights(b, every):
        hours = min(horizon, n - origin)
        out[origin] = DayForecast(load_fc(b, origin, hours), pv_forecast(b, origin, hours), carbon_forecast(b, origin, hours))
    return out


# --- controllers -------------------------------------------------------------------------------


def rolling(
    b: Building,
    horizon: int,
    forecasts: dict[int, DayForecast] | None,
    carbon_weight: float = 0.0,
    every: int = 24,
    oracle: frozenset[str] = frozenset(),
) -> tuple[FloatArray, FloatArray]:
    """Plan at each local midnight, execute until the next one with the plan follower.

    ``forecasts`` None: perfect foresight (the actual load, PV and carbon of the horizon)."""
    n = len(b.load)
    load, pv, price = b.load.values, b.pv.values, b.price.values
    charge, discharge = np.zeros(n), np.zeros(n)
    soc = 0.0
    starts = midnights(b, every)
    for origin, stop in zip(starts, [*starts[1:], n], strict=True):
        hours = min(horizon, n - origin)
        window = slice(origin, origin + hours)
        start = b.load.start + origin * HOUR
        if forecasts is None:
            site = SiteInputs(start, load[window], pv[window], price[window], carbon=b.carbon.values[window],
                              carbon_weight=carbon_weight)  # fmt: skip
            plan = plan_battery(site, battery(soc), time_limit=30.0)
        else:
            fc = forecasts[origin]
            f_load = load[window] if "load" in oracle else fc.load.p50
            f_pv = pv[window] if "pv" in oracle else fc.pv.p50
            site = SiteInputs(start, f_load, f_pv, price[window], carbon=fc.carbon, carbon_weight=carbon_weight)
            plan = plan_battery(site, battery(soc), time_limit=30.0)
        assert plan.battery is not None
        follower = PlanFollower(battery(soc), plan.battery, site.load - site.pv, site.price)
        for t in range(stop - origin):
            charge[origin + t], discharge[origin + t] = follower.hour(t, float(load[origin + t]), float(pv[origin + t]))
        soc = follower.soc_kwh
    return charge, discharge


def year_optimum(b: Building) -> tuple[FloatArray, FloatArray]:
    site = SiteInputs(b.load.start, b.load.values, b.pv.values, b.price.values, carbon=b.carbon.values)
    plan = plan_battery(site, Battery.with_round_trip(CAPACITY_KWH, POWER_KW, ROUND_TRIP, terminal_value=0.0), time_limit=600.0)
    assert plan.battery is not None
    return plan.battery.charge_kw, plan.battery.discharge_kw


def rule(b: Building, peak_only: bool) -> tuple[FloatArray, FloatArray]:
    bat = battery()
    n = len(b.load)
    net = b.load.values - b.pv.values
    price = b.price.values
    zone = ZoneInfo(b.tz)
    days = np.array([t.astimezone(zone).date().toordinal() for t in b.load.timestamps()])
    charge, discharge = np.zeros(n), np.zeros(n)
    soc = 0.0
    for t in range(n):
        today = price[days == days[t]]
        peak = price[t] > 0.5 * (today.min() + today.max()) if peak_only else True
        if net[t] < 0:
            charge[t] = min(-net[t], bat.max_charge_kw, (bat.soc_max - soc) / bat.charge_efficiency)
        elif peak:
            discharge[t] = min(net[t], bat.max_discharge_kw, soc * bat.discharge_efficiency)
        soc += charge[t] * bat.charge_efficiency - discharge[t] / bat.discharge_efficiency
        soc = min(max(soc, 0.0), bat.soc_max)
    return charge, discharge


# --- reporting ---------------------------------------------------------------------------------


def run_building(
    n: int, horizon: int, cache: Path | None, carbon_weight: float, every: int, oracle: frozenset[str]
) -> tuple[dict[str, Outcome], str, float]:
    b = load_building(n)
    began = time.perf_counter()
    path = cache / f"forecasts_b{n}_h{horizon}_every{every}.pickle" if cache else None
    if path is not None and path.is_file():
        with path.open("rb") as handle:
            method, forecasts = pickle.load(handle)
    else:
        method = LoadForecasts(b.tz).method
        forecasts = day_forecasts(b, horizon, every)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                pickle.dump((method, forecasts), handle)
    forecast_seconds = time.perf_counter() - began
    runs: dict[str, Callable[[], tuple[FloatArray, FloatArray]]] = {
        "none": lambda: (np.zeros(len(b.load)), np.zeros(len(b.load))),
        "rule (peak)": lambda: rule(b, peak_only=True),
        "rule (self-consumption)": lambda: rule(b, peak_only=False),
        "EAIO": lambda: rolling(b, horizon, forecasts, carbon_weight, every, oracle),
        "perfect foresight": lambda: rolling(b, horizon, None, carbon_weight),
        "year optimum": lambda: year_optimum(b),
    }
    out: dict[str, Outcome] = {}
    for name, fn in runs.items():
        began = time.perf_counter()
        charge, discharge = fn()
        seconds = time.perf_counter() - began
        check_physics(charge, discharge)
        cost, carbon = account(b, charge, discharge)
        out[name] = Outcome(name, cost, carbon, charge, discharge, seconds)
    return out, method, forecast_seconds


NAMES = ["rule (peak)", "rule (self-consumption)", "EAIO", "perfect foresight", "year optimum"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--buildings", nargs="+", type=int, default=list(BUILDINGS))
    parser.add_argument("--horizon", type=int, default=48, help="planning horizon in hours (default 48)")
    parser.add_argument("--replan-every", type=int, default=24, choices=[1, 2, 3, 4, 6, 8, 12, 24],
                        help="hours between EAIO's plans, from local midnight (default 24, the issue's protocol)")  # fmt: skip
    parser.add_argument("--oracle", nargs="*", default=[], choices=["load", "pv"],
                        help="diagnosis only: give EAIO the actual future of these instead of forecasts")  # fmt: skip
    parser.add_argument("--carbon-weight", type=float, default=0.0,
                        help="$ per kg CO2 added to EAIO's objective (default 0: cost only)")  # fmt: skip
    parser.add_argument("--forecast-cache", type=Path, default=None,
                        help="keep each home's forecasts in this folder and reuse them (they take most of the time)")  # fmt: skip
    args = parser.parse_args(argv)

    print(f"{datetime.now().date()}: python {platform.python_version()}, numpy {version('numpy')}, "
          f"scipy {version('scipy')}, scikit-learn {version('scikit-learn')}, highspy {_version('highspy')}; "
          f"{os.cpu_count()} CPUs, {platform.machine()}")  # fmt: skip
    print(f"horizon {args.horizon} h, EAIO planned every {args.replan_every} h from local midnight and "
          "executed until its next plan (perfect foresight: daily); "
          f"{'ORACLE (not a result): actual ' + ', '.join(args.oracle) + ' given to EAIO; ' if args.oracle else ''}"
          f"carbon weight {args.carbon_weight:g} $/kg\n")  # fmt: skip
    header = " | ".join(f"{k}" for k in NAMES)
    print(f"| building | {header} | EAIO share of PF saving | pass |")
    print("|---|" + "---|" * (len(NAMES) + 2))
    passed = True
    totals: dict[str, list[float]] = {k: [0.0, 0.0] for k in ["none", *NAMES]}
    notes = []
    for n in args.buildings:
        res, method, forecast_seconds = run_building(
            n, args.horizon, args.forecast_cache, args.carbon_weight, args.replan_every, frozenset(args.oracle)
        )
        base = res["none"]
        for k in totals:
            totals[k][0] += res[k].cost
            totals[k][1] += res[k].carbon
        eaio, pf, peak_rule = res["EAIO"], res["perfect foresight"], res["rule (peak)"]
        share = (base.cost - eaio.cost) / (base.cost - pf.cost)
        ok = share >= 0.9 and eaio.cost < peak_rule.cost and eaio.carbon < peak_rule.carbon
        passed &= ok
        cells = " | ".join(f"{res[k].cost / base.cost:.3f} / {res[k].carbon / base.carbon:.3f}" for k in NAMES)
        print(f"| {n} | {cells} | {share:.1%} | {'PASS' if ok else 'FAIL'} |", flush=True)
        notes.append(f"building {n}: without battery {base.cost:.2f} $ and {base.carbon:.1f} kg CO2; "
                     f"forecasts {forecast_seconds:.0f} s ({method}); EAIO plans and execution "
                     f"{eaio.seconds:.1f} s for {len(midnights(load_building(n), args.replan_every))} plans")  # fmt: skip
    base_cost, base_carbon = totals["none"]
    cells = " | ".join(f"{totals[k][0] / base_cost:.3f} / {totals[k][1] / base_carbon:.3f}" for k in NAMES)
    share = (base_cost - totals["EAIO"][0]) / (base_cost - totals["perfect foresight"][0])
    print(f"| all | {cells} | {share:.1%} | |\n")
    print("cells: cost / carbon as ratios to the same home without a battery (lower is better)")
    for line in notes:
        print(line)
    print(f"\n{'PASS' if passed else 'FAIL'}: EAIO >= 90 % of the perfect-foresight saving and better than the "
          "peak rule on cost and carbon, every building")  # fmt: skip
    return 0 if passed else EXIT_FAILED


def _version(package: str) -> str:
    try:
        return version(package)
    except Exception:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())

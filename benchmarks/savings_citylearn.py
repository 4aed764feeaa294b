"""Benchmark 4: savings verification on CityLearn 2022 homes (measured load, real weather).

From the repository root::

    nice python benchmarks/savings_citylearn.py [--baselines forecaster towt] [--buildings 1 2 3 4 5]

with the add-on's environment (numpy, scipy, scikit-learn). For each home, many reporting
periods of 14, 21 and 28 days start every ``--step-days`` across the year. Before each period
start ``T`` the baseline model is validated out of sample (two rolling folds as long as the
period) and trained on data before ``T`` only; it then predicts the period with the period's
actual weather (the counterfactual, as in any M&V). Three cases share that baseline:

- **no change**: metered = actual load. The verified saving should be near zero, and its
  band should exclude zero in about ``1 - confidence`` of the periods.
- **scaled**: metered = 0.9 x actual over the whole period (a 10 % saving).
- **evening**: 0.3 kW less from 17:00 to 21:00 local time each day (never below zero).

For the injected cases the truth is known exactly, so the table reports the recovered saving
next to the injected one and how often the band contains the truth.

Baselines: ``forecaster`` is the engine's load forecaster (``engine/forecast.py``), ``towt``
the time-of-week-and-temperature regression in ``engine/savings.py``. Both are judged with
daily points (the default) and, for comparison, hourly points in Guideline 14's formula.

Pass criteria, fixed before the runs (N = number of periods, c = confidence):

- no change: |pooled false saving| <= 2 % of baseline or, when fewer periods make that
  unmeasurable, two standard errors of the pooled error; and the share of periods whose band
  excludes zero is at most the upper end of the 95 % binomial range for rate ``1 - c``;
- injected: |pooled recovered - pooled injected| within the same bound, and the share of periods
  whose band contains the truth is at least the lower end of the 95 % binomial range for
  rate ``c``.

Exit status 0 when the default configuration (forecaster, daily) passes every row, 3 if not.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
import math
from pathlib import Path
import platform
import sys
import time
from zoneinfo import ZoneInfo

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "addon"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from eaio_addon.engine.savings import (  # noqa: E402
    DEFAULT_CONFIDENCE,
    DEFAULT_GRANULARITY,
    Granularity,
    LoadModel,
    SavingsReport,
    TimeOfWeekTemperatureBaseline,
    accuracy_from_folds,
    fit_baseline,
    savings_from_baseline,
    validate_baseline,
)
from eaio_addon.engine.series import HOUR, HourlySeries  # noqa: E402

from benchmarks.citylearn import BUILDINGS, Building, load_building  # noqa: E402

PERIOD_DAYS = (14, 21, 28)
FOLDS = 2
MIN_TRAINING_DAYS = 28
EVENING = range(17, 21)  # local hours whose load is cut
EVENING_KW = 0.3
SCALE = 0.9
MEAN_TOLERANCE = 0.02  # of baseline
EXIT_FAILED = 3
CASES = ("no change", "scaled", "evening")
GRANULARITIES: tuple[Granularity, ...] = ("hourly", "daily", "weekly")


def forecaster_factory(tz: str) -> Callable[[], LoadModel] | None:
    try:
        from eaio_addon.engine.forecast import LoadForecaster
    except ImportError:
        return None
    # Model-based forecasts over the whole reporting period (the default switches to
    # seasonal naive after a week, right for operations, not for a multi-week baseline).
    return lambda: LoadForecaster(tz=tz, max_days_ahead=max(PERIOD_DAYS))


def towt_factory(tz: str) -> Callable[[], LoadModel]:
    return lambda: TimeOfWeekTemperatureBaseline(tz)


@dataclass(frozen=True)
class Outcome:
    building: int
    days: int
    start: datetime
    case: str
    granularity: Granularity
    report: SavingsReport
    truth_kwh: float

    @property
    def error_fraction(self) -> float:
        """(verified - true saving) / baseline."""
        return (self.report.savings_kwh - self.truth_kwh) / self.report.baseline_kwh

    @property
    def covers_truth(self) -> bool:
        return self.report.lower_kwh <= self.truth_kwh <= self.report.upper_kwh


def periods(n_hours: int, step_days: int) -> list[tuple[int, int]]:
    """(start hour, length in days) of the reporting periods: starts every ``step_days``,
    lengths cycling through 14/21/28 days. The first starts late enough for every fold of
    the longest period to train on ``MIN_TRAINING_DAYS`` plus its horizon."""
    out = []
    start_day = MIN_TRAINING_DAYS + (FOLDS + 1) * max(PERIOD_DAYS)
    i = 0
    while True:
        days = PERIOD_DAYS[i % len(PERIOD_DAYS)]
        if (start_day + days) * 24 > n_hours:
            break
        out.append((start_day * 24, days))
        start_day += step_days
        i += 1
    return out


def injected(building: Building, start: datetime, hours: int) -> dict[str, HourlySeries]:
    """The metered series of each case (same history, changed reporting period)."""
    load = building.load
    offset = load.index_of(start)
    scaled = load.values.copy()
    scaled[offset : offset + hours] *= SCALE
    evening = load.values.copy()
    zone = ZoneInfo(building.tz)
    for i in range(offset, offset + hours):
        if (load.start + i * HOUR).astimezone(zone).hour in EVENING:
            evening[i] = max(0.0, evening[i] - EVENING_KW)
    return {"no change": load, "scaled": HourlySeries(load.start, scaled), "evening": HourlySeries(load.start, evening)}


def run_building(
    n: int, factory: Callable[[], LoadModel], step_days: int, confidence: float, log: Callable[[str], None]
) -> list[Outcome]:
    building = load_building(n)
    load = building.load
    outcomes: list[Outcome] = []
    for start_hour, days in periods(len(load), step_days):
        hours = 24 * days
        start = load.start + start_hour * HOUR
        folds = validate_baseline(load, start, factory, fold_hours=hours, folds=FOLDS, weather=building.weather,
                                  min_training_hours=24 * MIN_TRAINING_DAYS + hours)  # fmt: skip
        baseline = fit_baseline(load, start, hours, factory, weather=building.weather)
        metered = injected(building, start, hours)
        actual = load.window(start, hours).values
        for granularity in GRANULARITIES:
            accuracy = accuracy_from_folds(folds, granularity)
            for case in CASES:
                changed = metered[case].window(start, hours).values
                report = savings_from_baseline(baseline, metered[case], accuracy, confidence=confidence)
                truth = float(np.nansum(actual - changed))
                outcomes.append(Outcome(n, days, start, case, granularity, report, truth))
        nc = next(o for o in outcomes[-3 * len(GRANULARITIES) :]
                  if o.case == "no change" and o.granularity == DEFAULT_GRANULARITY)  # fmt: skip
        log(f"  building {n} {start:%Y-%m-%d} {days:2d} d: false saving {100 * nc.report.savings_fraction:+6.1f} % "
            f"± {nc.report.uncertainty_pct:5.1f} %  ({DEFAULT_GRANULARITY} CV {100 * nc.report.accuracy.cv_rmse:4.1f} %, "
            f"rho {nc.report.accuracy.rho:.2f}, {len(folds)} folds)")  # fmt: skip
    return outcomes


def binomial_range(n: int, p: float) -> tuple[float, float]:
    """Central 95 % range of the share of successes in ``n`` trials at rate ``p``."""
    lo, hi = stats.binom.ppf([0.025, 0.975], n, p)
    return float(lo) / n, float(hi) / n


@dataclass(frozen=True)
class Row:
    baseline: str
    granularity: str
    case: str
    periods: int
    injected_pct: float  # pooled: sum of true savings / sum of baselines
    verified_pct: float  # pooled: sum of verified savings / sum of baselines
    bias_se_pct: float  # standard error of the pooled error (periods taken as independent)
    median_error_pct: float
    sd_error_pct: float
    band_pct: float  # median half-width of the band, % of baseline
    excludes_zero: float  # share of periods whose band excludes zero
    covers_truth: float  # share of periods whose band contains the true saving
    share_range: tuple[float, float]
    passed: bool


def summarise(name: str, outcomes: list[Outcome], confidence: float) -> list[Row]:
    rows = []
    for granularity in GRANULARITIES:
        for case in CASES:
            sel = [o for o in outcomes if o.case == case and o.granularity == granularity]
            if not sel:
                continue
            n = len(sel)
            base = np.array([o.report.baseline_kwh for o in sel])
            truth = np.array([o.truth_kwh for o in sel])
            verified = np.array([o.report.savings_kwh for o in sel])
            err = verified - truth
            pooled = float(err.sum() / base.sum())
            # Ratio-estimator standard error of the pooled error.
            se = float(np.std(err - pooled * base, ddof=1) / (math.sqrt(n) * base.mean()))
            excludes = float(np.mean([o.report.significant for o in sel]))
            covers = float(np.mean([o.covers_truth for o in sel]))
            if case == "no change":
                lo, hi = binomial_range(n, 1 - confidence)
                share_ok = excludes <= hi
            else:
                lo, hi = binomial_range(n, confidence)
                share_ok = covers >= lo
            ok = share_ok and abs(pooled) <= max(MEAN_TOLERANCE, 2 * se)
            rows.append(Row(name, granularity, case, n, 100 * float(truth.sum() / base.sum()),
                            100 * float(verified.sum() / base.sum()), 100 * se,
                            100 * float(np.median(err / base)), 100 * float(np.std(err / base, ddof=1)),
                            100 * float(np.median([o.report.uncertainty_kwh / o.report.baseline_kwh for o in sel])),
                            excludes, covers, (lo, hi), ok))  # fmt: skip
    return rows


def print_table(rows: list[Row], confidence: float) -> None:
    print()
    print(f"Confidence {100 * confidence:.0f} %. Savings in % of the baseline, pooled over periods (sum of")
    print("savings / sum of baselines) with the standard error of the pooled error; median and sd of the")
    print("per-period error (verified - true); median half-width of the band. 'excl. 0': share of periods")
    print("whose band excludes zero (no change: false detections; injected: detections). 'covers':")
    print("share whose band contains the true saving. 'range': 95 % binomial range of the share judged.")
    print()
    print("| baseline | points | case | periods | injected % | verified % | ± se | median err % | err sd % "
          "| band ± % | excl. 0 | covers | range | result |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r.baseline} | {r.granularity} | {r.case} | {r.periods} | {r.injected_pct:.2f} | "
              f"{r.verified_pct:+.2f} | {r.bias_se_pct:.2f} | {r.median_error_pct:+.2f} | {r.sd_error_pct:.1f} | "
              f"{r.band_pct:.1f} | {100 * r.excludes_zero:.0f} % | {100 * r.covers_truth:.0f} % | "
              f"{100 * r.share_range[0]:.0f}-{100 * r.share_range[1]:.0f} % | {'PASS' if r.passed else 'FAIL'} |")  # fmt: skip


def per_building(name: str, outcomes: list[Outcome]) -> None:
    print()
    print(f"Per building ({name}, {DEFAULT_GRANULARITY} points, no change; pooled false saving):")
    print()
    print(f"| building | periods | false saving % | median % | band ± % (median) | band excludes zero "
          f"| {DEFAULT_GRANULARITY} CV(RMSE) % (median) | rho (median) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({o.building for o in outcomes}):
        sel = [o for o in outcomes
               if o.building == n and o.case == "no change" and o.granularity == DEFAULT_GRANULARITY]  # fmt: skip
        base = np.array([o.report.baseline_kwh for o in sel])
        saved = np.array([o.report.savings_kwh for o in sel])
        print(f"| {n} | {len(sel)} | {100 * saved.sum() / base.sum():+.2f} | {100 * np.median(saved / base):+.2f} | "
              f"{np.median([o.report.uncertainty_pct for o in sel]):.1f} | "
              f"{100 * np.mean([o.report.significant for o in sel]):.0f} % | "
              f"{100 * np.median([o.report.accuracy.cv_rmse for o in sel]):.1f} | "
              f"{np.median([o.report.accuracy.rho for o in sel]):.2f} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baselines", nargs="+", default=["forecaster", "towt"], choices=["forecaster", "towt"])
    parser.add_argument("--buildings", nargs="+", type=int, default=list(BUILDINGS))
    parser.add_argument("--step-days", type=int, default=14, help="days between period starts (default 14)")
    parser.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE)
    parser.add_argument("--quiet", action="store_true", help="no per-period lines")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    print(f"python {platform.python_version()}, numpy {version('numpy')}, scipy {version('scipy')}, "
          f"scikit-learn {version('scikit-learn')}; {platform.machine()}")  # fmt: skip
    rows: list[Row] = []
    default_passed: bool | None = None
    for name in args.baselines:
        tz = load_building(args.buildings[0]).tz
        factory = forecaster_factory(tz) if name == "forecaster" else towt_factory(tz)
        if factory is None:
            print(f"{name}: engine/forecast.py is not importable yet; skipped")
            continue
        began = time.perf_counter()
        outcomes: list[Outcome] = []
        for n in args.buildings:
            outcomes += run_building(n, factory, args.step_days, args.confidence, log)
        elapsed = time.perf_counter() - began
        print(f"{name}: {len({(o.building, o.start) for o in outcomes})} periods in {elapsed:.0f} s")
        result = summarise(name, outcomes, args.confidence)
        rows += result
        per_building(name, outcomes)
        if name == "forecaster":
            default_passed = all(r.passed for r in result if r.granularity == DEFAULT_GRANULARITY)
    print_table(rows, args.confidence)
    if default_passed is None:
        print(f"\nThe default configuration (forecaster, {DEFAULT_GRANULARITY} points) did not run.")
        return EXIT_FAILED
    print(f"\nDefault configuration (forecaster, {DEFAULT_GRANULARITY} points): {'PASS' if default_passed else 'FAIL'}")
    return 0 if default_passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

"""Day-ahead hourly load forecast on the CityLearn 2022 homes, rolled over the whole year.

From the repository root::

    PYTHONPATH=.:addon nice /tmp/venvaddon/bin/python benchmarks/forecast_citylearn.py

Every local midnight (America/Los_Angeles) each home's forecaster gets the previous day's
load and weather through ``update`` (which retrains weekly) and forecasts the coming local
day (23, 24 or 25 hours) with only the data before midnight. Days from ``--warmup-days`` on
are scored; before that the history is too short to judge anything. Scores follow ASHRAE
Guideline 14 with ``n`` (not ``n - p``) in the denominators:

    CV(RMSE) = sqrt(sum((y - f)^2) / n) / mean(y)
    NMBE     = sum(y - f) / (n * mean(y))          (positive: the forecast is too low)

Baselines: seasonal naive (same hour last week) and naive (same hour yesterday), both as
EAIO's ``seasonal_naive`` with a 168 h and a 24 h period. Per home the target is a CV(RMSE)
at most 0.75 of seasonal naive's and no higher than either simple rule's. The aggregate of the five homes is
scored twice: as the sum of the five homes' forecasts (the headline: no extra model) and as
a forecast of the summed load by a forecaster of its own (the only way to get its band).

Weather for the forecast day (``--weather``): the data set has no real weather forecasts
(its "prediction" columns are the future actuals and are never read). ``persistence``
(the default and the headline) uses the same hour one day earlier, the weather known at
issue time; ``none`` forecasts without weather; ``actual`` uses the measured weather of the
day, a perfect weather forecast, as an upper bound.

Exit status: 0 every target met, 3 a target missed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
import math
import os
import platform
import sys
import time

from eaio_addon.engine.calendar import hours_in_local_day, local_midnight, zone
from eaio_addon.engine.forecast import LoadForecaster, seasonal_naive
from eaio_addon.engine.series import HOUR, FloatArray, Forecast, HourlySeries
import numpy as np

from benchmarks.citylearn import BUILDINGS, TZ, load_building

WARMUP_DAYS = 28
SN_RATIO_TARGET = 0.75
CV_TARGET = 0.30
NMBE_TARGET = 0.10
EXIT_TARGET_MISSED = 3
WEATHER_MODES = ("persistence", "none", "actual")
DAY = 24


@dataclass(frozen=True)
class Scores:
    cv: float
    nmbe: float


def score(actual: FloatArray, forecast: FloatArray) -> Scores:
    """Guideline 14 CV(RMSE) and NMBE over the hours where the actual value is known."""
    ok = ~np.isnan(actual)
    y, f = actual[ok], forecast[ok]
    n, mean = y.size, float(y.mean())
    return Scores(math.sqrt(float(np.sum((y - f) ** 2)) / n) / mean, float(np.sum(y - f)) / (n * mean))


def coverage(actual: FloatArray, low: FloatArray, high: FloatArray) -> float:
    ok = ~np.isnan(actual)
    return float(np.mean((actual[ok] >= low[ok]) & (actual[ok] <= high[ok])))


def local_days(series: HourlySeries) -> list[tuple[datetime, int]]:
    """UTC start and length (23, 24 or 25 h) of every complete local day in ``series``."""
    day = series.start.astimezone(zone(TZ)).date()
    days: list[tuple[datetime, int]] = []
    while (start := local_midnight(day, TZ)) < series.end:
        hours = hours_in_local_day(day, TZ)
        if start >= series.start and start + hours * HOUR <= series.end:
            days.append((start, hours))
        day += timedelta(days=1)
    return days


def forecast_weather(
    weather: dict[str, HourlySeries], start: datetime, hours: int, mode: str
) -> dict[str, HourlySeries] | None:
    """The weather handed to the forecaster for the hours from ``start``."""
    if mode == "none":
        return None
    if mode == "actual":
        return {key: series.window(start, hours) for key, series in weather.items()}
    # Persistence: hour k ahead (k = 1, 2, ...) gets the value 24 * ceil(k / 24) hours
    # earlier, the latest same-hour value measured before the issue time.
    ahead = np.arange(1, hours + 1)
    back = DAY * np.ceil(ahead / DAY).astype(np.int64)
    out = {}
    for key, series in weather.items():
        past = series.window(start - int(back.max()) * HOUR, int(back.max()) + hours).values
        out[key] = HourlySeries(start, past[int(back.max()) + ahead - 1 - back])
    return out


def _history(series: HourlySeries, start: datetime, end: datetime) -> HourlySeries:
    return series.window(start, int((end - start) / HOUR))


def run_home(load: HourlySeries, weather: dict[str, HourlySeries], mode: str, warmup: int) -> list[Forecast]:
    """Day-ahead forecasts of every complete local day, fed day by day like the add-on is."""
    forecaster = LoadForecaster(tz=TZ)
    forecasts: list[Forecast] = []
    previous: datetime | None = None
    for i, (start, hours) in enumerate(local_days(load)):
        if previous is None:
            forecaster.fit(_history(load, load.start, start),
                           {k: _history(v, load.start, start) for k, v in weather.items()})  # fmt: skip
        else:
            forecaster.update(_history(load, previous, start),
                              {k: _history(v, previous, start) for k, v in weather.items()})  # fmt: skip
        previous = start
        forecast = forecaster.predict(start, hours, forecast_weather(weather, start, hours, mode))
        if i >= warmup:
            forecasts.append(forecast)
    return forecasts


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    name: str
    days: int
    eaio: Scores
    seasonal: Scores
    naive: Scores
    coverage: float | None


def evaluate(name: str, load: HourlySeries, forecasts: Sequence[Forecast], banded: bool = True) -> Row:
    actual, eaio, low, high, seasonal, naive = ([] for _ in range(6))
    for f in forecasts:
        hours = len(f)
        actual.append(load.window(f.start, hours).values)
        eaio.append(f.p50)
        low.append(f.p10)
        high.append(f.p90)
        seasonal.append(seasonal_naive(load, f.start, hours, 168).p50)
        naive.append(seasonal_naive(load, f.start, hours, 24).p50)
    y = np.concatenate(actual)
    band = coverage(y, np.concatenate(low), np.concatenate(high)) if banded else None
    return Row(name, len(forecasts), score(y, np.concatenate(eaio)), score(y, np.concatenate(seasonal)),
               score(y, np.concatenate(naive)), band)  # fmt: skip


def summed(per_home: Sequence[Sequence[Forecast]]) -> list[Forecast]:
    """Day by day sum of the homes' central forecasts (a sum of P10s is no P10: no band)."""
    out = []
    for days in zip(*per_home, strict=True):
        total = np.sum([f.p50 for f in days], axis=0)
        out.append(Forecast(days[0].start, total, total, total, "sum", ()))
    return out


def noise_floor(total: HourlySeries, summed_forecasts: Sequence[Forecast]) -> list[tuple[str, float]]:
    """CV(RMSE) of two oracles that see the scored days themselves, which no forecaster can: how much
    of the aggregate's error is the hours' shape within a day, left even when the day's total is known.

    1. The sum of the home forecasts, each day moved to that day's true mean.
    2. Each day's true mean plus the same-hour profile (departure from each day's mean) of the 14 days
       either side, not the day itself.
    """
    y = np.concatenate([total.window(f.start, len(f)).values for f in summed_forecasts])
    shifted, profile = [], []
    days = [(f.start, len(f)) for f in summed_forecasts]
    actual = [total.window(start, hours).values for start, hours in days]
    for i, ((start, hours), f, a) in enumerate(zip(days, summed_forecasts, actual, strict=True)):
        shifted.append(f.p50 - np.nanmean(f.p50) + np.nanmean(a))
        near = [actual[j] for j in range(max(0, i - 14), min(len(days), i + 15)) if j != i]
        clock = np.array([(start + k * HOUR).astimezone(zone(TZ)).hour for k in range(hours)])
        same_hour = np.array([np.nanmean([n[min(h, len(n) - 1)] - np.nanmean(n) for n in near]) for h in clock])
        profile.append(np.nanmean(a) + same_hour)
    return [("sum of home forecasts, each day moved to its true mean", score(y, np.concatenate(shifted)).cv),
            ("true daily mean + same-hour profile of the 28 days around it", score(y, np.concatenate(profile)).cv)]


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def table(rows: Sequence[Row], headline: str) -> tuple[str, bool]:
    """Markdown table with each target's verdict; True if every headline target is met."""
    lines = [
        "| Series | Days | EAIO CV(RMSE) | EAIO NMBE | Seasonal-naive CV | Naive CV | EAIO / seasonal | "
        "P10-P90 coverage | Target | Result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    ok = True
    for row in rows:
        ratio = row.eaio.cv / row.seasonal.cv
        if row.name.startswith("Building"):
            target = f"CV <= {SN_RATIO_TARGET} x seasonal and <= each simple rule"
            met = ratio <= SN_RATIO_TARGET and row.eaio.cv <= min(row.seasonal.cv, row.naive.cv)
        else:
            target = f"CV <= {CV_TARGET:.0%}, abs(NMBE) <= {NMBE_TARGET:.0%}"
            met = row.eaio.cv <= CV_TARGET and abs(row.eaio.nmbe) <= NMBE_TARGET
        if row.name.startswith("Building") or row.name == headline:
            ok &= met
        band = "-" if row.coverage is None else _pct(row.coverage)
        lines.append(f"| {row.name} | {row.days} | {_pct(row.eaio.cv)} | {_pct(row.eaio.nmbe)} | "
                     f"{_pct(row.seasonal.cv)} | {_pct(row.naive.cv)} | {ratio:.3f} | {band} | {target} | "
                     f"{'PASS' if met else 'FAIL'} |")  # fmt: skip
    return "\n".join(lines), ok


def _job(args: tuple[int | None, str, int]) -> list[Forecast]:
    """One home's (or, for None, the aggregate's) year; a top-level function for worker processes."""
    n, mode, warmup = args
    homes = [load_building(b) for b in (BUILDINGS if n is None else (n,))]
    load = HourlySeries(homes[0].load.start, np.sum([h.load.values for h in homes], axis=0))
    return run_home(load, homes[0].weather, mode, warmup)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--weather", choices=WEATHER_MODES, default="persistence")
    parser.add_argument("--warmup-days", type=int, default=WARMUP_DAYS)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one home each)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    jobs: list[tuple[int | None, str, int]] = [(n, args.weather, args.warmup_days) for n in BUILDINGS]
    jobs.append((None, args.weather, args.warmup_days))
    results = _map(_job, jobs, args.jobs)
    homes = {n: load_building(n) for n in BUILDINGS}
    total = HourlySeries(homes[1].load.start, np.sum([h.load.values for h in homes.values()], axis=0))
    rows = [evaluate(f"Building {n}", homes[n].load, results[i]) for i, n in enumerate(BUILDINGS)]
    headline = "Aggregate (sum of home forecasts)"
    rows.append(evaluate(headline, total, summed(results[: len(BUILDINGS)]), banded=False))
    rows.append(evaluate("Aggregate (own forecaster)", total, results[-1]))
    text, ok = table(rows, headline)
    elapsed = time.perf_counter() - began

    first = results[0][0].start.astimezone(zone(TZ)).date()
    print(f"Day-ahead load forecast, CityLearn 2022, weather for the forecast day: {args.weather}")
    print(f"Scored {rows[0].days} local days from {first} (after {args.warmup_days} warm-up days), "
          f"issued at local midnight; {elapsed:.0f} s")  # fmt: skip
    print(f"Python {platform.python_version()}, numpy {version('numpy')}, scikit-learn "
          f"{version('scikit-learn')}, {os.cpu_count()} CPUs, {platform.machine()}")  # fmt: skip
    print()
    print(text)
    print()
    print("All targets met" if ok else "Some targets missed")
    print()
    print("Noise floor of the aggregate (oracles that see the scored day; no day-ahead forecaster can):")
    for label, cv in noise_floor(total, summed(results[: len(BUILDINGS)])):
        print(f"  {label}: CV(RMSE) {_pct(cv)}")
    return 0 if ok else EXIT_TARGET_MISSED


def _map(
    func: Callable[[tuple[int | None, str, int]], list[Forecast]],
    jobs: list[tuple[int | None, str, int]],
    workers: int,
) -> list[list[Forecast]]:
    if workers <= 1:
        return [func(job) for job in jobs]
    from multiprocessing import Pool

    with Pool(workers) as pool:
        return pool.map(func, jobs)


if __name__ == "__main__":
    sys.exit(main())

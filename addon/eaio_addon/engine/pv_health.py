"""Is the PV array producing what the sky allows? A dead, disconnected, covered or curtailed
array, told from the measured output alone (and the measured irradiance when there is one).

Each complete solar day (solar midnight to solar midnight, so no day is cut around noon) gets
a yield: its PV energy divided by its sunlight, which is the measured irradiance summed over
the day when given, else the clear-sky irradiance of that day. The array's *reference* yield is
a good day's: the 90th percentile over its own history (so its size, orientation, shading and
ageing are as the data shows them), or from the nameplate at a typical performance ratio when
the history never shows a working array and a nameplate is known. A day's share is its yield
over the reference.

The verdict looks back from the latest day: every day whose share is below the threshold
extends a low stretch; the first day at or above it ends it. With measured irradiance, days too
overcast to tell (under 30 % of the clear-sky sunlight) are skipped, and three low days are
enough; without it a week of bad weather can look like a dead array, so the threshold is lower
(10 % of a good day, which even heavy overcast rarely goes under) and five days are needed.
The evidence is the stretch's total: "PV produced 3 % of expected over 6 days".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .series import HOUR, FloatArray, HourlySeries

OK = "ok"
UNDERPERFORMING = "underperforming"
UNKNOWN = "unknown"

DAYLIGHT_WM2 = 20.0  # hours with less clear-sky sun add nothing a day can be judged on
OVERCAST = 0.3  # a day with less measured sun than this share of clear sky tells nothing
PERFORMANCE_RATIO = 0.75  # a typical array's output per kW of nameplate at 1 kW/m2
REFERENCE_PERCENTILE = 90.0  # "a good day" among the array's own days
MIN_REFERENCE_DAYS = 14
SMALLEST_KW = 0.1  # no home array is smaller: own good days below this say nothing about its size
NEVER_WORKED = 0.1  # own reference below this share of the nameplate's: the history never showed it working


@dataclass(frozen=True)
class PvHealth:
    """The verdict on the array, with the evidence a person can check.

    ``share``: produced / expected over the judged days (the low stretch when underperforming,
    else the last week). ``effective_kw``: the nameplate the array's good days look like at a
    typical performance ratio (without measured irradiance: against clear sky).
    """

    status: str
    share: float | None
    days: int
    since: datetime | None
    produced_kwh: float
    expected_kwh: float
    reference: str  # "own_history" | "nameplate" | "none"
    effective_kw: float | None
    evidence: str

    @property
    def underperforming(self) -> bool:
        return self.status == UNDERPERFORMING


@dataclass(frozen=True)
class _Days:
    start: FloatArray  # epoch seconds of each complete day's first daylight hour
    produced: FloatArray
    sunlight: FloatArray  # W/m2 hours: measured if given, else clear sky
    clearness: FloatArray  # measured / clear-sky sunlight (NaN without measurements)


def _days(pv: FloatArray, start: datetime, cs: FloatArray, longitude: float,
          irradiance: FloatArray | None) -> _Days:  # fmt: skip
    t = start.astimezone(UTC).timestamp() + 3600.0 * np.arange(pv.size)
    day = np.floor((t / 3600.0 + longitude / 15.0) / 24.0).astype(np.int64)
    daylight = cs > DAYLIGHT_WM2
    out: list[tuple[float, float, float, float]] = []
    for d in np.unique(day):
        sel = (day == d) & daylight
        # Only whole days: a day cut by the start or end of the data, or with a gap, is not judged.
        if sel.sum() < 4 or not np.isfinite(pv[sel]).all() or (day == d).sum() < 23:
            continue
        clear = float(cs[sel].sum())
        measured = np.nan
        if irradiance is not None:
            if not np.isfinite(irradiance[sel]).all():
                continue
            measured = float(np.clip(irradiance[sel], 0.0, None).sum())
        sunlight = clear if irradiance is None else measured
        out.append((float(t[sel][0]), float(np.clip(pv[sel], 0.0, None).sum()), sunlight, measured / clear))
    arr = np.array(out, dtype=np.float64).reshape(-1, 4)
    return _Days(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def assess(
    pv: HourlySeries,
    cs: FloatArray,
    longitude: float,
    *,
    capacity_kw: float | None = None,
    irradiance: HourlySeries | None = None,
    threshold: float | None = None,
) -> PvHealth:
    """The verdict for ``pv`` (kWh per hour) given its clear-sky irradiance ``cs`` (W/m2, same
    hours). ``irradiance``: measured global horizontal irradiance of the same hours, if any."""
    measured = None if irradiance is None else irradiance.window(pv.start, len(pv)).values
    days = _days(pv.values, pv.start, cs, longitude, measured)
    with_weather = measured is not None
    low_share = threshold if threshold is not None else (0.25 if with_weather else 0.10)
    needed = 3 if with_weather else 5
    informative = days.clearness >= OVERCAST if with_weather else np.ones(days.produced.size, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        yields = np.where(days.sunlight > 0, days.produced / days.sunlight, np.nan)
    own = yields[informative & np.isfinite(yields)]
    nameplate = None if capacity_kw is None else capacity_kw * PERFORMANCE_RATIO / 1000.0
    reference, source = None, "none"
    if own.size >= MIN_REFERENCE_DAYS:
        reference, source = float(np.percentile(own, REFERENCE_PERCENTILE)), "own_history"
    if nameplate is not None and (reference is None or reference < NEVER_WORKED * nameplate):
        reference, source = nameplate, "nameplate"
    if reference is None or reference <= SMALLEST_KW * PERFORMANCE_RATIO / 1000.0:
        # Without a nameplate, an array whose best days look like a few tens of watts cannot
        # be told from a dead one: nothing to compare with.
        return PvHealth(UNKNOWN, None, 0, None, 0.0, 0.0, source, None,
                        "not enough PV history to know what the array should produce")  # fmt: skip
    effective = reference * 1000.0 / PERFORMANCE_RATIO
    expected = reference * days.sunlight
    share = np.where(expected > 0, days.produced / np.maximum(expected, 1e-12), np.nan)
    stretch: list[int] = []
    for i in range(days.produced.size - 1, -1, -1):
        if not informative[i] or not np.isfinite(share[i]):
            continue
        if share[i] >= low_share:
            break
        stretch.append(i)
    sun = " with sun" if with_weather else ""
    if len(stretch) >= needed:
        chosen = np.array(stretch[::-1])
        produced, wanted = float(days.produced[chosen].sum()), float(expected[chosen].sum())
        total = produced / wanted
        since = datetime.fromtimestamp(float(days.start[chosen[0]]), UTC).replace(minute=0, second=0)
        return PvHealth(UNDERPERFORMING, total, len(stretch), since, produced, wanted, source, effective,
                        f"PV produced {total:.0%} of expected over {len(stretch)} days{sun}")  # fmt: skip
    recent = np.flatnonzero(informative)[-7:]
    produced, wanted = float(days.produced[recent].sum()), float(expected[recent].sum())
    recent_share = produced / wanted if wanted > 0 else None
    evidence = ("" if recent_share is None else
                f"PV produced {recent_share:.0%} of expected over the last {recent.size} days{sun}")  # fmt: skip
    return PvHealth(OK, recent_share, int(recent.size), None, produced, wanted, source, effective, evidence)


def low_days_start(health: PvHealth, series_start: datetime) -> int | None:
    """Index in a series starting at ``series_start`` of the low stretch's first hour, if any."""
    if health.since is None:
        return None
    return max(int((health.since - series_start) / HOUR), 0)

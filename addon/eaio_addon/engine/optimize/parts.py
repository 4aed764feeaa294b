"""Pieces shared by the plan builder, its baseline and its HVAC part (internal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..series import FloatArray
from .errors import PlanInfeasible
from .lp import IntArray
from .spec import DeferrableRun, EVCharge, HvacSpec, SiteInputs

COMFORT_TOL = 1e-3  # K: below this a slack is solver noise, not a violation


@dataclass
class EvPart:
    spec: EVCharge
    cols: IntArray
    required: float
    first: int
    last: int  # exclusive


@dataclass
class RunPart:
    spec: DeferrableRun
    starts: IntArray  # hour index of each candidate start
    cols: IntArray  # one binary per candidate start


@dataclass
class HvacPart:
    spec: HvacSpec
    power: IntArray
    temp: IntArray
    above: IntArray
    below: IntArray
    low: FloatArray
    high: FloatArray


def hourly(values: FloatArray, h: int, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (h,):
        raise PlanInfeasible("invalid_bounds", f"{name} has {arr.shape} values; the plan has {h} hours", (name,))
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise PlanInfeasible("missing_input", f"{name} is missing for {bad.size} of {h} hours", (name,))
    return arr.copy()


def band_values(value: FloatArray | float, h: int, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(h, float(arr))
    return hourly(arr, h, name)


def band_text(low: FloatArray, high: FloatArray) -> str:
    if np.ptp(low) == 0 and np.ptp(high) == 0:
        return f"{low[0]:g}..{high[0]:g} °C"
    return f"{low.min():g}..{high.max():g} °C, varying by hour"


def local_time(site: SiteInputs, when: datetime) -> str:
    return when.astimezone(site.tz).strftime("%a %H:%M")


def clean(x: FloatArray) -> FloatArray:
    """Solver noise below 1e-9 is not a decision; negative zero confuses readers."""
    out = np.where(np.abs(x) < 1e-9, 0.0, x)
    return np.asarray(out, dtype=np.float64)

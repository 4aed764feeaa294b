"""The HVAC part of a plan: reachability for strict comfort, the thermostat baseline, and
the setpoints to command."""

from __future__ import annotations

import numpy as np

from ..series import HOUR, FloatArray
from .errors import PlanInfeasible
from .parts import COMFORT_TOL, HvacPart, clean, local_time
from .result import HvacPlan
from .spec import HvacSpec, SiteInputs


def check_reachable(
    site: SiteInputs, spec: HvacSpec, outdoor: FloatArray, solar: FloatArray, low: FloatArray, high: FloatArray
) -> None:
    """Strict comfort: say which edge of the band cannot be reached, and by how much.

    The model is linear with ``0 < a < 1``, so running the unit flat out from now gives the
    furthest each hour can be pushed, and leaving it off the other extreme; an hour outside
    what these two bracket cannot be helped by any schedule.
    """
    mdl = spec.model
    h = outdoor.shape[0]
    full = mdl.simulate(spec.initial_temp, outdoor, solar, np.full(h, spec.max_power_kw))[1:]
    off = mdl.simulate(spec.initial_temp, outdoor, solar, np.zeros(h))[1:]
    lowest, highest = np.minimum(full, off), np.maximum(full, off)
    for name, gap, edge, verb in (
        ("above", lowest - high, high, "cannot bring the zone below"),
        ("below", low - highest, low, "cannot keep the zone above"),
    ):
        bad = np.flatnonzero(gap > COMFORT_TOL)
        if bad.size:
            k = int(bad[np.argmax(gap[bad])])
            when = local_time(site, site.start + (k + 1) * HOUR)
            unit = "running at full power" if (name == "above") == (mdl.b_hvac < 0) else "switched off"
            raise PlanInfeasible(
                "comfort_unreachable",
                f"the comfort band cannot be held: even with the HVAC {unit} it {verb} "
                f"{edge[k]:g} °C at {when} (best reachable {edge[k] + (gap[k] if name == 'above' else -gap[k]):.1f} °C; "
                f"{bad.size} hour(s) affected, outdoor up to {outdoor.max():.1f} °C)",
                ("HVAC comfort band", "HVAC max_power_kw"),
            )


def thermostat(hvac: HvacPart) -> FloatArray:
    """A plain thermostat at the band's edge: only as much as keeps the zone in the band."""
    spec, mdl = hvac.spec, hvac.spec.model
    h = hvac.low.shape[0]
    outdoor = np.asarray(spec.outdoor, dtype=np.float64)
    solar = np.asarray(spec.solar, dtype=np.float64)
    power = np.zeros(h)
    temp = spec.initial_temp
    for t in range(h):
        free = mdl.free_float(temp, float(outdoor[t]), float(solar[t]))
        target = hvac.high[t] if mdl.b_hvac < 0 else hvac.low[t]
        need = (target - free) / mdl.b_hvac
        power[t] = min(max(need, 0.0), spec.max_power_kw)
        temp = free + mdl.b_hvac * power[t]
    return power


def hvac_result(hvac: HvacPart, x: FloatArray) -> tuple[HvacPlan, float]:
    spec = hvac.spec
    power = clean(x[hvac.power])
    temp = np.concatenate([[spec.initial_temp], x[hvac.temp]])
    above, below = x[hvac.above], x[hvac.below]
    violation = np.where(above > COMFORT_TOL, above, 0.0) - np.where(below > COMFORT_TOL, below, 0.0)
    cooling = spec.model.b_hvac < 0
    running = power > 1e-6 * spec.max_power_kw
    # Running: ask for the planned temperature. Off: ask for the band's edge, so the unit
    # stays off while the zone drifts as planned and still protects the band.
    idle = hvac.high if cooling else hvac.low
    setpoint = np.where(running, temp[1:], idle)
    setpoint = np.clip(setpoint, spec.setpoint_min, spec.setpoint_max)
    penalty = float(spec.comfort_penalty * (above.sum() + below.sum()))
    plan = HvacPlan(
        power_kw=power,
        indoor_temp=temp,
        setpoint=setpoint,
        comfort_low=hvac.low.copy(),
        comfort_high=hvac.high.copy(),
        violation=violation,
        mode=spec.model.mode,
        max_power_kw=spec.max_power_kw,
    )
    return plan, penalty

"""Doing nothing, priced the same way as the plan: what every saving is measured against."""

from __future__ import annotations

import numpy as np

from ..series import FloatArray
from .hvac import thermostat
from .parts import EvPart, HvacPart, RunPart
from .result import Totals
from .spec import SiteInputs


def totals(site: SiteInputs, imp: FloatArray, exp: FloatArray) -> Totals:
    return Totals(
        cost=float(site.price @ imp - site.export @ exp),
        carbon_kg=float(site.co2 @ imp),
        import_kwh=float(imp.sum()),
        export_kwh=float(exp.sum()),
    )


def baseline(
    site: SiteInputs, evs: list[EvPart], runs: list[RunPart], hvac: HvacPart | None
) -> tuple[Totals, dict[str, FloatArray]]:
    """Doing nothing: what the site does today without a plan."""
    h = site.hours
    flex: dict[str, FloatArray] = {}
    extra = np.zeros(h)
    for ev in evs:
        # Plugged in, charging at full power until full.
        p = np.zeros(h)
        need = ev.required
        for t in range(ev.first, ev.last):
            if need <= 1e-12:
                break
            p[t] = min(ev.spec.max_kw, need / ev.spec.efficiency)
            need -= p[t] * ev.spec.efficiency
        flex[f"ev:{ev.spec.name}"] = p
        extra += p
    for run in runs:
        p = np.zeros(h)
        if run.starts.size:
            s = int(run.starts[0])
            p[s : s + run.spec.duration_h] = run.spec.profile_kw
        flex[f"deferrable:{run.spec.name}"] = p
        extra += p
    if hvac is not None:
        p = thermostat(hvac)
        flex["hvac"] = p
        extra += p
    net = site.load + extra - site.pv
    imp = np.maximum(net, 0.0)
    exp = np.maximum(-net, 0.0)
    if site.export_limit_kw is not None:
        exp = np.minimum(exp, site.export_limit_kw)
    return totals(site, imp, exp), flex

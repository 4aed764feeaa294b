"""An alert when the PV array produces far below what the sky allows: the engine's verdict
(``engine.pv_health``) and its evidence, as a recommendation to check the array.

EAIO cannot fix an array, so the action is none; the value is the energy the array is not
producing, at the average price of the plan's hours (what the home buys instead).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.pv import clear_sky_ghi
from ..engine.pv_health import PvHealth, assess
from .candidate import Candidate
from .site import RunContext

KEY = "pv-underperforming"


def pv_health(ctx: RunContext) -> PvHealth | None:
    """The array's verdict from the site's PV history, or None without PV or a location."""
    pv = None if ctx.site is None else ctx.site.series.get("pv")
    if pv is None or ctx.location is None or not np.isfinite(pv.values).any():
        return None
    cs = clear_sky_ghi(pv.start, len(pv), ctx.location.latitude, ctx.location.longitude).values
    return assess(pv, cs, ctx.location.longitude)


def pv_alert(ctx: RunContext) -> Candidate | None:
    """The recommendation to check the array when it is underperforming, else None."""
    health = pv_health(ctx)
    if health is None or not health.underperforming or health.share is None or health.since is None:
        return None
    missing_per_day = max(health.expected_kwh - health.produced_kwh, 0.0) / max(health.days, 1)
    price = float(np.nanmean(ctx.price.values)) if ctx.price is not None and len(ctx.price) else 0.0
    since = health.since.astimezone(ZoneInfo(ctx.tz)).date().isoformat()
    entity = ctx.site.entities.get("pv") if ctx.site is not None else None
    return Candidate(
        category="load",
        key=KEY,
        title=f"Check the solar array: it produced {health.share:.0%} of expected since {since}",
        action={"type": "none"},
        kwh_per_day=round(missing_per_day, 3),
        money_per_day=round(missing_per_day * price, 3),
        confidence=0.8,
        method="pv_health",
        reasons=[health.evidence,
                 "Inverter off or tripped, a disconnected string, snow or dirt, shading or curtailment would do this",
                 "Until it recovers the plan counts on the output measured since, not on the array's usual one"],
        facts={"produced_kwh": round(health.produced_kwh, 2), "expected_kwh": round(health.expected_kwh, 2),
               "share_pct": round(100.0 * health.share, 1), "days": health.days, "since": since,
               "reference": health.reference},
        target_entity=entity,
        valid_until=ctx.now + timedelta(days=1),
    )

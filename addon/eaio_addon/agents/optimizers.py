"""Shared inputs of the three optimizer agents: the plan's site from the forecasts and the tariff."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from ..engine.optimize import SiteInputs
from .site import RunContext


def site_inputs(ctx: RunContext) -> SiteInputs:
    """The plan's hours: forecast load (median), PV (median, or none), the tariff's price and the grid's
    carbon intensity (when the run has it: the battery's plan then caps its carbon)."""
    if ctx.forecast is None or ctx.price is None:
        raise LookupError("no load forecast")
    hours = len(ctx.forecast)
    pv = ctx.pv_forecast.p50[:hours] if ctx.pv_forecast is not None else np.zeros(hours)
    carbon = None
    if ctx.carbon is not None:
        carbon = ctx.carbon.series.window(ctx.forecast.start, hours).values
        if not np.isfinite(carbon).all():  # a forecast longer than the run's horizon: no carbon rather than a gap
            carbon = None
    return SiteInputs(ctx.forecast.start, np.maximum(ctx.forecast.p50, 0.0), np.maximum(pv, 0.0),
                      ctx.price.values[:hours], carbon=carbon, tz=ZoneInfo(ctx.tz),
                      currency=ctx.location.currency if ctx.location is not None else "")


def per_day(value: float, hours: int) -> float:
    return value * 24.0 / hours if hours else 0.0

"""The HVAC agent: fits the zone's thermal model and plans pre-cooling/pre-heating, all in the engine."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import numpy as np

from ..engine.optimize import HvacSpec, Plan, SiteInputs, make_plan
from ..engine.pv import clear_sky_ghi
from ..engine.series import HourlySeries
from ..engine.thermal import ThermalModel, fit_thermal_model
from ..engine.weather import SOLAR, TEMPERATURE
from ..wording import clock
from .base import Agent
from .candidate import Candidate
from .explain import currency_fact
from .optimizers import per_day, site_inputs
from .site import RunContext, SiteData

SHIFT_CODES = ("precool", "preheat", "coast_through_peak")


class HvacAgent(Agent):
    name = "hvac"

    async def optimise(self, ctx: RunContext) -> list[Candidate]:
        site = ctx.site
        needed = ("indoor", "outdoor", "hvac_power")
        if site is None or any(role not in site.series for role in needed):
            ctx.notes.append("hvac: needs indoor and outdoor temperature and HVAC power sensors")
            return []
        if ctx.weather is None or TEMPERATURE not in ctx.weather:
            raise LookupError("no outdoor temperature forecast for the HVAC plan")
        where = (ctx.location.latitude, ctx.location.longitude) if ctx.location else (0.0, 0.0)
        inputs = site_inputs(ctx)
        plan, model = await asyncio.to_thread(_plan, site, inputs, ctx, where)
        ctx.plans["hvac"] = plan
        if plan.hvac is None or plan.saving <= 1e-6:
            return []
        return [_candidate(ctx, site, plan, model)]


def _plan(site: SiteData, inputs: SiteInputs, ctx: RunContext, where: tuple[float, float]) -> tuple[Plan, ThermalModel]:
    indoor = site.series["indoor"]
    solar_history = clear_sky_ghi(indoor.start, len(indoor), *where)
    model = fit_thermal_model(indoor, site.series["outdoor"], solar_history, site.series["hvac_power"])
    assert ctx.weather is not None
    hours = inputs.hours
    outdoor = ctx.weather[TEMPERATURE].window(inputs.start, hours).values
    solar_series: HourlySeries = ctx.weather.get(SOLAR) or clear_sky_ghi(inputs.start, hours, *where)
    solar = np.nan_to_num(solar_series.window(inputs.start, hours).values)
    power = site.series["hvac_power"].values
    max_kw = float(np.nanmax(power)) if np.isfinite(power).any() else 0.0
    initial = site.latest.get("indoor", float(indoor.values[np.isfinite(indoor.values)][-1]))
    spec = HvacSpec(model, initial, outdoor, solar, ctx.options.comfort_min, ctx.options.comfort_max,
                    ctx.options.comfort_min, ctx.options.comfort_max, max(max_kw, 0.1))
    return make_plan(replace(inputs), hvac=spec), model


def _candidate(ctx: RunContext, site: SiteData, plan: Plan, model: ThermalModel) -> Candidate:
    assert plan.hvac is not None
    shift = [r for r in plan.reasons if r.code in SHIFT_CODES]
    others = [r for r in plan.reasons if r.code != "plan_summary"]
    first = (shift or others or list(plan.reasons))[0]
    a = max(0, min(plan.hours - 1, int((first.start - plan.start) / timedelta(hours=1))))
    b = max(a + 1, min(plan.hours, int((first.end - plan.start) / timedelta(hours=1))))
    span = plan.hvac.setpoint[a:b]
    # The setpoint the person sets: the deepest of the shift (lowest when cooling, highest when heating).
    setpoint = round(float(span.min() if model.mode == "cooling" else span.max()), 1)
    kwh_saved = max(0.0, plan.baseline.import_kwh - plan.totals.import_kwh)
    target = site.entities.get("setpoint")
    mode = model.mode
    verb = "Pre-cool" if mode == "cooling" else "Pre-heat"
    # In Home Assistant's zone, as the engine's reasons are; "tomorrow" when it is (issue 12).
    when = clock(first.start, ctx.tz, ctx.now)
    action = ({"type": "service", "service": "number.set_value", "target": {"entity_id": target},
               "data": {"value": setpoint}} if target else {"type": "none"})
    quality = model.quality
    confidence = 0.8 if quality is not None and getattr(quality, "rmse_24h", 1.0) < 0.5 else 0.6
    return Candidate(
        category="hvac",
        key=f"{first.code}-{target or 'hvac'}",
        title=f"{verb} to {setpoint:.1f} °C from {when}",
        action=action,
        kwh_per_day=round(per_day(kwh_saved, plan.hours), 3),
        money_per_day=round(per_day(plan.saving, plan.hours), 3),
        confidence=confidence,
        method=f"lp_{first.code}",
        reasons=[r.message for r in plan.reasons[:4]],
        facts={"plan_saving": round(plan.saving, 3), "hours": plan.hours, "setpoint_c": setpoint,
               "time_constant_h": round(model.time_constant_h, 1), **currency_fact(ctx)},
        target_entity=target,
        proposed_value=setpoint,
        valid_until=first.end,
    )

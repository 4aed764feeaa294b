"""The lighting agent: lights off in empty zones and in daylight, from the engine's lighting planner."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.lighting import (
    LightingPlan,
    Zone,
    daylight_from_irradiance,
    learn_weekly_profile,
    plan_lighting,
)
from ..engine.pv import clear_sky_ghi
from ..engine.series import HourlySeries
from ..engine.weather import SOLAR
from ..wording import span
from .base import Agent
from .candidate import Candidate
from .explain import currency_fact
from .optimizers import per_day
from .site import RunContext, SiteData

LIGHT_KW = 0.06  # a zone's lighting power when no sensor says (a few LED fittings)
DAYLIGHT_FACTOR = 0.02  # indoor daylight share of outdoor illuminance in a side-lit room


class LightingAgent(Agent):
    name = "lighting"

    async def optimise(self, ctx: RunContext) -> list[Candidate]:
        site = ctx.site
        if site is None or "light" not in site.series or "occupancy" not in site.series:
            ctx.notes.append("lighting: no light and occupancy sensors, nothing to plan")
            return []
        start, hours = ctx.now, ctx.horizon_h
        solar = (ctx.weather or {}).get(SOLAR)
        where = (ctx.location.latitude, ctx.location.longitude) if ctx.location else None
        plan = await asyncio.to_thread(_plan, site, start, hours, ctx.tz, solar, where)
        ctx.plans["lighting"] = plan
        entity = site.entities["light"]
        price = float(np.mean(ctx.price.values)) if ctx.price is not None else 0.0
        out = []
        for zone in plan.zones:
            saved = [a for a in zone.actions if a.code in ("off_empty", "off_daylight") and a.saving_kwh > 1e-3]
            if not saved:
                continue
            best = max(saved, key=lambda a: a.saving_kwh)
            kwh_day = per_day(zone.saving_kwh, hours)
            out.append(Candidate(
                category="lighting",
                key=f"{best.code}-{entity}",
                title=f"Lights off {span(best.start, best.end, ctx.tz, ctx.now)} "
                      f"({'empty' if best.code == 'off_empty' else 'daylight'})",
                action={"type": "service", "service": "light.turn_off", "target": {"entity_id": entity},
                        "data": {}},
                kwh_per_day=round(kwh_day, 3),
                money_per_day=round(kwh_day * price, 3),
                confidence=0.7,
                method=f"lighting_{best.code}",
                reasons=list(dict.fromkeys(a.message for a in saved))[:3],
                facts={"zone_saving_kwh": round(zone.saving_kwh, 3), "hours": hours, **currency_fact(ctx)},
                target_entity=entity,
                proposed_value="off",
                valid_until=best.end,
            ))
        return out


def _plan(site: SiteData, start: datetime, hours: int, tz: str, solar: HourlySeries | None,
          lat_lon: tuple[float, float] | None) -> LightingPlan:
    zone = ZoneInfo(tz)
    name = site.entities["light"]
    occupancy = learn_weekly_profile(_clipped(site.series["occupancy"]), zone).at(start, hours)
    lights = learn_weekly_profile(_clipped(site.series["light"]), zone).at(start, hours)
    if solar is not None:
        ghi = solar.window(start, hours).values
    elif lat_lon is not None:
        ghi = clear_sky_ghi(start, hours, *lat_lon).values
    else:
        ghi = np.zeros(hours)
    daylight = daylight_from_irradiance(np.nan_to_num(ghi), DAYLIGHT_FACTOR)
    return plan_lighting(start, hours, [Zone(name, LIGHT_KW)], {name: occupancy}, {name: daylight},
                         lights_on_today={name: lights}, tz=zone)


def _clipped(series: HourlySeries) -> HourlySeries:
    return HourlySeries(series.start, np.clip(series.values, 0.0, 1.0))

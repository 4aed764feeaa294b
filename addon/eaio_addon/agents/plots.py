"""The last run as the ingress page plots it: forecast band against actual, plan against price, savings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from ..engine.optimize import Plan
from ..engine.series import FloatArray, Forecast, HourlySeries
from .site import RunContext


def _floats(values: FloatArray) -> list[float | None]:
    return [round(float(v), 4) if np.isfinite(v) else None for v in values]


def forecast_plot(forecast: Forecast, past: Forecast | None, actual: HourlySeries | None) -> dict[str, Any]:
    """The last day (forecast issued a day ago, and what was metered) followed by the plan's hours."""
    parts = [f for f in (past, forecast) if f is not None]
    start, hours = parts[0].start, sum(len(f) for f in parts)
    times = [(start + timedelta(hours=k)).isoformat() for k in range(hours)]
    band = {q: np.concatenate([getattr(f, q) for f in parts]) for q in ("p10", "p50", "p90")}
    observed = actual.window(start, hours).values if actual is not None else None
    return {"times": times, "p10": _floats(band["p10"]), "p50": _floats(band["p50"]), "p90": _floats(band["p90"]),
            "actual": _floats(observed) if observed is not None else None}


def plan_plot(plan: Plan, price: FloatArray) -> dict[str, Any]:
    hours = plan.hours
    times = [(plan.start + timedelta(hours=k)).isoformat() for k in range(hours)]
    battery = plan.battery
    return {
        "times": times,
        "price": _floats(price[:hours]),
        "battery_kw": _floats(battery.power_kw) if battery is not None else [0.0] * hours,
        "soc_kwh": _floats(battery.soc_kwh[:hours]) if battery is not None else [0.0] * hours,
        "grid_kw": _floats(plan.grid_import - plan.grid_export),
        "setpoint_c": _floats(plan.hvac.setpoint) if plan.hvac is not None else None,
    }


def plots(ctx: RunContext | None, recommendations: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"forecast", "plan", "recommendations"}``; a part the last run did not produce is None."""
    out: dict[str, Any] = {"forecast": None, "plan": None, "recommendations": recommendations}
    if ctx is None:
        return out
    if ctx.forecast is not None:
        actual = ctx.site.series.get("load") if ctx.site is not None else None
        out["forecast"] = forecast_plot(ctx.forecast, ctx.past_forecast, actual)
    plan = ctx.plans.get("hvac") or ctx.plans.get("load")
    if isinstance(plan, Plan) and ctx.price is not None:
        out["plan"] = plan_plot(plan, ctx.price.values)
    return out


def realized_rows(verified: dict[str, Any] | None, currency: str = "") -> list[tuple[str, str]]:
    """The page's lines for what the executor carried out: per controllable and in total, with the 90 % band."""
    plan = (verified or {}).get("plan")
    if not isinstance(plan, dict):
        return [("Carried out", "nothing yet: the plan's savings are measured once autopilot has run it")]
    unit = f" {currency}" if currency else ""

    def line(part: dict[str, Any]) -> str:
        return (f"{part['saving']:.2f}{unit} ± {part['band']:.2f}{unit}, {part['kwh']:.2f} kWh of import avoided, "
                f"{part['hours']} h")

    rows = [(str(key), line(part)) for key, part in sorted(plan.get("by_controllable", {}).items())]
    rows.append((f"Total, last {plan.get('days', 30)} days", line(plan["total"])))
    rows += [("Note", str(note)) for note in plan.get("notes", ())]
    return rows


def potential_rows(report: dict[str, Any] | str | None, currency: str = "") -> list[tuple[str, str]]:
    """The page's lines for what the battery could have saved: EAIO's plans followed, perfect foresight and the
    self-consumption rule, against no battery (the engine's report; its reason when there is none)."""
    if not isinstance(report, dict):
        return [("Battery", str(report or "no report yet: it is made after an optimization run"))]
    unit = f" {currency}" if currency else ""

    def way(part: dict[str, Any]) -> str:
        return f"saves {part['saving']:.2f}{unit} ({part['saving_pct']:.1f} %), costs {part['cost']:.2f}{unit}"

    share = report.get("plan_share_of_perfect_pct")
    rows = [
        (f"Without a battery, since {report['from']}", f"costs {report['cost_without_battery']:.2f}{unit}"),
        ("With EAIO's plans followed", way(report["plan_followed"])),
        ("With perfect foresight", way(report["perfect_foresight"])),
        ("With the self-consumption rule", way(report["simple_rule"])),
        ("EAIO's share of what foresight saves", "-" if share is None else f"{share:.1f} %"),
    ]
    return rows + [("Note", str(note)) for note in report.get("notes", ())]

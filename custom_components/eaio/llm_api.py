"""EAIO's tools for any Home Assistant conversation agent (and Home Assistant's MCP server).

A handful of small, well-described tools: local models handle a short tool list better
than a long one. Applying a recommendation needs an explicit confirmation argument.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonObjectType, JsonValueType
import voluptuous as vol

from .addon_coordinator import AddonCoordinator, find_addon_link
from .assistant import (
    addon_freshness,
    async_texts,
    autopilot_status_text,
    autopilot_switches,
    devices_text,
    energy_text,
    forecast_text,
    recommendations_text,
    savings_text,
    stale_note,
)
from .data import get_energy_today

API_ID = "eaio"
API_PROMPT = (
    "You can look at the building's energy through EAIO: its status, today's energy use, "
    "the forecast for tomorrow and the open recommendations with their expected savings. "
    "Quote numbers exactly as the tools give them, and say so when a tool reports the add-on "
    "unreachable. Apply a recommendation or switch autopilot only after the user has confirmed "
    "it, by calling the tool again with confirm set to true."
)


def _link(hass: HomeAssistant) -> AddonCoordinator:
    link = find_addon_link(hass)
    if link is None:
        raise HomeAssistantError("The EAIO add-on is not set up.")
    return link


class StatusTool(llm.Tool):
    name = "eaio_status"
    description = (
        "Overview: devices EAIO follows and whether they answer, whether the add-on answers (and when it "
        "last did), the top recommendation, verified savings, autopilot, today's energy use."
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        texts = await async_texts(hass, llm_context.language)
        link = find_addon_link(hass)
        parts = [
            stale_note(hass, link, texts).strip(),
            devices_text(hass, texts, link),
            recommendations_text(texts, link, limit=1),
            savings_text(texts, link),
            autopilot_status_text(texts, autopilot_switches(hass)),
            energy_text(texts, get_energy_today(hass)),
        ]
        return {"status": " ".join(p for p in parts if p), "addon": addon_freshness(hass, link)}


class EnergyTodayTool(llm.Tool):
    name = "eaio_energy_today"
    description = "Energy used (consumption, not export) by each of EAIO's meters in kWh: today, this week or this month."
    parameters = vol.Schema({vol.Optional("period", default="today"): vol.In(["today", "week", "month"])})

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        texts = await async_texts(hass, llm_context.language)
        tracker = get_energy_today(hass)
        period = str(tool_input.tool_args.get("period", "today"))
        meters = tracker.period(period) if tracker else []
        return {
            "summary": energy_text(texts, tracker, period),
            "period": period,
            "meters": [
                {"name": m.name, "kwh": round(m.used, 3), "since": dt_util.as_local(m.since).isoformat()}
                for m in meters
            ],
        }


class ForecastTool(llm.Tool):
    name = "eaio_forecast"
    description = "Tomorrow's expected energy consumption with its likely range, from the EAIO add-on."

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        texts = await async_texts(hass, llm_context.language)
        link = find_addon_link(hass)
        forecast: dict[str, Any] = (link.health.get("forecast") if link else None) or {}
        return {
            "summary": stale_note(hass, link, texts) + forecast_text(texts, link),
            "forecast": forecast,
            "addon": addon_freshness(hass, link),
        }


class RecommendationsTool(llm.Tool):
    name = "eaio_recommendations"
    description = (
        "The open energy-saving recommendations, best first, with ids, expected savings and reasons."
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        texts = await async_texts(hass, llm_context.language)
        link = _link(hass)
        return {
            "summary": stale_note(hass, link, texts) + recommendations_text(texts, link),
            "addon": addon_freshness(hass, link),
            "recommendations": [
                {
                    "id": r.id,
                    "category": r.category,
                    "title": r.title,
                    "description": r.description,
                    "kwh_per_day": r.estimated_savings_kwh_per_day,
                    "money_per_day": r.estimated_savings_per_day,
                    "confidence": r.confidence,
                    "reasons": list[JsonValueType](r.reasons),
                }
                for r in link.book.ranked()
            ],
        }


class ApplyTool(llm.Tool):
    name = "eaio_apply_recommendation"
    description = (
        "Apply an open recommendation by id. First call it with confirm false to get what would be "
        "done; call it with confirm true only after the user said yes."
    )
    parameters = vol.Schema({vol.Required("recommendation_id"): str, vol.Required("confirm"): bool})

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        link = _link(hass)
        rec_id = str(tool_input.tool_args["recommendation_id"])
        rec = link.book.open.get(rec_id)
        if rec is None:
            return {"error": f"No open recommendation has the id {rec_id}.", "open_ids": list(link.book.open)}
        if not tool_input.tool_args.get("confirm"):
            return {
                "needs_confirmation": True,
                "would_do": rec.title,
                "action": rec.action,
                "expected_kwh_per_day": rec.estimated_savings_kwh_per_day,
                "ask_user": f"Shall I apply '{rec.title}'?",
            }
        await link.async_apply(rec_id, llm_context.context)
        return {"applied": rec_id, "title": rec.title}


class AutopilotTool(llm.Tool):
    name = "eaio_autopilot"
    description = (
        "Autopilot of EAIO's controllables (battery, car, appliances, zones): without arguments, which are on. "
        "To switch one, give its switch entity_id and turn_on; first with confirm false to get the question "
        "for the user, then with confirm true only after the user said yes."
    )
    parameters = vol.Schema(
        {
            vol.Optional("entity_id"): str,
            vol.Optional("turn_on"): bool,
            vol.Optional("confirm", default=False): bool,
        }
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        switches = autopilot_switches(hass)
        listed: list[JsonValueType] = [
            {"entity_id": s.entity_id, "name": s.name, "on": s.on} for s in switches
        ]
        args = tool_input.tool_args
        if "entity_id" not in args or "turn_on" not in args:
            texts = await async_texts(hass, llm_context.language)
            return {"summary": autopilot_status_text(texts, switches), "autopilot": listed}
        chosen = next((s for s in switches if s.entity_id == args["entity_id"]), None)
        if chosen is None:
            return {"error": f"No autopilot switch {args['entity_id']}.", "autopilot": listed}
        state = "on" if args["turn_on"] else "off"
        if not args.get("confirm"):
            return {
                "needs_confirmation": True,
                "ask_user": f"Shall I turn autopilot {state} for {chosen.name}?",
            }
        await hass.services.async_call(
            "switch",
            f"turn_{state}",
            {"entity_id": chosen.entity_id},
            blocking=True,
            context=llm_context.context,
        )
        return {"done": True, "entity_id": chosen.entity_id, "autopilot": state}


class EaioAPI(llm.API):
    """Registered once; its tools read whatever EAIO has at call time."""

    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        return llm.APIInstance(
            api=self,
            api_prompt=API_PROMPT,
            llm_context=llm_context,
            tools=[
                StatusTool(),
                EnergyTodayTool(),
                ForecastTool(),
                RecommendationsTool(),
                ApplyTool(),
                AutopilotTool(),
            ],
        )


def async_register_llm_api(hass: HomeAssistant) -> None:
    llm.async_register_api(hass, EaioAPI(hass=hass, id=API_ID, name="EAIO energy"))

"""EAIO's tools for any Home Assistant conversation agent (and Home Assistant's MCP server).

A handful of small, well-described tools: local models handle a short tool list better
than a long one. Applying a recommendation needs an explicit confirmation argument.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.util.json import JsonObjectType, JsonValueType
import voluptuous as vol

from .addon_coordinator import AddonCoordinator, find_addon_link
from .assistant import energy_today_text, forecast_text, recommendations_text, status_text
from .data import get_energy_today

API_ID = "eaio"
API_PROMPT = (
    "You can look at the building's energy through EAIO: its status, today's energy use, "
    "the forecast for tomorrow and the open recommendations with their expected savings. "
    "Quote numbers exactly as the tools give them. Apply a recommendation only after the "
    "user has confirmed it, by calling the apply tool again with confirm set to true."
)


def _link(hass: HomeAssistant) -> AddonCoordinator:
    link = find_addon_link(hass)
    if link is None:
        raise HomeAssistantError("The EAIO add-on is not set up.")
    return link


class StatusTool(llm.Tool):
    name = "eaio_status"
    description = (
        "Overview: devices EAIO follows and whether they answer, the top recommendation, today's energy use."
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        return {"status": status_text(hass, find_addon_link(hass), get_energy_today(hass))}


class EnergyTodayTool(llm.Tool):
    name = "eaio_energy_today"
    description = "Energy used today by each of EAIO's meters, in kWh."

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        tracker = get_energy_today(hass)
        meters = tracker.today() if tracker else []
        return {
            "summary": energy_today_text(tracker),
            "meters": [
                {"name": m.name, "kwh": round(m.used, 3), "since": m.first_at.isoformat()} for m in meters
            ],
        }


class ForecastTool(llm.Tool):
    name = "eaio_forecast"
    description = "Tomorrow's expected energy consumption with its likely range, from the EAIO add-on."

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        link = find_addon_link(hass)
        forecast: dict[str, Any] = (link.health.get("forecast") if link else None) or {}
        return {"summary": forecast_text(link), "forecast": forecast}


class RecommendationsTool(llm.Tool):
    name = "eaio_recommendations"
    description = (
        "The open energy-saving recommendations, best first, with ids, expected savings and reasons."
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        link = _link(hass)
        return {
            "summary": recommendations_text(link),
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


class EaioAPI(llm.API):
    """Registered once; its tools read whatever EAIO has at call time."""

    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        return llm.APIInstance(
            api=self,
            api_prompt=API_PROMPT,
            llm_context=llm_context,
            tools=[StatusTool(), EnergyTodayTool(), ForecastTool(), RecommendationsTool(), ApplyTool()],
        )


def async_register_llm_api(hass: HomeAssistant) -> None:
    llm.async_register_api(hass, EaioAPI(hass=hass, id=API_ID, name="EAIO energy"))

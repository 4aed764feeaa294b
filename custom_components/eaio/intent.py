"""EAIO's intents for Home Assistant's default conversation agent.

The sentences that lead here are in the repository's ``custom_sentences/<language>/eaio.yaml``
(copied by the owner into Home Assistant's ``custom_sentences`` folder); the answers are the same
as EAIO's own agent gives, in the asker's language. Only reading intents: a request to change
something needs a confirmation turn, which EAIO's own conversation agent holds.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
import voluptuous as vol

from .addon_coordinator import AddonCoordinator, find_addon_link
from .assistant import (
    Texts,
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

ENERGY = "EaioEnergy"
FORECAST = "EaioForecast"
RECOMMENDATIONS = "EaioRecommendations"
SAVINGS = "EaioSavings"
DEVICES = "EaioDevices"
AUTOPILOT = "EaioAutopilot"


async def async_setup_intents(hass: HomeAssistant) -> None:
    for intent_type in (ENERGY, FORECAST, RECOMMENDATIONS, SAVINGS, DEVICES, AUTOPILOT):
        intent.async_register(hass, EaioIntentHandler(intent_type))


class EaioIntentHandler(intent.IntentHandler):
    """Answers one of EAIO's questions from what Home Assistant knows."""

    platforms = None
    slot_schema = {vol.Optional("period"): vol.In(["today", "week", "month"])}

    def __init__(self, intent_type: str) -> None:
        self.intent_type = intent_type
        self.description = f"EAIO: {intent_type.removeprefix('Eaio').lower()} of the building's energy"

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        hass = intent_obj.hass
        slots = self.async_validate_slots(intent_obj.slots)
        period = str(slots.get("period", {}).get("value", "today"))
        texts = await async_texts(hass, intent_obj.language)
        response = intent_obj.create_response()
        response.async_set_speech(self._answer(hass, texts, find_addon_link(hass), period))
        return response

    def _answer(self, hass: HomeAssistant, texts: Texts, link: AddonCoordinator | None, period: str) -> str:
        note = stale_note(hass, link, texts)
        if self.intent_type == ENERGY:
            return energy_text(texts, get_energy_today(hass), period)
        if self.intent_type == FORECAST:
            return note + forecast_text(texts, link)
        if self.intent_type == RECOMMENDATIONS:
            return note + recommendations_text(texts, link)
        if self.intent_type == SAVINGS:
            return note + savings_text(texts, link)
        if self.intent_type == DEVICES:
            return devices_text(hass, texts, link)
        return autopilot_status_text(texts, autopilot_switches(hass))

"""Home Assistant's default agent (Assist) answers EAIO's questions with the repository's custom sentences."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from custom_components.eaio.const import DOMAIN

from .addon_standin import AddonStandIn
from .test_assistant import REC, _linked

SENTENCES = Path(__file__).resolve().parents[2] / "custom_sentences"


@pytest.mark.parametrize(
    ("language", "question", "answer"),
    [
        ("en", "What's the forecast for tomorrow?", "Tomorrow's expected consumption is 23.1 kWh"),
        ("en", "What should I do to save energy?", "Top recommendation: Pre-cool before the 16:00 peak"),
        ("en", "How much energy have we saved?", "Verified savings: 12.5 kWh"),
        (
            "en",
            "How much energy did we use this week?",
            "I have no readings from EAIO's consumption meters this week",
        ),
        ("en", "What is the autopilot doing?", "No controllable has an autopilot yet"),
        ("de", "Wie ist die Prognose für morgen?", "Der erwartete Verbrauch für morgen beträgt 23,1 kWh"),
        (
            "de",
            "Was soll ich tun, um Energie zu sparen?",
            "Wichtigste Empfehlung: Pre-cool before the 16:00 peak",
        ),
        ("de", "Wie viel Strom haben wir diesen Monat verbraucht?", "Ich habe diesen Monat noch keine Werte"),
    ],
)
async def test_default_agent_answers_with_eaios_intents(
    hass: HomeAssistant, addon: AddonStandIn, config_dir: Path, language: str, question: str, answer: str
) -> None:
    shutil.copytree(SENTENCES, config_dir / "custom_sentences")
    assert await async_setup_component(hass, "intent", {})
    addon.forecast = {"tomorrow_kwh": 23.14, "issued": "2026-11-25 00:00 UTC"}
    await _linked(hass, addon)
    await hass.services.async_call(
        DOMAIN, "submit_recommendations", {"recommendations": [REC]}, blocking=True, return_response=True
    )
    result = await conversation.async_converse(hass, question, None, Context(), language=language)
    speech: str = result.response.speech["plain"]["speech"]
    assert speech.startswith(answer), speech
    assert addon.questions == []  # answered in Home Assistant, not by the add-on's assistant

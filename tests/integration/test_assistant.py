"""Questions by voice or text: the add-on's assistant when it answers, local answers when not."""

from __future__ import annotations

from typing import Any

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm
import pytest

from custom_components.eaio.const import DOMAIN
from tests.conftest import ModbusSim

from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device, entity_ids


async def _linked(hass: HomeAssistant, addon: AddonStandIn) -> ConfigEntry:
    result: Any = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": TOKEN}
    )
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


async def _ask(hass: HomeAssistant, entry: ConfigEntry, text: str) -> str:
    agent = entity_ids(hass, entry)["assistant"]
    result = await conversation.async_converse(hass, text, None, Context(), language="en", agent_id=agent)
    speech: str = result.response.speech["plain"]["speech"]
    return speech


REC = {
    "id": "precool", "category": "hvac", "title": "Pre-cool before the 16:00 peak", "action": {"type": "none"},
    "estimated_savings_kwh_per_day": 2.4, "estimated_savings_per_day": 0.61, "confidence": 0.8, "method": "lp",
}  # fmt: skip


async def test_addon_answers_when_it_can(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    assert (
        await _ask(hass, entry, "Why is my bill so high?")
        == "The add-on's assistant on: Why is my bill so high?"
    )


async def test_local_answers_when_the_addon_cannot(
    hass: HomeAssistant, addon: AddonStandIn, building_sim: ModbusSim
) -> None:
    meter = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    addon.forecast = {
        "tomorrow_kwh": 23.14,
        "p10_kwh": 19.5,
        "p90_kwh": 27.25,
        "issued": "2026-11-25T00:00:00+00:00",
    }
    entry = await _linked(hass, addon)
    await hass.services.async_call(
        DOMAIN, "submit_recommendations", {"recommendations": [REC]}, blocking=True, return_response=True
    )
    addon.ask_status = 503  # the add-on is up but its assistant (LLM) is not

    answer = await _ask(hass, entry, "What should I do to save energy?")
    assert (
        answer
        == "Top recommendation: Pre-cool before the 16:00 peak (about 2.4 kWh, 0.61 EUR a day, confidence 80%)."
    )
    assert await _ask(hass, entry, "What is the forecast for tomorrow?") == (
        "Tomorrow's expected consumption is 23.1 kWh (likely between 19.5 and 27.2 kWh), "
        "forecast made 2026-11-25T00:00:00+00:00."
    )
    # A later meter reading: the tracker counts from the day's first one.
    import_energy = entity_ids(hass, meter)["import_energy"]
    state = hass.states.get(import_energy)
    assert state is not None
    hass.states.async_set(import_energy, "12348.17", state.attributes)
    await hass.async_block_till_done()
    answer = await _ask(hass, entry, "How much energy did we use today?")
    assert "Import energy: 2.50 kWh" in answer
    assert "Export energy: 0.00 kWh" in answer

    await addon.stop()  # the add-on is gone altogether
    response = await hass.services.async_call(
        DOMAIN, "ask", {"question": "what should i do to save energy"}, blocking=True, return_response=True
    )
    assert response is not None and response["source"] == "local" and response["topic"] == "recommendations"
    assert "Pre-cool" in response["answer"]


async def test_llm_api_tools(hass: HomeAssistant, addon: AddonStandIn, building_sim: ModbusSim) -> None:
    await _linked(hass, addon)
    await hass.services.async_call(
        DOMAIN, "submit_recommendations", {"recommendations": [REC]}, blocking=True, return_response=True
    )
    context = llm.LLMContext(
        platform="test",
        context=Context(),
        user_prompt=None,
        language="en",
        assistant="conversation",
        device_id=None,
    )
    api = await llm.async_get_api(hass, "eaio", context)
    assert [t.name for t in api.tools] == [
        "eaio_status", "eaio_energy_today", "eaio_forecast", "eaio_recommendations", "eaio_apply_recommendation",
    ]  # fmt: skip
    listed = await api.async_call_tool(llm.ToolInput("eaio_recommendations", {}))
    assert listed["recommendations"][0]["id"] == "precool"  # type: ignore[index]
    ask = await api.async_call_tool(
        llm.ToolInput("eaio_apply_recommendation", {"recommendation_id": "precool", "confirm": False})
    )
    assert ask["needs_confirmation"] is True
    assert "precool" in hass.config_entries.async_entries(DOMAIN)[0].runtime_data.book.open
    done = await api.async_call_tool(
        llm.ToolInput("eaio_apply_recommendation", {"recommendation_id": "precool", "confirm": True})
    )
    assert done == {"applied": "precool", "title": "Pre-cool before the 16:00 peak"}
    missing = await api.async_call_tool(
        llm.ToolInput("eaio_apply_recommendation", {"recommendation_id": "precool", "confirm": True})
    )
    assert "No open recommendation" in str(missing["error"])
    with pytest.raises(Exception):  # noqa: B017 - bad arguments are refused before the tool runs
        await api.async_call_tool(llm.ToolInput("eaio_apply_recommendation", {"confirm": "maybe"}))

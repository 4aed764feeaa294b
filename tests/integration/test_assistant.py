"""Questions by voice or text: answered question by question, in English and German, with a memory
of the conversation, confirm-then-act, and honesty about the add-on's age; the rest goes to the add-on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, llm
import pytest

from custom_components.eaio.const import DOMAIN
from custom_components.eaio.data import ENERGY_TODAY
from tests.conftest import ModbusSim

from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device, entity_ids

T0 = datetime.fromisoformat("2026-11-23T10:00:00+01:00")  # a Monday, Europe/Berlin


async def _linked(hass: HomeAssistant, addon: AddonStandIn) -> ConfigEntry:
    result: Any = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": TOKEN}
    )
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


class Chat:
    """One conversation with EAIO's agent, keeping its conversation id like a voice satellite does."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, language: str = "en") -> None:
        self.hass = hass
        self.agent = entity_ids(hass, entry)["assistant"]
        self.language = language
        self.conversation_id: str | None = None
        self.continues = False

    async def say(self, text: str) -> str:
        result = await conversation.async_converse(
            self.hass, text, self.conversation_id, Context(), language=self.language, agent_id=self.agent
        )
        self.conversation_id = result.conversation_id
        self.continues = result.continue_conversation
        speech: str = result.response.speech["plain"]["speech"]
        return speech


async def _ask(hass: HomeAssistant, entry: ConfigEntry, text: str, language: str = "en") -> str:
    return await Chat(hass, entry, language).say(text)


REC = {
    "id": "precool", "category": "hvac", "title": "Pre-cool before the 16:00 peak", "action": {"type": "none"},
    "estimated_savings_kwh_per_day": 2.4, "estimated_savings_per_day": 0.61, "confidence": 0.8, "method": "lp",
    "reasons": ["the tariff is 0.42 from 16:00 to 20:00", "the house stays within 1 K of the setpoint"],
}  # fmt: skip
REC2 = {
    "id": "standby", "category": "load", "title": "Cut always-on load", "action": {"type": "none"},
    "estimated_savings_kwh_per_day": 1.1, "estimated_savings_per_day": 0.3, "confidence": 0.6, "method": "stats",
}  # fmt: skip


async def _submit(hass: HomeAssistant, *recs: dict[str, Any]) -> None:
    await hass.services.async_call(
        DOMAIN, "submit_recommendations", {"recommendations": list(recs)}, blocking=True, return_response=True
    )


async def _meter(hass: HomeAssistant, sim: ModbusSim) -> tuple[str, str]:
    meter = await add_device(hass, sim.port, 1, "three_phase_meter")
    ids = entity_ids(hass, meter)
    return ids["import_energy"], ids["export_energy"]


def _set(hass: HomeAssistant, entity_id: str, value: float) -> None:
    state = hass.states.get(entity_id)
    assert state is not None
    hass.states.async_set(entity_id, str(value), state.attributes)


async def test_addon_answers_what_the_words_do_not_cover(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    chat = Chat(hass, entry)
    assert await chat.say("Why is my bill so high?") == "The add-on's assistant on: Why is my bill so high?"
    await chat.say("Tell me a joke about heat pumps")
    # The add-on's model sees the conversation so far.
    assert addon.ask_bodies[-1]["history"] == [
        {
            "question": "Why is my bill so high?",
            "answer": "The add-on's assistant on: Why is my bill so high?",
        }
    ]
    assert addon.ask_bodies[-1]["conversation_id"] == chat.conversation_id
    # The add-on's model answers recognised questions too, while it has one.
    forecast = "What's the forecast for tomorrow?"
    assert await chat.say(forecast) == f"The add-on's assistant on: {forecast}"
    # Without its model, a recognised question is answered from Home Assistant's own data ...
    addon.ask_error = "llm_unavailable"
    assert (await chat.say(forecast)).startswith("I have no forecast")
    # ... and what only the add-on knows comes from it.
    assert await chat.say("Tell me a joke") == "The add-on's assistant on: Tell me a joke"
    # Confirming and acting never go to the add-on.
    asked = len(addon.questions)
    await chat.say("Turn down the heating a bit")
    await chat.say("Apply the top recommendation")
    assert len(addon.questions) == asked


async def test_each_question_gets_its_own_answer(
    hass: HomeAssistant, addon: AddonStandIn, building_sim: ModbusSim
) -> None:
    import_energy, export_energy = await _meter(hass, building_sim)
    addon.forecast = {
        "tomorrow_kwh": 23.14,
        "p10_kwh": 19.5,
        "p90_kwh": 27.25,
        "issued": "2026-11-25 00:00 UTC",
    }
    entry = await _linked(hass, addon)
    await _submit(hass, REC, REC2)
    addon.ask_status = 503  # the add-on is up but its assistant (LLM) is not

    _set(hass, import_energy, float(hass.states.get(import_energy).state) + 2.5)  # type: ignore[union-attr]
    _set(hass, export_energy, float(hass.states.get(export_energy).state) + 7.0)  # type: ignore[union-attr]
    await hass.async_block_till_done()

    answers = {
        question: await _ask(hass, entry, question)
        for question in (
            "How much energy did we use today?",
            "What's the forecast for tomorrow?",
            "What should I do to save energy?",
            "How much have we saved?",
            "Are all devices online?",
            "What is autopilot doing?",
            "Turn down the heating a bit",
        )
    }
    assert len(set(answers.values())) == len(answers), answers  # never one paragraph for everything
    energy = answers["How much energy did we use today?"]
    assert energy.startswith("Energy used today: 2.50 kWh (Three-phase energy meter Import energy 2.50 kWh")
    assert answers["What's the forecast for tomorrow?"] == (
        "Tomorrow's expected consumption is 23.1 kWh (likely between 19.5 and 27.2 kWh), "
        "forecast made 2026-11-24 16:00."  # the test harness's time zone, US/Pacific
    )
    assert answers["What should I do to save energy?"] == (
        "Top recommendation: Pre-cool before the 16:00 peak (about 2.4 kWh, 0.61 EUR a day, confidence 80%). "
        "Then: Cut always-on load (about 1.1 kWh, 0.30 EUR a day, confidence 60%)."
    )
    assert answers["How much have we saved?"] == (
        "Verified savings: 12.5 kWh, measured against the forecast baseline (1 carried out)."
    )
    assert answers["Are all devices online?"] == "EAIO follows 1 device(s); all answer."
    assert answers["What is autopilot doing?"].startswith("No controllable has an autopilot yet")
    assert answers["Turn down the heating a bit"] == (
        "I can't do that: EAIO has no controllable for the heating. It changes a device only through a "
        "declared controllable (EAIO's options) or a recommendation."
    )
    # Acting and confirming stay here; the rest was offered to the add-on, which could not answer.
    assert "Turn down the heating a bit" not in addon.questions

    # The eaio.ask service answers the same way, also with the add-on gone.
    await addon.stop()
    response = await hass.services.async_call(
        DOMAIN, "ask", {"question": "what should i do to save energy"}, blocking=True, return_response=True
    )
    assert response is not None and response["source"] == "local" and response["topic"] == "recommendations"
    assert "Pre-cool" in response["answer"]


async def test_german(hass: HomeAssistant, addon: AddonStandIn, building_sim: ModbusSim) -> None:
    import_energy, _ = await _meter(hass, building_sim)
    entry = await _linked(hass, addon)
    addon.ask_error = "llm_unavailable"  # the add-on answers, without its model
    await _submit(hass, REC)
    _set(hass, import_energy, float(hass.states.get(import_energy).state) + 2.5)  # type: ignore[union-attr]
    await hass.async_block_till_done()
    chat = Chat(hass, entry, "de")
    assert (await chat.say("Wie viel Strom haben wir heute verbraucht?")).startswith(
        "Energieverbrauch heute: 2,50 kWh (Three-phase energy meter Import energy 2,50 kWh"
    )
    assert await chat.say("Was empfiehlst du?") == (
        "Wichtigste Empfehlung: Pre-cool before the 16:00 peak (etwa 2,4 kWh, 0,61 EUR pro Tag, Zuverlässigkeit 80 %)."
    )
    assert await chat.say("Warum?") == (
        "Warum „Pre-cool before the 16:00 peak“: the tariff is 0.42 from 16:00 to 20:00; "
        "the house stays within 1 K of the setpoint."
    )
    assert (await chat.say("Dreh die Heizung ein bisschen runter")).startswith(
        "Das kann ich nicht: EAIO hat keine steuerbare Einheit für die Heizung."
    )


def _meters_without_device(hass: HomeAssistant) -> tuple[str, str]:
    """Two of EAIO's energy sensors as Home Assistant sees them (registry entries and states)."""
    registry = er.async_get(hass)
    ids = []
    for key, name in (("import_energy", "Import energy"), ("export_energy", "Export energy")):
        entity_id = registry.async_get_or_create(
            "sensor", DOMAIN, f"meter1_{key}", suggested_object_id=f"meter_{key}", original_name=name
        ).entity_id
        hass.states.async_set(
            entity_id, "1000.0",
            {"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
             "friendly_name": f"Meter {name}"},
        )  # fmt: skip
        ids.append(entity_id)
    hass.data[ENERGY_TODAY].async_refresh_tracking()
    return ids[0], ids[1]


async def test_energy_follows_the_meter_and_counts_the_week(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(T0)
    await hass.config.async_set_time_zone("Europe/Berlin")
    entry = await _linked(hass, addon)
    addon.ask_error = "llm_unavailable"  # the add-on answers, without its model
    import_energy, export_energy = _meters_without_device(hass)
    for minute, used in ((1, 31.0), (6, 31.4), (11, 31.9)):  # every reading counts at once
        freezer.move_to(T0 + timedelta(minutes=minute))
        _set(hass, import_energy, 1000.0 + used)
        _set(hass, export_energy, 1000.0 + minute)  # export is not consumption
        await hass.async_block_till_done()
        assert await _ask(hass, entry, "How much energy did we use today?") == (
            f"Energy used today: {used:.2f} kWh (Meter Import energy {used:.2f} kWh since 10:00)."
        )
    # Tuesday: Monday's use is closed into the week; today starts at the day's first reading.
    freezer.move_to(T0 + timedelta(days=1))
    _set(hass, import_energy, 1040.0)
    await hass.async_block_till_done()
    freezer.move_to(T0 + timedelta(days=1, hours=2))
    _set(hass, import_energy, 1045.5)
    await hass.async_block_till_done()
    assert await _ask(hass, entry, "How much energy did we use this week?") == (
        "Energy used this week: 45.50 kWh (Meter Import energy 45.50 kWh). "
        "EAIO has been counting only since 2026-11-23."
    )
    german = Chat(hass, entry, "de")
    assert (await german.say("Wie viel Strom haben wir diese Woche verbraucht?")).startswith(
        "Energieverbrauch diese Woche: 45,50 kWh"
    )
    assert await german.say("Und diesen Monat?") == (
        "Energieverbrauch diesen Monat: 45,50 kWh (Meter Import energy 45,50 kWh). EAIO zählt erst seit 2026-11-23."
    )
    assert await _ask(hass, entry, "How much energy did we use today?") == (
        "Energy used today: 5.50 kWh (Meter Import energy 5.50 kWh since 10:00)."
    )


async def test_why_then_apply_with_confirmation(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    addon.ask_error = "llm_unavailable"  # the add-on answers, without its model
    await _submit(hass, REC, REC2)
    book = entry.runtime_data.book
    chat = Chat(hass, entry)
    await chat.say("Any recommendations?")
    assert await chat.say("Why?") == (
        "Why “Pre-cool before the 16:00 peak”: the tariff is 0.42 from 16:00 to 20:00; "
        "the house stays within 1 K of the setpoint."
    )
    assert await chat.say("Apply it") == (
        "Shall I apply “Pre-cool before the 16:00 peak”? It is expected to save about 2.4 kWh a day. "
        "Say yes to confirm."
    )
    assert chat.continues  # the satellite keeps listening for the answer
    assert "precool" in book.open  # nothing happens before the yes
    assert await chat.say("yes") == "Done: “Pre-cool before the 16:00 peak” is applied."
    assert "precool" not in book.open
    # A "yes" with nothing pending changes nothing.
    assert not (await chat.say("yes")).startswith("Done")
    # "no" leaves the proposal undone.
    assert (await chat.say("Apply the top recommendation")).startswith("Shall I apply “Cut always-on load”")
    assert await chat.say("no") == "All right, I left everything as it was."
    assert "standby" in book.open
    # A proposal lapses when the conversation moves on: a later "yes" does not apply it.
    await chat.say("Apply the top recommendation")
    await chat.say("What's the forecast for tomorrow?")
    assert not (await chat.say("yes")).startswith("Done")
    assert "standby" in book.open
    # Another conversation has its own memory.
    await chat.say("Apply the top recommendation")
    other = Chat(hass, entry)
    assert not (await other.say("yes")).startswith("Done")
    assert "standby" in book.open


async def test_autopilot_from_a_conversation(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    registry = er.async_get(hass)
    switches = {}
    for key, name in (("battery", "Home battery autopilot"), ("car", "Car charger autopilot")):
        created = registry.async_get_or_create(
            "switch", DOMAIN, f"{entry.entry_id}_autopilot_{key}", suggested_object_id=f"{key}_autopilot",
            original_name=name, translation_key="autopilot",
        )  # fmt: skip
        hass.states.async_set(created.entity_id, "off", {"friendly_name": name})
        switches[key] = created.entity_id
    calls: list[Event] = []

    @callback
    def record(event: Event) -> None:
        calls.append(event)

    hass.bus.async_listen(EVENT_CALL_SERVICE, record)

    chat = Chat(hass, entry)
    assert await chat.say("What is autopilot doing?") == (
        "Autopilot is on for: none. Off for: Car charger autopilot, Home battery autopilot."
    )
    assert await chat.say("Turn on autopilot") == (
        "Autopilot for which one: Car charger autopilot, Home battery autopilot?"
    )
    assert await chat.say("Turn on autopilot for the battery") == (
        "Shall I turn autopilot on for Home battery autopilot? Say yes to confirm."
    )
    assert not [c for c in calls if c.data["domain"] == "switch"]
    assert await chat.say("go ahead") == "Done: autopilot is on for Home battery autopilot."
    await hass.async_block_till_done()
    switch_calls = [c.data for c in calls if c.data["domain"] == "switch"]
    assert switch_calls == [
        {"domain": "switch", "service": "turn_on", "service_data": {"entity_id": switches["battery"]}}
    ]
    hass.states.async_set(switches["battery"], "on", {"friendly_name": "Home battery autopilot"})
    assert await chat.say("Enable the autopilot for the battery") == (
        "Autopilot is already on for Home battery autopilot."
    )
    assert await chat.say("Charge the car now") == (
        "Car charger autopilot follows EAIO's plan when its autopilot is on; say “turn on autopilot for "
        "Car charger autopilot” and I will ask you to confirm."
    )
    assert (await chat.say("Turn down the heating a bit")).startswith(
        "I can't do that: EAIO has no controllable for the heating."
    )
    german = Chat(hass, entry, "de")
    assert await german.say("Schalte den Autopiloten für die Batterie aus") == (
        "Soll ich den Autopiloten für Home battery autopilot ausschalten? Sag ja zum Bestätigen."
    )
    assert await german.say("ja") == "Erledigt: Der Autopilot für Home battery autopilot ist aus."
    await hass.async_block_till_done()
    assert [c.data["service"] for c in calls if c.data["domain"] == "switch"] == ["turn_on", "turn_off"]


async def test_says_how_old_the_addon_data_is(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(T0 + timedelta(hours=4, minutes=20))
    await hass.config.async_set_time_zone("Europe/Berlin")
    addon.forecast = {"tomorrow_kwh": 23.14, "issued": "2026-11-23T13:00:00+00:00"}
    entry = await _linked(hass, addon)
    addon.ask_error = "llm_unavailable"  # the add-on answers, without its model
    await _submit(hass, REC)
    assert await _ask(hass, entry, "What's the forecast for tomorrow?") == (
        "Tomorrow's expected consumption is 23.1 kWh, forecast made 14:00."
    )
    # The add-on answers, but its recommendations come from a run long ago: said with the run's time.
    addon.last_run_at = (T0 - timedelta(days=1)).timestamp()
    await entry.runtime_data.async_refresh()
    assert (await _ask(hass, entry, "Any recommendations?")).endswith(
        "These come from the add-on's run of 2026-11-22 10:00."
    )
    addon.last_run_at = (T0 + timedelta(hours=4)).timestamp()
    await entry.runtime_data.async_refresh()
    assert "run of" not in await _ask(hass, entry, "Any recommendations?")
    await addon.stop()
    freezer.move_to(T0 + timedelta(hours=5))
    await entry.runtime_data.async_refresh()
    assert not entry.runtime_data.last_update_success
    assert await _ask(hass, entry, "What's the forecast for tomorrow?") == (
        "As of 14:20, the EAIO add-on is not reachable; this is its last data. "
        "Tomorrow's expected consumption is 23.1 kWh, forecast made 14:00."
    )
    assert (await _ask(hass, entry, "Any recommendations?")).startswith(
        "As of 14:20, the EAIO add-on is not reachable"
    )
    api = await llm.async_get_api(hass, "eaio", _llm_context())
    status = await api.async_call_tool(llm.ToolInput("eaio_status", {}))
    assert status["addon"] == {"reachable": False, "last_answer": "2026-11-23T14:20+01:00"}
    assert str(status["status"]).startswith("As of 14:20, the EAIO add-on is not reachable")


def _llm_context() -> llm.LLMContext:
    # Home Assistant 2025.4's context has a user_prompt field; 2026's releases dropped it.
    older: dict[str, Any] = (
        {"user_prompt": None} if "user_prompt" in llm.LLMContext.__dataclass_fields__ else {}
    )
    return llm.LLMContext(
        platform="test",
        context=Context(),
        language="en",
        assistant="conversation",
        device_id=None,
        **older,
    )


async def test_llm_api_tools(hass: HomeAssistant, addon: AddonStandIn, building_sim: ModbusSim) -> None:
    await _linked(hass, addon)
    await _submit(hass, REC)
    api = await llm.async_get_api(hass, "eaio", _llm_context())
    assert [t.name for t in api.tools] == [
        "eaio_status", "eaio_energy_today", "eaio_forecast", "eaio_recommendations", "eaio_apply_recommendation",
        "eaio_autopilot",
    ]  # fmt: skip
    listed = await api.async_call_tool(llm.ToolInput("eaio_recommendations", {}))
    assert listed["recommendations"][0]["id"] == "precool"  # type: ignore[index]
    assert listed["addon"] == {"reachable": True, "last_answer": listed["addon"]["last_answer"]}  # type: ignore[index]
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
    week = await api.async_call_tool(llm.ToolInput("eaio_energy_today", {"period": "week"}))
    assert week["period"] == "week"
    autopilot = await api.async_call_tool(llm.ToolInput("eaio_autopilot", {}))
    assert autopilot["autopilot"] == [] and str(autopilot["summary"]).startswith("No controllable")


async def test_autopilot_of_a_declared_controllable(hass: HomeAssistant, addon: AddonStandIn) -> None:
    """With a real controllable and its autopilot switch: proposed, then switched only after the yes."""
    from .test_controllables import BATTERY, add_controllable, helpers

    await helpers(hass)
    entry = await _linked(hass, addon)
    await add_controllable(hass, entry, "battery", **BATTERY)
    switch = next(
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.domain == "switch" and e.translation_key == "autopilot"
    )
    assert hass.states.is_state(switch, "off")
    chat = Chat(hass, entry)
    proposal = await chat.say("Put the battery on autopilot")
    assert proposal.startswith("Shall I turn autopilot on for ") and proposal.endswith("Say yes to confirm.")
    assert hass.states.is_state(switch, "off")
    assert (await chat.say("yes")).startswith("Done: autopilot is on for ")
    await hass.async_block_till_done()
    assert hass.states.is_state(switch, "on")
    assert (await chat.say("What is autopilot doing?")).startswith("Autopilot is on for: ")
    # What the executor does shows beside the name when it is not simply following the plan.
    attributes = dict(hass.states.get(switch).attributes)  # type: ignore[union-attr]
    hass.states.async_set(switch, "on", {**attributes, "state": "failsafe"})
    assert "(stopped in its safe state)" in await chat.say("What is autopilot doing?")
    hass.states.async_set(switch, "on", attributes)
    # Through the LLM API too: a question first, the change only with confirm.
    api = await llm.async_get_api(hass, "eaio", _llm_context())
    listed = await api.async_call_tool(llm.ToolInput("eaio_autopilot", {}))
    assert listed["autopilot"] == [{"entity_id": switch, "name": hass.states.get(switch).name, "on": True}]  # type: ignore[union-attr]
    asked = await api.async_call_tool(
        llm.ToolInput("eaio_autopilot", {"entity_id": switch, "turn_on": False})
    )
    assert asked["needs_confirmation"] is True and hass.states.is_state(switch, "on")
    done = await api.async_call_tool(
        llm.ToolInput("eaio_autopilot", {"entity_id": switch, "turn_on": False, "confirm": True})
    )
    await hass.async_block_till_done()
    assert done["done"] is True and hass.states.is_state(switch, "off")

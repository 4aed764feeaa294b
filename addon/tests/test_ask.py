"""The add-on's own answers without a model: each question its own answer, a memory per conversation, apply only
after a yes (through Home Assistant's eaio.apply_recommendation), and "today" that follows the meter."""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any

from eaio_addon.agents import ask_intents
from eaio_addon.agents.ask_vocab import VOCAB
from eaio_addon.runtime import Runtime

from tests.agents_site import LOAD
from tests.helpers import wait_until
from tests.test_orchestrator_api import HomeAssistantWithConfig, _addon, _post

# The integration's translation files hold the words; the add-on's copy must say the same.
TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / "eaio" / "translations"


def test_the_words_are_the_integrations() -> None:
    import json

    for language in ask_intents.LANGUAGES:
        shipped = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))["assistant"]
        assert VOCAB[language] == {"vocab": shipped["vocab"], "subjects": shipped["subjects"]}, language


async def _ask(runtime: Runtime, base: str, question: str, conversation: str | None = None,
               history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if conversation is not None:
        body["conversation_id"] = conversation
    if history is not None:
        body["history"] = history
    status, answer = await _post(base + "/api/ask", body, runtime.api_token)
    assert status == 200, answer
    return dict(answer)


async def test_each_question_gets_its_own_answer(tmp_path: Path) -> None:
    async with _addon(tmp_path) as (runtime, _ha, base):
        status, run = await _post(base + "/api/optimize", {}, runtime.api_token)
        assert status in (200, 503) and run["recommendations"] >= 1, run
        recs = [r for r in await runtime.recommendations() if r.get("state", "open") == "open"]
        top = max(recs, key=lambda r: (r["estimated_savings_per_day"] * r.get("confidence", 0.5), r["id"]))
        questions = {
            "energy": "How much energy did we use today?",
            "forecast": "What's the forecast for tomorrow?",
            "recommendations": "What should I do to save energy?",
            "savings": "How much have we saved?",
            "devices": "Are all devices online?",
            "autopilot_status": "What is autopilot doing?",
            "act": "Turn down the heating a bit",
            "unknown": "Why is my bill so high?",
        }
        answers = {topic: await _ask(runtime, base, q) for topic, q in questions.items()}
        assert {t: a["topic"] for t, a in answers.items()} == {t: t for t in questions}
        texts = [a["answer"] for a in answers.values()]
        assert len(set(texts)) == len(texts), texts  # one canned paragraph for everything was the defect
        assert all(a["error"] == "llm_unavailable" for a in answers.values())
        assert answers["energy"]["answer"].startswith("Energy used today: ")
        assert answers["energy"]["sources"] == ["store"]
        assert answers["forecast"]["answer"].startswith("Forecast for tomorrow: about ")
        assert answers["recommendations"]["answer"].startswith(f"Top recommendation: {top['title']}")
        assert "Forecast" not in answers["recommendations"]["answer"]
        assert answers["savings"]["answer"].startswith("No savings are verified yet")
        assert answers["act"]["answer"].startswith("I can't do that from here")
        assert "not available" in answers["unknown"]["answer"]
        # German questions are recognised by the same words as the integration's.
        german = await _ask(runtime, base, "Wie viel Strom haben wir heute verbraucht?")
        assert german["topic"] == "energy"


async def test_why_and_apply_after_yes_in_one_conversation(tmp_path: Path) -> None:
    async with _addon(tmp_path) as (runtime, ha, base):
        applied: list[dict[str, Any]] = []
        ha.services[("eaio", "apply_recommendation")] = lambda data: applied.append(data)
        await _post(base + "/api/optimize", {}, runtime.api_token)
        recs = [r for r in await runtime.recommendations() if r.get("state", "open") == "open"]
        top = max(recs, key=lambda r: (r["estimated_savings_per_day"] * r.get("confidence", 0.5), r["id"]))
        chat = "conversation-1"
        await _ask(runtime, base, "Any recommendations?", chat)
        why = await _ask(runtime, base, "Why?", chat)
        assert why["answer"].startswith(f"Why “{top['title']}”: "), why
        assert all(reason in why["answer"] for reason in top.get("reasons") or [])
        # Another conversation has no pending proposal: its yes does nothing.
        proposal = await _ask(runtime, base, "Apply it", chat)
        assert proposal["answer"].startswith(f"Shall I apply “{top['title']}”?")
        assert (await _ask(runtime, base, "yes", "conversation-2"))["topic"] != "yes"
        assert applied == []
        done = await _ask(runtime, base, "yes", chat)
        assert done["answer"].startswith(f"Asked Home Assistant to apply “{top['title']}”")
        await wait_until(lambda: applied == [{"recommendation_id": top["id"]}], 10, "eaio.apply_recommendation")
        # A no cancels; a later yes finds nothing pending.
        await _ask(runtime, base, "Apply the top recommendation", chat)
        assert (await _ask(runtime, base, "no", chat))["answer"] == "All right, I left everything as it was."
        assert (await _ask(runtime, base, "yes", chat))["topic"] != "yes"
        assert len(applied) == 1


async def test_today_follows_the_meter(tmp_path: Path) -> None:
    async with _addon(tmp_path) as (runtime, ha, base):
        assert isinstance(ha, HomeAssistantWithConfig)
        await _post(base + "/api/optimize", {}, runtime.api_token)
        before = await runtime.energy_backend.energy_used_kwh("today", time.time())
        assert before is not None
        now = time.time()
        ha.set_state(LOAD, "9000", now, {"unit_of_measurement": "W", "device_class": "power",
                                          "state_class": "measurement"})

        async def counted() -> bool:
            used = await runtime.energy_backend.energy_used_kwh("today", now + 600)
            return used is not None and used[1] >= now - 1 and used[0] > before[0]

        # Ten minutes at 9 kW after the reading: the answer moves with the meter, not with the last run.
        await wait_until(counted, 10, "the new reading counted in today's energy")


async def test_with_a_model_numbers_no_tool_gave_are_not_passed_on(tmp_path: Path) -> None:
    from tests.ollama_server import ChatStep, Script, start_server

    model = "eaio-test:latest"
    # The model answers from memory twice (it ignores the request to call a tool), then, for the
    # second question, it calls the tool and words the answer.
    steps = [ChatStep(content="About 42.0 kWh tomorrow."), ChatStep(content="Still about 42.0 kWh."),
             ChatStep(tool_calls=[{"name": "energy_verified_savings", "arguments": {}}]),
             ChatStep(content="Nothing is verified yet.")]
    server = await start_server(Script(models=[model], chat=steps))
    try:
        async with _addon(tmp_path, ollama_url=server.url, model=model, light_model=model) as (runtime, _ha, base):

            async def llm_up() -> bool:
                return bool((await runtime.health())["llm"]["available"])

            await wait_until(llm_up, 10, "the LLM checked")
            invented = await _ask(runtime, base, "What's the forecast for tomorrow?", "c1",
                                  [{"question": "Hello", "answer": "Hi, I am EAIO."}])
            # Answered without the model, from the data, and said so.
            assert invented["error"] == "llm_unavailable" and "42" not in invented["answer"], invented
            asked = server.chat_requests()[0]["messages"]
            assert asked[1:3] == [{"role": "user", "content": "Hello"},
                                  {"role": "assistant", "content": "Hi, I am EAIO."}]  # the model saw the turns
            worded = await _ask(runtime, base, "How much have we saved?", "c1")
            assert worded["answer"] == "Nothing is verified yet." and "error" not in worded
            assert "tool:energy_verified_savings" in worded["sources"]
    finally:
        await server.stop()


async def test_what_autopilot_does_comes_from_the_integration(tmp_path: Path) -> None:
    async with _addon(tmp_path) as (runtime, ha, base):
        await _post(base + "/api/optimize", {}, runtime.api_token)
        unknown = await _ask(runtime, base, "What is autopilot doing?")
        assert unknown["answer"].startswith("I cannot tell what autopilot does")  # an integration without the list
        ha.commands["eaio/controllables"] = lambda msg: [
            {"id": "c1", "name": "Home battery", "plan_key": "battery", "kind": "battery", "autopilot": True,
             "dry_run": False, "state": "following", "paused_until": None},
            {"id": "c2", "name": "Dishwasher", "plan_key": "dishwasher", "kind": "appliance", "autopilot": False,
             "dry_run": False, "state": "paused", "paused_until": "2026-12-06T18:00:00+01:00"}]
        answer = await _ask(runtime, base, "Was macht der Autopilot?")
        assert answer["answer"] == ("Autopilot — Home battery: autopilot on, following the plan; Dishwasher: "
                                    "autopilot off, paused by a manual change until 2026-12-06T18:00:00+01:00.")
        ha.commands["eaio/controllables"] = lambda msg: []
        assert (await _ask(runtime, base, "Is autopilot on?"))["answer"].startswith("No controllable is declared")

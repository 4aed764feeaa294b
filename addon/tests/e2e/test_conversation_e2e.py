"""End to end: asking Home Assistant's conversation API, answered by the add-on or, when it is away, locally.

A real Home Assistant with EAIO, the add-on standalone with the Ollama test server as its language
model, linked through the integration's manual add-on path. One optimization runs over four weeks of
a synthetic building's history (written to the add-on's store before it starts: a few minutes of
live history is too short for the agents); its recommendations appear as sensors in Home Assistant.
The model ranks and words the recommendations (its structured reply, numbers checked against the
engine's). The question "what should I do to save energy?" asked through ``/api/conversation/process`` to EAIO's
agent is answered by the add-on (the test model's words, with the top recommendation cited); with
the add-on stopped, the same question gets the integration's own answer from its stored
recommendations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import dataclasses
import json
from typing import Any

from eaio_addon.cli import build_settings
from eaio_addon.runtime import Runtime
from eaio_addon.store import DB_FILE, StoreDb
import pytest
import pytest_asyncio
import yaml

from tests.agents_site import METAS, fill, hour_now
from tests.e2e.conftest import HomeAssistant
from tests.helpers import wait_until
from tests.ollama_server import OllamaTestServer, Script, start_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODEL = "eaio-test:latest"
QUESTION = "what should I do to save energy?"
TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]
# The model's ranking and wording of the building's three candidates (the strategy agent's structured ask).
ALWAYS_ON_TEXT = "Something new runs day and night: 0.30 kW above your usual base load."
STRUCTURED = {"ranking": ["always-on", "precool-number.hvac_cooling_setpoint", "off_empty-light.living_room"],
              "descriptions": [{"key": "always-on", "text": ALWAYS_ON_TEXT}]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ollama() -> AsyncIterator[OllamaTestServer]:
    server = await start_server(Script(models=[MODEL], structured=STRUCTURED))
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def addon(home_assistant: HomeAssistant, ollama: OllamaTestServer,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    """The add-on with the building's history in its store, its LLM the Ollama test server."""
    for meta in METAS:  # the building's entities exist in Home Assistant, as the options list them
        attributes = {k: v for k, v in (("state_class", meta.state_class), ("unit_of_measurement", meta.unit),
                                        ("device_class", meta.device_class)) if v}
        await home_assistant.set_state(meta.entity_id, "0", attributes)
    data = tmp_path_factory.mktemp("addon-conversation")
    db = StoreDb(data / DB_FILE)
    fill(db, hour_now())
    db.close()
    options = data / "options.yaml"
    options.write_text(yaml.safe_dump({
        "entities": [m.entity_id for m in METAS], "backfill_days": 0, "tariff": TARIFF, "comfort_min": 22.0,
        "comfort_max": 25.0, "optimize_every_minutes": 0, "ollama_url": ollama.url, "model": MODEL,
        "light_model": MODEL}))
    settings = build_settings(["--ha-url", home_assistant.url, "--data-dir", str(data), "--options", str(options),
                               "--port", "0"], {"EAIO_HA_TOKEN": home_assistant.token})
    runtime = Runtime(dataclasses.replace(settings, recorder_lag=0.0, reconnect_cap=2.0, registry_debounce=0.5))
    await runtime.start()
    try:
        await wait_until(lambda: _connected(runtime), 60, "the add-on connected to Home Assistant")
        yield runtime
    finally:
        await runtime.stop()  # a second stop (the test stops it too) is harmless


async def _connected(runtime: Runtime) -> bool:
    health = await runtime.health()
    return health["ha_link"] == "connected" and runtime.collector.backfill.state == "done"


async def _eaio_entities(ha: HomeAssistant) -> list[str]:
    ids = await ha.api.call("POST", "/api/template",
                            json_body={"template": "{{ integration_entities('eaio') | list | to_json }}"})
    return sorted(json.loads(ids))


async def _summary(ha: HomeAssistant) -> dict[str, Any] | None:
    """The link's open-recommendations sensor (its attributes name the top one)."""
    for state in await ha.api.call("GET", "/api/states"):
        if state["entity_id"].startswith("sensor.") and "top_title" in state["attributes"]:
            return dict(state)
    return None


async def _ask(ha: HomeAssistant, agent_id: str) -> str:
    answer = await ha.api.call("POST", "/api/conversation/process", json_body={"text": QUESTION, "agent_id": agent_id})
    assert answer["response"]["response_type"] == "action_done", answer
    return str(answer["response"]["speech"]["plain"]["speech"])


async def test_ask_through_home_assistant_answered_by_the_addon_then_locally(
        home_assistant: HomeAssistant, addon: Runtime, ollama: OllamaTestServer) -> None:
    ha = home_assistant
    result = await ha.api.call("POST", "/api/config/config_entries/flow", json_body={"handler": "eaio"})
    flow = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        result = await ha.api.call("POST", flow, json_body={"next_step_id": "addon"})
    assert result["type"] == "form" and result["step_id"] == "addon", result
    entry = await ha.api.call("POST", flow, json_body={"url": f"http://127.0.0.1:{addon.port}",
                                                       "token": addon.api_token})
    assert entry["type"] == "create_entry", entry

    async def llm_up() -> bool:
        return bool((await addon.health())["llm"]["available"])

    await wait_until(llm_up, 30, "the add-on found the test model")
    # The run over HTTP, as the integration's service makes it.
    async with ha.api.session.post(f"http://127.0.0.1:{addon.port}/api/optimize", json={},
                                   headers={"Authorization": f"Bearer {addon.api_token}"}) as resp:
        assert resp.status == 200, await resp.text()
        run = await resp.json()
    # Every step delivers: the building's outdoor sensor with four weeks of history is the weather station,
    # not the simulated air handler's, which Home Assistant has had for minutes.
    assert run["status"] == "ok" and run["recommendations"] >= 1, run
    assert run["explained_by"] == f"llm:{MODEL}", run  # ranked and worded by the model
    recs = [r for r in await addon.recommendations() if r.get("state", "open") == "open"]
    assert recs, "the run over four weeks of history made no recommendation"

    async def all_in_home_assistant() -> bool:
        summary = await _summary(ha)
        return summary is not None and summary["state"] == str(len(recs))

    await wait_until(all_in_home_assistant, 60, "the recommendations as sensors in Home Assistant")
    summary = await _summary(ha)
    assert summary is not None
    top = summary["attributes"]["top"]
    assert sorted(summary["attributes"]["ids"]) == sorted(r["id"] for r in recs)
    assert top["title"] == summary["attributes"]["top_title"] and top["title"] in {r["title"] for r in recs}
    # The model's first is Home Assistant's top, with the model's words (its numbers are the engine's).
    assert top["id"] == "load-always-on" and top["description"] == ALWAYS_ON_TEXT, top

    conversation = [e for e in await _eaio_entities(ha) if e.startswith("conversation.")]
    assert len(conversation) == 1, await _eaio_entities(ha)
    asked_before = len(ollama.chat_requests())
    spoken = await _ask(ha, conversation[0])
    # The add-on answered: the test model's words (it was asked the question), the top recommendation cited.
    assert spoken.startswith(f'Test model answer to: "{QUESTION}"'), spoken
    assert top["title"] in spoken, spoken
    assert len(ollama.chat_requests()) > asked_before
    assert any(m.get("role") == "user" and m.get("content") == QUESTION for m in ollama.chat_requests()[-1]["messages"])

    await addon.stop()
    asked_before = len(ollama.chat_requests())
    spoken = await _ask(ha, conversation[0])
    # The integration's own answer, from the recommendations it stored: the same top one, its numbers.
    expected = (f"Top recommendation: {top['title']} (about {top['estimated_savings_kwh_per_day']:.1f} kWh, "
                f"{top['estimated_savings_per_day']:.2f} ")
    assert spoken.startswith(expected), spoken
    assert "Test model" not in spoken
    assert len(ollama.chat_requests()) == asked_before  # the model was not asked: the add-on is away

"""The agents inside the running add-on: /api/optimize and /api/ask over HTTP, outcomes from Home Assistant's
events, apply through the outbox, and what the page plots."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
import re
from typing import Any

import aiohttp
from aiohttp import web
from eaio_addon.agents.swarm import ASSISTANT_TOOLS
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from eaio_addon.store import DB_FILE, StoreDb
import pytest

from tests.agents_site import LOCATION, METAS, fill, hour_now
from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until
from tests.ollama_server import OllamaTestServer, Script, start_server

MODEL = "eaio-test:latest"
TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]


class HomeAssistantWithConfig(FakeHomeAssistant):
    """The local Home Assistant websocket server, also answering ``get_config`` (where the site is)."""

    async def _handle(self, ws: web.WebSocketResponse, subscriptions: dict[int, str], msg: dict[str, Any]) -> None:
        if msg["type"] == "get_config":
            self.received.append(msg)
            await ws.send_json({"id": msg["id"], "type": "result", "success": True, "result": {
                "latitude": LOCATION.latitude, "longitude": LOCATION.longitude, "time_zone": LOCATION.tz}})
            return
        await super()._handle(ws, subscriptions, msg)


@pytest.fixture
async def addon(tmp_path: Path) -> AsyncIterator[tuple[Runtime, HomeAssistantWithConfig, str]]:
    async with _addon(tmp_path) as started:
        yield started


@contextlib.asynccontextmanager
async def _addon(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[Runtime, HomeAssistantWithConfig, str]]:
    db = StoreDb(tmp_path / DB_FILE)
    fill(db, hour_now())
    db.close()
    ha = HomeAssistantWithConfig()
    for meta in METAS:
        ha.states[meta.entity_id] = {"entity_id": meta.entity_id, "state": "0", "last_changed": "", "last_updated": "",
                                     "attributes": {k: v for k, v in (("state_class", meta.state_class),
                                                                       ("unit_of_measurement", meta.unit),
                                                                       ("device_class", meta.device_class)) if v}}
    submitted: list[dict[str, Any]] = []

    def submit(data: dict[str, Any]) -> dict[str, Any]:
        submitted.append(data)
        return {"accepted": [r["id"] for r in data["recommendations"]], "refused": []}

    ha.services[("eaio", "submit_recommendations")] = submit
    ha.services[("eaio", "apply_recommendation")] = lambda data: None
    ha.submitted = submitted  # type: ignore[attr-defined]
    await ha.start()
    options = parse_options({"entities": [m.entity_id for m in METAS], "backfill_days": 0, "tariff": TARIFF,
                             "comfort_min": 22.0, "comfort_max": 25.0, "optimize_every_minutes": 0, **options})
    runtime = Runtime(Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                               ha_token="good-token", data_dir=tmp_path, options=options, host="127.0.0.1", port=0,
                               reconnect_cap=0.2, recorder_lag=0.0, registry_debounce=0.05))
    await runtime.start()
    await wait_until(lambda: runtime.collector.backfill.state == "done" and runtime.link.connected)
    yield runtime, ha, f"http://127.0.0.1:{runtime.port}"
    await runtime.stop()
    await ha.stop()


async def _post(url: str, body: Any, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def test_optimize_over_http_pushes_recommendations_and_ask_cites_the_top_one(
        addon: tuple[Runtime, HomeAssistantWithConfig, str]) -> None:
    runtime, ha, base = addon
    status, body = await _post(base + "/api/optimize", {}, runtime.api_token)
    assert status == 200, body
    assert body["status"] == "ok" and body["missing"] == [] and body["recommendations"] == 3
    assert len(body["run_id"]) == 32 and body["duration_s"] > 0
    submitted: list[dict[str, Any]] = ha.submitted  # type: ignore[attr-defined]
    await wait_until(lambda: len(submitted) == 1, 10, "the push to eaio.submit_recommendations")
    recs = {r["id"]: r for r in submitted[0]["recommendations"]}
    assert submitted[0]["replace"] is True
    assert recs["load-always-on"]["estimated_savings_kwh_per_day"] == pytest.approx(7.2, abs=0.3)
    assert {r["category"] for r in recs.values()} == {"hvac", "lighting", "load"}

    status, answer = await _post(base + "/api/ask", {"question": "What should I do to save energy?"},
                                 runtime.api_token)
    assert status == 200 and answer["error"] == "llm_unavailable"
    # The question asked, answered without a model: the top recommendation, not a paragraph of everything.
    assert answer["answer"].startswith("Top recommendation: Cut always-on load by 0.30 kW")
    assert answer["sources"] == ["last_run", "recommendation:load-always-on"]
    assert "Forecast for tomorrow" not in answer["answer"]

    facts = await runtime.page_facts()
    plots = facts["plots"]
    assert set(plots) == {"forecast", "plan", "recommendations"}
    assert len(plots["forecast"]["times"]) == 72 and len(plots["plan"]["soc_kwh"]) == 48
    drawn = {r["id"]: r for r in plots["recommendations"]}
    assert set(drawn) == set(recs)
    assert set(drawn["load-always-on"]) == {"id", "title", "category", "estimated_savings_kwh_per_day",
                                            "estimated_savings_per_day", "verified_savings_kwh", "state"}
    assert drawn["load-always-on"]["state"] == "open" and drawn["load-always-on"]["verified_savings_kwh"] is None
    health = await runtime.health()
    assert health["llm"]["available"] is False
    assert health["agents"]["last_run"]["status"] == "ok" and health["agents"]["last_run"]["trigger"] == "api"
    assert health["agents"]["agents"]["forecast"]["runs"] == 1 and health["agents"]["agents"]["hvac"]["failures"] == 0


async def test_dismissals_from_home_assistant_and_apply_through_the_outbox(
        addon: tuple[Runtime, HomeAssistantWithConfig, str]) -> None:
    runtime, ha, base = addon
    status, body = await _post(base + "/api/optimize", {}, runtime.api_token)
    assert status == 200 and body["recommendations"] == 3
    load = next(r for r in await runtime.recommendations() if r["id"] == "load-always-on")
    for _ in range(2):
        ha.fire({"event_type": "eaio_recommendation", "data": {"type": "dismissed", "config_entry_id": "e", **load}})

    async def dismissed_twice() -> bool:
        return await runtime.energy_backend.memory.suppressed(load)

    await wait_until(dismissed_twice, 10, "both dismissals recorded")
    status, body = await _post(base + "/api/optimize", {}, runtime.api_token)
    assert status == 200 and body["recommendations"] == 2 and body["suppressed"] == ["load-always-on"]

    hvac_id = next(r["id"] for r in await runtime.recommendations() if r["category"] == "hvac")
    queued = await runtime.energy_backend.apply_recommendation(hvac_id)
    assert queued["service"] == "eaio.apply_recommendation"
    await wait_until(lambda: any(m.get("service") == "apply_recommendation" for m in ha.received), 10,
                     "the apply call in Home Assistant")
    call = next(m for m in ha.received if m.get("service") == "apply_recommendation")
    assert call["service_data"] == {"recommendation_id": hvac_id}
    with pytest.raises(LookupError, match="no open recommendation 'nope'"):
        await runtime.energy_backend.dismiss_recommendation("nope")
    history = await runtime.energy_backend.history("sensor.house_power", 24)
    assert history["unit"] == "W" and len(history["hours"]) == 24 and all(h["mean"] > 300 for h in history["hours"])
    with pytest.raises(LookupError, match=r"no history for sensor\.nothing"):
        await runtime.energy_backend.history("sensor.nothing", 24)
    with pytest.raises(ValueError, match="hours must be"):
        await runtime.energy_backend.history("sensor.house_power", 0)
    state = await runtime.energy_backend.status()
    assert state["last_run"]["recommendations"] == 2 and state["open_recommendations"] == 2
    assert state["energy_today_kwh"] is not None and state["energy_today_kwh"] >= 0
    listed = {r["id"]: r for r in await runtime.energy_backend.recommendations()}
    assert set(listed) == {r["id"] for r in await runtime.recommendations()}
    assert all(r["state"] == "open" for r in listed.values())
    forecast = await runtime.energy_backend.forecast(24)
    assert len(forecast["p50"]) == 24 and forecast["total_kwh_p50"] == pytest.approx(sum(forecast["p50"]), abs=0.05)


@pytest.fixture
async def ollama() -> AsyncIterator[OllamaTestServer]:
    server = await start_server(Script(models=[MODEL], structured={
        "ranking": ["precool-number.hvac_cooling_setpoint", "always-on", "off_empty-light.living_room"],
        "descriptions": [
            {"key": "always-on", "text": "Something new runs day and night: 0.30 kW above your usual base load."},
            {"key": "off_empty-light.living_room", "text": "The living room light stays on for 42 hours."},
        ]}))
    yield server
    await server.stop()


async def test_with_the_language_model_it_words_the_recommendations_and_answers(
        tmp_path: Path, ollama: OllamaTestServer) -> None:
    async with _addon(tmp_path, ollama_url=ollama.url, model=MODEL, light_model=MODEL) as (runtime, _ha, base):

        async def llm_up() -> bool:
            return bool((await runtime.health())["llm"]["available"])

        await wait_until(llm_up, 10, "the LLM checked")
        status, body = await _post(base + "/api/optimize", {}, runtime.api_token)
        assert status == 200 and body["status"] == "ok" and body["explained_by"] == f"llm:{MODEL}"
        recs = await runtime.recommendations()
        # The model's ranking is the order pushed; its wording is kept only where its numbers are the engine's.
        assert recs[0]["id"] == "hvac-precool-number.hvac_cooling_setpoint"
        by_id = {r["id"]: r for r in recs}
        assert by_id["load-always-on"]["description"].startswith("Something new runs day and night: 0.30 kW")
        light = by_id["lighting-off_empty-light.living_room"]["description"]
        # "tomorrow" when the run is past today's 08:00 (the run's clock is the machine's here).
        assert "42" not in light and re.match(r"Lights off (tomorrow )?08:00-17:00", light), light
        assert by_id["load-always-on"]["estimated_savings_kwh_per_day"] == pytest.approx(7.2, abs=0.3)

        status, answer = await _post(base + "/api/ask", {"question": "What should I do to save energy?"},
                                     runtime.api_token)
        assert status == 200 and "error" not in answer
        assert answer["answer"].startswith('Test model answer to: "What should I do to save energy?"')
        assert "Top recommendation: Cut always-on load by 0.30 kW" in answer["answer"]
        assert answer["sources"][0] == f"llm:{MODEL}" and "recommendation:load-always-on" in answer["sources"]
        asked = ollama.chat_requests()[-1]
        assert "Cut always-on load by 0.30 kW" in asked["messages"][0]["content"]  # the engine's facts go in
        # The model gets the reading tools only, a short list (writes stay with clients that ask for them).
        assert sorted(t["function"]["name"] for t in asked["tools"]) == sorted(ASSISTANT_TOOLS)

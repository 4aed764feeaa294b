"""The running add-on against a local Home Assistant websocket server: backfill, live, outbox, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import itertools
from pathlib import Path
import time
from typing import Any

from eaio_addon.ha_link import LinkState
from eaio_addon.ingress_page import render_page
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from eaio_addon.store import StoreDb
import pytest

from tests.fake_ha import FakeHomeAssistant, ServiceError
from tests.helpers import wait_until

DAY = 86400.0
EAIO_POWER = "sensor.eaio_hvac_power"
OUTDOOR = "sensor.outdoor_temperature"
OTHER = "sensor.not_learned"


def _settings(ha: FakeHomeAssistant, data_dir: Path, **options: Any) -> Settings:
    return Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket", ha_token="good-token",
                    data_dir=data_dir, options=parse_options({"entities": [OUTDOOR], "backfill_days": 2, **options}),
                    host="127.0.0.1", port=0, reconnect_cap=0.2, recorder_lag=0.0, registry_debounce=0.05)


@pytest.fixture
def start_runtime(ha: FakeHomeAssistant, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    runtimes: list[Runtime] = []

    async def start(**options: Any) -> Runtime:
        runtime = Runtime(_settings(ha, tmp_path / "data", **options))
        await runtime.start()
        runtimes.append(runtime)
        return runtime

    async def cleanup() -> None:
        for runtime in runtimes:
            await runtime.stop()

    start.cleanup = cleanup  # type: ignore[attr-defined]
    return start  # type: ignore[return-value]


@pytest.fixture
async def runtimes(start_runtime: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    yield start_runtime
    await start_runtime.cleanup()  # type: ignore[attr-defined]


def _history(ha: FakeHomeAssistant, now: float) -> None:
    """Three days of five-minute states for two learned entities and one that is not learned."""
    ha.registry = [{"entity_id": EAIO_POWER, "platform": "eaio", "disabled_by": None},
                   {"entity_id": "sensor.eaio_disabled", "platform": "eaio", "disabled_by": "user"},
                   {"entity_id": OTHER, "platform": "demo", "disabled_by": None}]
    for entity_id, attributes in ((EAIO_POWER, {"state_class": "measurement", "unit_of_measurement": "W"}),
                                  (OUTDOOR, {"unit_of_measurement": "°C"}), (OTHER, {})):
        ts = now - 3 * DAY
        i = 0
        while ts < now - 60:
            ha.history.setdefault(entity_id, []).append((ts, "unavailable" if i % 97 == 0 else str(100 + i % 50)))
            ts += 300
            i += 1
        ha.states[entity_id] = {"entity_id": entity_id, "state": ha.history[entity_id][-1][1], "attributes": attributes,
                                "last_changed": "", "last_updated": ""}


async def _stored(runtime: Runtime, entity_id: str, start: float = 0, end: float = 1e12) -> list[tuple[float, str]]:
    rows = await runtime.store.call(StoreDb.readings_between, entity_id, start, end)
    return [(r.ts, r.state if r.value is None else f"{r.value:g}") for r in rows]


async def test_backfill_then_live(ha: FakeHomeAssistant, runtimes: Callable[..., Any]) -> None:
    now = time.time()
    _history(ha, now)
    runtime: Runtime = await runtimes()
    await wait_until(lambda: runtime.collector.backfill.state == "done", what="backfill done")
    horizon = now - 2 * DAY
    for entity_id in (EAIO_POWER, OUTDOOR):
        expected = [(round(ts, 6), s) for ts, s in ha.history[entity_id] if ts >= horizon - 1]
        stored = await _stored(runtime, entity_id)
        assert stored == [(ts, s) for ts, s in expected if ts >= stored[0][0]]
        assert abs(stored[0][0] - horizon) <= 300.001
    assert await _stored(runtime, OTHER) == []
    assert await _stored(runtime, "sensor.eaio_disabled") == []
    health = await runtime.health()
    assert health["backfill"] == {"state": "done", "progress": 100.0, "entities": 2}
    assert health["ha_link"] == "connected" and health["status"] == "ok"
    entities = {e.entity_id: e for e in await runtime.store.call(StoreDb.entities)}
    assert entities[EAIO_POWER].source == "eaio" and entities[EAIO_POWER].unit == "W"
    assert entities[OUTDOOR].source == "option"

    # Live: a learned entity's change is stored; others, and attribute-only changes, are not.
    before = health["store"]["readings"]
    ha.set_state(OUTDOOR, "7.5", time.time())
    ha.set_state(OTHER, "1", time.time())
    ha.set_state(OUTDOOR, "7.5", time.time(), {"unit_of_measurement": "°C", "friendly_name": "renamed"})
    await wait_until(lambda: runtime.collector.live_readings == 1)
    assert (await _stored(runtime, OUTDOOR))[-1][1] == "7.5"
    assert (await runtime.health())["store"]["readings"] == before + 1


async def test_an_interrupted_backfill_resumes_without_fetching_twice(ha: FakeHomeAssistant,
                                                                      runtimes: Callable[..., Any]) -> None:
    now = time.time()
    _history(ha, now)
    original = ha._handle
    history_calls = 0

    async def drop_second_chunk(ws: Any, subs: Any, msg: dict[str, Any]) -> None:
        nonlocal history_calls
        if msg["type"] == "history/history_during_period":
            history_calls += 1
            if history_calls == 2:
                await ws.close()  # Home Assistant goes away in the middle of the backfill
                return
        await original(ws, subs, msg)

    ha._handle = drop_second_chunk  # type: ignore[method-assign]
    runtime: Runtime = await runtimes()
    await wait_until(lambda: runtime.link.connects >= 2 and runtime.collector.backfill.state == "done", 15,
                     "reconnected and backfill done")
    answered = sorted(ha.history_requests)
    for (_, end_a, _), (start_b, _, _) in itertools.pairwise(answered):
        assert start_b >= end_a - 0.01, "a stretch was fetched twice"
    expected = [(round(ts, 6), s) for ts, s in ha.history[EAIO_POWER] if ts > answered[0][0]]
    assert await _stored(runtime, EAIO_POWER) == expected

    # A restart of the add-on later fetches only what is new since.
    await runtime.stop()
    ha.history_requests.clear()
    ha._handle = original  # type: ignore[method-assign]
    later = time.time()
    ha.history[EAIO_POWER].append((later, "321"))
    runtime = await runtimes()
    await wait_until(lambda: runtime.collector.backfill.state == "done" and bool(ha.history_requests))
    assert min(start for start, _, _ in ha.history_requests) > now - 60
    assert (await _stored(runtime, EAIO_POWER))[-1] == (round(later, 6), "321")


async def test_new_eaio_entities_are_learned_and_backfilled(ha: FakeHomeAssistant,
                                                            runtimes: Callable[..., Any]) -> None:
    now = time.time()
    _history(ha, now)
    runtime: Runtime = await runtimes()
    await wait_until(lambda: runtime.collector.backfill.state == "done")
    new = "sensor.eaio_new_meter"
    ha.history[new] = [(now - DAY, "5"), (now - 100, "6")]
    ha.states[new] = {"entity_id": new, "state": "6", "attributes": {"state_class": "total_increasing"}}
    ha.registry.append({"entity_id": new, "platform": "eaio", "disabled_by": None})
    ha.fire({"event_type": "entity_registry_updated", "data": {"action": "create", "entity_id": new}})
    await wait_until(lambda: new in runtime.collector.learned)
    await wait_until(lambda: _has(runtime, new, 2), what="the new entity's history")
    ha.set_state(new, "7", time.time())
    await wait_until(lambda: _has(runtime, new, 3), what="the new entity's live state")


async def test_the_battery_sensor_is_learned_like_the_option_entities(ha: FakeHomeAssistant,
                                                                     runtimes: Callable[..., Any]) -> None:
    now = time.time()
    _history(ha, now)  # OTHER is neither EAIO's nor in the option entities: here it is the battery's sensor
    runtime: Runtime = await runtimes(battery={"capacity_kwh": 10, "max_power_kw": 5, "soc_entity": OTHER})
    await wait_until(lambda: runtime.collector.backfill.state == "done", what="backfill done")
    assert OTHER in runtime.collector.learned
    entities = {e.entity_id: e for e in await runtime.store.call(StoreDb.entities)}
    assert entities[OTHER].source == "option"
    assert await _stored(runtime, OTHER)  # its history, for the plan's state of charge
    ha.set_state(OTHER, "55", time.time())
    await wait_until(lambda: runtime.collector.live_readings >= 1, what="the sensor's live state")
    assert (await _stored(runtime, OTHER))[-1][1] == "55"


async def _has(runtime: Runtime, entity_id: str, n: int) -> bool:
    return len(await _stored(runtime, entity_id)) >= n


def _recommendation(rec_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": rec_id, "category": "hvac", "title": f"Recommendation {rec_id}", "action": {"type": "none"},
            "confidence": 0.8, **extra}


async def test_outbox_waits_for_the_service_and_keeps_order(ha: FakeHomeAssistant,
                                                            runtimes: Callable[..., Any]) -> None:
    runtime: Runtime = await runtimes(backfill_days=0)
    await runtime.link.wait_connected()
    item = await runtime.submit_recommendations([_recommendation("a")])
    # The integration is still loading: not_found; the push waits and says why.
    await wait_until(lambda: _head_error(runtime), what="a recorded not_found")
    health = await runtime.health()
    assert health["status"] == "degraded" and "not found" in " ".join(health["problems"])
    assert health["store"]["outbox_pending"] == 1

    calls: list[list[str]] = []

    def submit(data: dict[str, Any]) -> dict[str, Any]:
        ids = [r["id"] for r in data["recommendations"]]
        if "bad" in ids:
            raise ServiceError("invalid_format", "extra keys not allowed @ data['nonsense']")
        calls.append(ids)
        return {"accepted": ids, "refused": []}

    ha.services[("eaio", "submit_recommendations")] = submit
    await wait_until(lambda: calls == [["a"]], 10, "delivered after the service appeared")
    delivered = await runtime.store.call(StoreDb.outbox_item, item.id)
    assert delivered is not None and delivered.state == "delivered" and delivered.response["accepted"] == ["a"]

    # Home Assistant away: pushes wait in order, a malformed one is dropped, none is lost.
    port = ha.port
    await ha.stop()
    await wait_until(lambda: runtime.link.state is LinkState.CONNECTING)
    for rec_id in ("b1", "bad", "b2", "b3"):
        await runtime.submit_recommendations([_recommendation(rec_id)], replace=False)
    health = await runtime.health()
    assert health["ha_link"] == "connecting" and health["store"]["outbox_pending"] == 4
    await ha.start(port)
    await wait_until(lambda: len(calls) == 4, 10, "all delivered after the restart")
    assert calls == [["a"], ["b1"], ["b2"], ["b3"]]
    counts = await runtime.store.call(StoreDb.counts)
    assert (counts.outbox_pending, counts.outbox_delivered, counts.outbox_failed) == (0, 4, 1)
    assert [r["id"] for r in await runtime.recommendations()] == ["a", "b1", "bad", "b2", "b3"]


async def _head_error(runtime: Runtime) -> bool:
    head = await runtime.store.call(StoreDb.outbox_head)
    return head is not None and bool(head.last_error) and "not_found" in head.last_error


async def test_pushes_survive_a_restart_of_the_addon(ha: FakeHomeAssistant, runtimes: Callable[..., Any]) -> None:
    port = ha.port
    await ha.stop()
    runtime: Runtime = await runtimes(backfill_days=0)
    for rec_id in ("x", "y"):
        await runtime.submit_recommendations([_recommendation(rec_id)], replace=False)
    await runtime.stop()

    calls: list[str] = []
    ha.services[("eaio", "submit_recommendations")] = lambda d: calls.extend(r["id"] for r in d["recommendations"])
    await ha.start(port)
    runtime = await runtimes(backfill_days=0)
    await wait_until(lambda: calls == ["x", "y"], 10, "delivered by the next run")


async def test_submit_checks_what_the_outbox_needs(ha: FakeHomeAssistant, runtimes: Callable[..., Any]) -> None:
    runtime: Runtime = await runtimes(backfill_days=0)
    with pytest.raises(ValueError, match="no 'id'"):
        await runtime.submit_recommendations([{"title": "no id"}])
    with pytest.raises(ValueError, match="twice"):
        await runtime.submit_recommendations([_recommendation("a"), _recommendation("a")])
    with pytest.raises(TypeError):
        await runtime.submit_recommendations([_recommendation("a", when=object())])
    assert (await runtime.store.call(StoreDb.counts)).outbox_pending == 0


async def test_a_refused_token_shows_in_health(ha: FakeHomeAssistant, tmp_path: Path) -> None:
    settings = _settings(ha, tmp_path)
    runtime = Runtime(Settings(**{**settings.__dict__, "ha_token": "wrong"}))
    await runtime.start()
    try:
        await wait_until(lambda: runtime.link.state is LinkState.AUTH_FAILED)
        health = await runtime.health()
        assert health["ha_link"] == "auth_failed" and health["status"] == "degraded"
        assert "refused the token" in health["problems"][0]
    finally:
        await runtime.stop()


async def test_eaios_own_output_entities_are_not_learned(ha: FakeHomeAssistant, runtimes: Callable[..., Any]) -> None:
    now = time.time()
    _history(ha, now)
    ha.config_entries = [{"entry_id": "link", "domain": "eaio", "title": "EAIO add-on", "state": "loaded",
                          "data": {"source_type": "addon"}},
                         {"entry_id": "meter", "domain": "eaio", "title": "Meter", "state": "loaded",
                          "data": {"source_type": "modbus"}}]
    outputs = {
        "sensor.eaio_open_recommendations": {"unique_id": "addon_open_recommendations", "config_entry_id": "link"},
        "sensor.eaio_estimated_savings": {"unique_id": "addon_savings", "config_entry_id": "link"},
        "sensor.eaio_battery_plan": {"unique_id": "1f2e_plan_battery_power", "config_entry_id": "link"},
        "conversation.eaio_assistant": {"unique_id": "addon_assistant", "config_entry_id": "link"},
    }
    ha.registry[0].update({"unique_id": "modbus_4b1d_total_power", "config_entry_id": "meter"})
    for entity_id, extra in outputs.items():
        ha.registry.append({"entity_id": entity_id, "platform": "eaio", "disabled_by": None, **extra})
        ha.history[entity_id] = [(now - 3600, "3")]
        ha.states[entity_id] = {"entity_id": entity_id, "state": "3", "attributes": {"state_class": "measurement"}}
    # Listed in the options by mistake: still not learned from.
    runtime: Runtime = await runtimes(entities=[OUTDOOR, "sensor.eaio_estimated_savings"])
    await wait_until(lambda: runtime.collector.backfill.state == "done", what="backfill done")
    assert runtime.collector.learned == {EAIO_POWER, OUTDOOR}
    stored = {e.entity_id for e in await runtime.store.call(StoreDb.entities)}
    assert stored == {EAIO_POWER, OUTDOOR}
    for entity_id in outputs:
        assert await _stored(runtime, entity_id) == []
    ha.set_state("sensor.eaio_open_recommendations", "4", time.time())
    ha.set_state(OUTDOOR, "8", time.time())
    await wait_until(lambda: runtime.collector.live_readings == 1)
    assert await _stored(runtime, "sensor.eaio_open_recommendations") == []


class HomeAssistantInBerlin(FakeHomeAssistant):
    """Home Assistant set to Europe/Berlin and euros: what the add-on's page must read in."""

    async def _handle(self, ws: Any, subscriptions: dict[int, str], msg: dict[str, Any]) -> None:
        if msg["type"] == "get_config":
            await ws.send_json({"id": msg["id"], "type": "result", "success": True, "result": {
                "latitude": 52.5, "longitude": 13.4, "time_zone": "Europe/Berlin", "currency": "EUR"}})
            return
        await super()._handle(ws, subscriptions, msg)


async def test_the_page_learns_home_assistants_zone_and_currency(tmp_path: Path) -> None:
    berlin = HomeAssistantInBerlin()
    await berlin.start()
    runtime = Runtime(_settings(berlin, tmp_path / "data", backfill_days=0))
    await runtime.start()
    try:
        await wait_until(lambda: runtime.ha_config.get("currency") == "EUR", what="the configuration read")
        facts = await runtime.page_facts()
        assert (facts["time_zone"], facts["currency"]) == ("Europe/Berlin", "EUR")
        page = render_page(facts)
        assert "Europe/Berlin" in page and " UTC<" not in page
    finally:
        await runtime.stop()
        await berlin.stop()

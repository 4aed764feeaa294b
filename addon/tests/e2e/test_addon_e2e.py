"""End to end: a real Home Assistant with EAIO and the simulated building, the add-on standalone.

Shown, in order (the tests share one Home Assistant and one add-on, so they run in this order):
history backfill, live state changes reaching the store (with their latency), the add-on set up
in the integration, a recommendation submitted by the add-on appearing as sensor state and event,
a Home Assistant restart during which the add-on's pushes wait in the outbox and all arrive
afterwards, an automation applying a recommendation through the bounded write path, a dismissal,
a recommendation with an unknown target refused on apply, wrong or missing tokens refused by the
add-on's API, and bad input (a refused token, malformed options) against the real command line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import dataclasses
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
from eaio_addon.cli import EXIT_CONFIG, build_settings
from eaio_addon.ha_link import LinkState
from eaio_addon.runtime import Runtime
from eaio_addon.store import Reading, StoreDb
import pytest
import pytest_asyncio

from eaio_sim.hass_process import import_statistics, wait_statistics
from tests.e2e.conftest import AUTOPILOT, OUTDOOR, HomeAssistant, history, pick_port
from tests.helpers import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADDON_DIR = Path(__file__).resolve().parents[2]
SECTION: dict[str, float] = {}  # what the module measured, printed at the end
STATISTICS: dict[str, list[tuple[float, float]]] = {}  # imported before the add-on started: (hour, mean)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(home_assistant: HomeAssistant) -> float:
    """History before the add-on's first start: states of the listed entity, and the building's polls."""
    for value in ("4.0", "4.5", "5.0", "5.5"):
        await home_assistant.set_state(OUTDOOR, value, {"unit_of_measurement": "°C", "state_class": "measurement"})
        await asyncio.sleep(0.3)
    # Hours before the listed entity's first state, as long-term statistics only (what the recorder keeps
    # after it purged the states): the backfill takes them for those hours.
    end = datetime.fromtimestamp(time.time() // 3600 * 3600 - 2 * 3600, UTC)
    rows = [{"start": (end - timedelta(hours=6 - k)).isoformat(), "mean": 1.0 + k, "min": 0.5 + k, "max": 1.5 + k}
            for k in range(6)]
    await import_statistics(home_assistant.api, OUTDOOR, "Outdoor", "°C", rows, has_sum=False)
    await wait_statistics(home_assistant.api, [OUTDOOR], end - timedelta(hours=6), end)
    STATISTICS[OUTDOOR] = [(datetime.fromisoformat(r["start"]).timestamp(), r["mean"]) for r in rows]
    # A few polls of the simulated building (every 10 s) reach the recorder (commit every second).
    power = await _eaio_power_sensor(home_assistant)
    await wait_until(lambda: _history_len(home_assistant, power, 3), 90, "three recorded states of the meter")
    await asyncio.sleep(2.5)  # the recorder commits within a second; the add-on waits for that too
    return time.time()


async def _history_len(ha: HomeAssistant, entity_id: str, n: int) -> bool:
    return len(await history(ha, entity_id, time.time() - 3600, time.time())) >= n


async def _eaio_entities(ha: HomeAssistant) -> list[str]:
    ids = await ha.api.call("POST", "/api/template", json_body={"template": "{{ integration_entities('eaio') | list | to_json }}"})
    return sorted(json.loads(ids))


async def _entities_of(ha: HomeAssistant, entry_id: str) -> set[str]:
    """The entities of one config entry (the add-on link's), by the entry each belongs to."""
    found = await ha.api.call("POST", "/api/template", json_body={
        "template": "{{ integration_entities('eaio') | map('config_entry_id') | list | to_json }}"})
    every = await ha.api.call("POST", "/api/template", json_body={
        "template": "{{ integration_entities('eaio') | list | to_json }}"})
    return {e for e, owner in zip(json.loads(every), json.loads(found), strict=True) if owner == entry_id}


async def _eaio_power_sensor(ha: HomeAssistant) -> str:
    """The meter's total power: it moves at every poll."""
    for entity_id in await _eaio_entities(ha):
        if entity_id.startswith("sensor.") and entity_id.endswith("total_power"):
            return entity_id
    raise AssertionError(f"the meter has no total power sensor: {await _eaio_entities(ha)}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def addon(home_assistant: HomeAssistant, seeded: float,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    """The add-on, standalone, built from its command line, running in this test's event loop."""
    data = tmp_path_factory.mktemp("addon")
    options = data / "options.yaml"
    options.write_text(f"entities:\n  - {OUTDOOR}\nbackfill_days: 1\n")
    settings = build_settings(["--ha-url", home_assistant.url, "--data-dir", str(data), "--options", str(options),
                               "--port", "0"], {"EAIO_HA_TOKEN": home_assistant.token})
    # Shorter waits than in production: the recorder here commits every second, restarts are quick.
    runtime = Runtime(dataclasses.replace(settings, recorder_lag=2.0, reconnect_cap=2.0, registry_debounce=0.5))
    await runtime.start()
    yield runtime
    await runtime.stop()
    print("\nEnd-to-end measurements: " + ", ".join(f"{k} {v:.3f}" for k, v in SECTION.items()))


async def test_history_backfill(home_assistant: HomeAssistant, seeded: float, addon: Runtime) -> None:
    started = time.monotonic()
    await wait_until(lambda: addon.collector.backfill.state == "done", 120, "backfill done")
    SECTION["backfill_s"] = time.monotonic() - started
    health = await addon.health()
    assert health["ha_link"] == "connected"
    assert health["backfill"]["progress"] == 100.0
    eaio = await _eaio_entities(home_assistant)
    assert set(eaio) <= addon.collector.learned and OUTDOOR in addon.collector.learned
    assert health["backfill"]["entities"] == len(addon.collector.learned)
    # What the add-on stored from before its start is exactly the recorder's history.
    window = (seeded - 3600, seeded)
    for entity_id in (OUTDOOR, await _eaio_power_sensor(home_assistant)):
        recorded = await history(home_assistant, entity_id, *window)
        stored = await addon.store.call(StoreDb.readings_between, entity_id, *window)
        assert len(recorded) >= 2
        assert [(round(r.ts, 3), r.state or _num(r)) for r in stored] == [(round(ts, 3), _norm(s)) for ts, s in recorded]


async def test_backfill_takes_older_hours_from_long_term_statistics(home_assistant: HomeAssistant,
                                                                    addon: Runtime) -> None:
    imported = STATISTICS[OUTDOOR]
    rows = await addon.store.call(StoreDb.hourly, OUTDOOR, imported[0][0], imported[-1][0] + 3600, time.time())
    assert [(r.hour, r.mean, r.count) for r in rows] == [(hour, mean, 0) for hour, mean in imported]
    # The hours of the recorded states are built from the states, not from statistics.
    first_state = (await addon.store.call(StoreDb.readings_between, OUTDOOR, 0, time.time()))[0].ts
    later = await addon.store.call(StoreDb.hourly, OUTDOOR, first_state // 3600 * 3600, time.time(), time.time())
    assert later and later[0].count >= 1


def _num(reading: Reading) -> str:
    return f"{reading.value:g}" if reading.value is not None else ""


def _norm(state: str) -> str:
    try:
        return f"{float(state):g}"
    except ValueError:
        return state


async def test_live_state_changes_reach_the_store(home_assistant: HomeAssistant, addon: Runtime) -> None:
    stored_at: dict[float, float] = {}

    def note(batch: list[Reading]) -> None:
        for item in batch:
            if item.entity_id == OUTDOOR:
                stored_at[round(item.ts, 6)] = time.time()

    addon.collector.listeners.append(note)
    latencies = []
    for i in range(30):
        changed = round(await home_assistant.set_state(OUTDOOR, f"{6 + i / 10:.1f}", {"unit_of_measurement": "°C"}), 6)
        await wait_until(lambda changed=changed: changed in stored_at, 10, "the change in the store")  # type: ignore[misc]
        latencies.append(stored_at[changed] - changed)
    addon.collector.listeners.remove(note)
    SECTION["live_latency_p50_ms"] = statistics.median(latencies) * 1000
    SECTION["live_latency_max_ms"] = max(latencies) * 1000
    assert max(latencies) < 2.0
    # The building's own entities arrive live too (it is polled every 10 s).
    power = await _eaio_power_sensor(home_assistant)
    started = time.time()
    await wait_until(lambda: _has_after(addon, power, started), 40, "a live reading of the meter")


async def _has_after(runtime: Runtime, entity_id: str, ts: float) -> bool:
    return bool(await runtime.store.call(StoreDb.readings_between, entity_id, ts, 1e12))


class EventWatcher:
    """Home Assistant's events of one type, over its websocket API."""

    def __init__(self, ha: HomeAssistant, event_type: str) -> None:
        self.ha, self.event_type = ha, event_type
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self) -> EventWatcher:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._subscribed.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _run(self) -> None:
        async with self.ha.api.session.ws_connect(self.ha.url + "/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self.ha.token})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": self.event_type})
            await ws.receive_json()
            self._subscribed.set()
            async for message in ws:
                data = message.json()
                if data.get("type") == "event":
                    self.events.append(data["event"]["data"])


async def _addon_link_flow(ha: HomeAssistant) -> str:
    """The integration's manual path for a standalone add-on (URL and API token); returns the flow's path."""
    result = await ha.api.call("POST", "/api/config/config_entries/flow", json_body={"handler": "eaio"})
    flow = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        assert "addon" in result["menu_options"], result
        result = await ha.api.call("POST", flow, json_body={"next_step_id": "addon"})
    assert result["type"] == "form" and result["step_id"] == "addon", result
    return flow


def _recommendation(rec_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": rec_id, "category": "hvac", "title": f"Pre-cool before the peak ({rec_id})",
            "description": "Lower the cooling setpoint an hour before the expensive hours.",
            "action": {"type": "none"}, "estimated_savings_kwh_per_day": 2.4, "estimated_savings_per_day": 0.61,
            "confidence": 0.8, "method": "e2e", "reasons": ["peak price 16:00-21:00"], **extra}


async def _open_count(ha: HomeAssistant) -> int | None:
    for state in await ha.api.call("GET", "/api/states"):
        if state["entity_id"].startswith("sensor.") and "top_title" in state["attributes"]:
            return int(state["state"])
    return None


async def _has_open_count(ha: HomeAssistant) -> bool:
    return await _open_count(ha) is not None


async def test_a_recommendation_appears_in_home_assistant(home_assistant: HomeAssistant, addon: Runtime) -> None:
    url = f"http://127.0.0.1:{addon.port}"
    refreshed = addon.collector.refreshes
    flow = await _addon_link_flow(home_assistant)
    refused = await home_assistant.api.call("POST", flow, json_body={"url": url, "token": "not-the-token"})
    assert refused["type"] == "form" and refused["errors"] == {"base": "invalid_auth"}  # the add-on said 401
    entry = await home_assistant.api.call("POST", flow, json_body={"url": url, "token": addon.api_token})
    assert entry["type"] == "create_entry", entry
    # The link's sensors are new EAIO entities, but EAIO's own output: the add-on reads the registry
    # again and learns none of them (it would learn from its own advice), only the devices' points.
    await wait_until(lambda: _has_open_count(home_assistant), 30, "the recommendation sensors")
    await wait_until(lambda: addon.collector.refreshes > refreshed, 30, "the add-on read the registry again")
    link_entities = await _entities_of(home_assistant, entry["result"]["entry_id"])
    assert link_entities and not link_entities & addon.collector.learned
    devices = set(await _eaio_entities(home_assistant)) - link_entities
    assert devices and devices <= addon.collector.learned

    async with EventWatcher(home_assistant, "eaio_recommendation") as watcher:
        item = await addon.submit_recommendations([
            _recommendation("e2e-precool"),
            _recommendation("e2e-broken", category="heating", confidence=3),  # malformed: refused alone
        ])
        await wait_until(lambda: _delivered(addon, item.id), 30, "the push delivered")
        await wait_until(lambda: any(e.get("id") == "e2e-precool" for e in watcher.events), 10, "the event")
    delivered = await addon.store.call(StoreDb.outbox_item, item.id)
    assert delivered is not None and delivered.response["accepted"] == ["e2e-precool"]
    [refusal] = delivered.response["refused"]
    assert refusal["index"] == 1 and refusal["id"] == "e2e-broken" and "category" in refusal["error"]
    event = next(e for e in watcher.events if e.get("id") == "e2e-precool")
    assert event["type"] == "new" and event["category"] == "hvac" and event["confidence"] == 0.8
    assert await _open_count(home_assistant) == 1
    hvac = [s for s in await home_assistant.api.call("GET", "/api/states")
            if s["attributes"].get("id") == "e2e-precool"]
    assert hvac and hvac[0]["attributes"]["estimated_savings_kwh_per_day"] == 2.4


async def _delivered(runtime: Runtime, item_id: int) -> bool:
    item = await runtime.store.call(StoreDb.outbox_item, item_id)
    return item is not None and item.state == "delivered"


async def test_pushes_wait_through_a_home_assistant_restart(home_assistant: HomeAssistant, addon: Runtime) -> None:
    await home_assistant.stop()
    await wait_until(lambda: addon.link.state is LinkState.CONNECTING, 30, "the add-on noticed")
    items = [await addon.submit_recommendations([_recommendation(f"e2e-restart-{i}")], replace=False)
             for i in range(3)]
    health = await addon.health()
    assert health["ha_link"] == "connecting" and health["status"] == "degraded"
    assert health["store"]["outbox_pending"] == 3
    await asyncio.sleep(3)  # still down: nothing can be delivered
    assert (await addon.health())["store"]["outbox_pending"] == 3

    starting = time.monotonic()
    await home_assistant.start()
    SECTION["hass_restart_s"] = time.monotonic() - starting
    await wait_until(lambda: _pending(addon, 0), 120, "the outbox emptied after the restart")
    SECTION["outbox_drained_after_hass_start_s"] = time.monotonic() - starting
    delivered = [await addon.store.call(StoreDb.outbox_item, item.id) for item in items]
    assert all(d is not None and d.state == "delivered" for d in delivered)
    assert [d.response["accepted"] for d in delivered if d] == [[f"e2e-restart-{i}"] for i in range(3)]
    times = [d.delivered_at for d in delivered if d]
    assert times == sorted(times)  # in the order they were made
    assert await _open_count(home_assistant) == 4  # the first one survived the restart in Home Assistant, too


async def _pending(runtime: Runtime, n: int) -> bool:
    return (await runtime.health())["store"]["outbox_pending"] == n


async def _call_service(ha: HomeAssistant, service: str, data: dict[str, Any]) -> dict[str, Any]:
    """One service call over the websocket API, as the UI makes it; the answer names a refusal's reason."""
    domain, name = service.split(".", 1)
    async with ha.api.session.ws_connect(ha.url + "/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": ha.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "call_service", "domain": domain, "service": name,
                            "service_data": data})
        answer: dict[str, Any] = await ws.receive_json()
        return answer


async def _state(ha: HomeAssistant, entity_id: str) -> str:
    return str((await ha.api.call("GET", f"/api/states/{entity_id}"))["state"])


async def _setpoint_entity(ha: HomeAssistant) -> str:
    for entity_id in await _eaio_entities(ha):
        if entity_id.startswith("number.") and entity_id.endswith("cooling_setpoint"):
            return entity_id
    raise AssertionError(f"the HVAC unit has no cooling setpoint: {await _eaio_entities(ha)}")


async def test_an_automation_applies_a_user_dismisses_an_unknown_target_is_refused(
        home_assistant: HomeAssistant, addon: Runtime) -> None:
    hvac_entry = home_assistant.entries[1]["entry_id"]  # DEVICES: the HVAC unit is the second
    setpoint = await _setpoint_entity(home_assistant)
    target = 23.0 if float(await _state(home_assistant, setpoint)) != 23.0 else 23.5
    before = await _open_count(home_assistant)
    assert before is not None
    write = {"type": "write_point", "config_entry_id": hvac_entry, "point": "cooling_setpoint", "value": target}
    async with EventWatcher(home_assistant, "eaio_recommendation") as watcher:
        item = await addon.submit_recommendations([
            _recommendation("e2e-auto", action=write, target_entity=setpoint, proposed_value=target,
                            method=AUTOPILOT),
            _recommendation("e2e-dismiss"),
            _recommendation("e2e-nowhere", action={**write, "config_entry_id": "no-such-device"}),
        ], replace=False)
        await wait_until(lambda: _delivered(addon, item.id), 30, "the push delivered")
        # The automation in Home Assistant's configuration applies what its method proposes.
        await wait_until(lambda: _seen(watcher, "e2e-auto", "applied"), 30, "the automation applied it")
        await wait_until(lambda: _state_is(home_assistant, setpoint, target), 30, "the setpoint written")
        automation = await home_assistant.api.call("GET", "/api/states/automation.apply_what_the_autopilot_method_proposes")
        assert automation["attributes"]["last_triggered"] is not None
        assert not _seen(watcher, "e2e-dismiss", "applied") and not _seen(watcher, "e2e-nowhere", "applied")

        dismissed = await _call_service(home_assistant, "eaio.dismiss_recommendation",
                                        {"recommendation_id": "e2e-dismiss"})
        assert dismissed["success"], dismissed
        await wait_until(lambda: _seen(watcher, "e2e-dismiss", "dismissed"), 10, "the dismissal event")

        refused = await _call_service(home_assistant, "eaio.apply_recommendation",
                                      {"recommendation_id": "e2e-nowhere"})
        assert not refused["success"]
        assert refused["error"]["translation_key"] == "unknown_target", refused
        assert "no-such-device" in refused["error"]["message"]
        again = await _call_service(home_assistant, "eaio.dismiss_recommendation",
                                    {"recommendation_id": "e2e-dismiss"})
        assert not again["success"] and again["error"]["translation_key"] == "unknown_recommendation"
    # Applied and dismissed are closed; the refused one stays open, nothing else changed.
    assert await _open_count(home_assistant) == before + 1
    assert [e["type"] for e in watcher.events if e.get("id") == "e2e-nowhere"] == ["new"]
    # The write reached the add-on's store, too, as a live reading of the learned setpoint entity.
    await wait_until(lambda: _stored_value(addon, setpoint, target), 30, "the new setpoint in the store")


def _seen(watcher: EventWatcher, rec_id: str, kind: str) -> bool:
    return any(e.get("id") == rec_id and e.get("type") == kind for e in watcher.events)


async def _state_is(ha: HomeAssistant, entity_id: str, value: float) -> bool:
    try:
        return float(await _state(ha, entity_id)) == value
    except ValueError:
        return False


async def _stored_value(runtime: Runtime, entity_id: str, value: float) -> bool:
    rows = await runtime.store.call(StoreDb.readings_between, entity_id, time.time() - 120, 1e12)
    return any(r.value == value for r in rows)


async def test_the_addon_api_refuses_wrong_and_missing_tokens(addon: Runtime) -> None:
    url = f"http://127.0.0.1:{addon.port}/api/health"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": addon.api_token}):
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 401, (headers, resp.status)
        async with session.get(url, headers={"Authorization": f"Bearer {addon.api_token}"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["ha_link"] == "connected"


async def test_the_command_line_with_a_refused_and_a_good_token(home_assistant: HomeAssistant,
                                                                tmp_path: Path) -> None:
    for token, expected in (("not-a-valid-token", "auth_failed"), (home_assistant.token, "connected")):
        data = tmp_path / expected
        port = pick_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eaio_addon", "--ha-url", home_assistant.url, "--data-dir", str(data),
            "--port", str(port), cwd=ADDON_DIR, env={"EAIO_HA_TOKEN": token, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            await wait_until(lambda data=data: (data / "api_token").exists(), 30, "the API token")  # type: ignore[misc]
            api_token = (data / "api_token").read_text().strip()
            health = await _health_when(port, api_token, expected)
            assert health["ha_link"] == expected
            assert proc.returncode is None  # a refused token does not end the process: health says why
        finally:
            proc.terminate()
            _, stderr = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        if expected == "auth_failed":
            assert "refused the token" in stderr.decode() and "Not retrying" in stderr.decode()
            assert "refused the token" in health["problems"][0]


async def _health_when(port: int, api_token: str, link: str) -> dict[str, Any]:
    health: dict[str, Any] = {}

    async def ready() -> bool:
        nonlocal health
        try:
            async with aiohttp.ClientSession() as session, session.get(
                    f"http://127.0.0.1:{port}/api/health", headers={"Authorization": f"Bearer {api_token}"}) as resp:
                health = await resp.json()
        except aiohttp.ClientError:
            return False
        return health.get("ha_link") == link

    await wait_until(ready, 60, f"ha_link {link}")
    return health


async def test_malformed_options_against_the_real_command_line(home_assistant: HomeAssistant,
                                                              tmp_path: Path) -> None:
    options = tmp_path / "options.yaml"
    options.write_text("tariff:\n  - start: '25:00'\n    price: 0.3\n")
    proc = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "eaio_addon", "--ha-url", home_assistant.url, "--token",
                           home_assistant.token, "--data-dir", str(tmp_path / "d"), "--options", str(options)],
                          cwd=ADDON_DIR, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == EXIT_CONFIG
    assert "option 'tariff[0].start'" in proc.stderr

"""Background work that cannot die silently: a store that refuses to COMMIT (a full disk) degrades the
health with the reason, loses no push and no reading, and the add-on resumes by itself when it passes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
import itertools
from pathlib import Path
import sqlite3
import time
from typing import Any

from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from eaio_addon.store import StoreDb
from eaio_addon.supervision import Supervisor
import pytest

from tests.fake_ha import FakeHomeAssistant, ServiceError
from tests.helpers import wait_until

OUTDOOR = "sensor.outdoor_temperature"


def _settings(ha: FakeHomeAssistant, data_dir: Path) -> Settings:
    return Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket", ha_token="good-token",
                    data_dir=data_dir, options=parse_options({"entities": [OUTDOOR], "backfill_days": 0}),
                    host="127.0.0.1", port=0, reconnect_cap=0.2, recorder_lag=0.0, registry_debounce=0.05,
                    task_backoff=0.05, task_backoff_cap=0.2, task_healthy_after=0.5)


def _refuse_commit(db: StoreDb, refuse: bool) -> None:
    """What a full disk does to the store: every COMMIT fails (sqlite's own error, through its authorizer)."""
    def authorizer(action: int, arg1: str | None, *_: Any) -> int:
        if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT":
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    db._db.set_authorizer(authorizer if refuse else None)


async def test_a_store_that_cannot_commit_degrades_health_and_delivery_resumes(ha: FakeHomeAssistant,
                                                                               tmp_path: Path) -> None:
    ha.states[OUTDOOR] = {"entity_id": OUTDOOR, "state": "5", "attributes": {"unit_of_measurement": "°C"},
                          "last_changed": "", "last_updated": ""}
    runtime = Runtime(_settings(ha, tmp_path / "data"))
    await runtime.start()
    try:
        await runtime.link.wait_connected()
        await wait_until(lambda: runtime.collector.backfill.state == "done", what="the first sync done")
        calls: list[list[str]] = []
        # Queued while the integration is loading, so the push is stored before the disk fills.
        item = await runtime.submit_recommendations([{"id": "a", "category": "hvac", "title": "A",
                                                      "action": {"type": "none"}, "confidence": 0.8}])
        await runtime.store.call(_refuse_commit, True)

        def submit(data: dict[str, Any]) -> dict[str, Any]:
            ids = [r["id"] for r in data["recommendations"]]
            calls.append(ids)
            return {"accepted": ids, "refused": []}

        ha.services[("eaio", "submit_recommendations")] = submit
        runtime.sender.wake()
        ha.set_state(OUTDOOR, "6.5", time.time())

        async def degraded() -> bool:
            problems = " ".join((await runtime.health())["problems"])
            return "outbox is failing" in problems and "storing readings is failing" in problems

        await wait_until(degraded, 10, "health names the failing outbox and the held readings")
        health = await runtime.health()
        assert health["status"] == "degraded"
        assert "not authorized" in " ".join(health["problems"])  # the store's own error, as the reason
        assert len(" ".join(health["problems"])) < 1000
        assert runtime.supervisor.restarts["outbox"] >= 1
        stuck = await runtime.store.call(StoreDb.outbox_item, item.id)
        assert stuck is not None and stuck.state == "pending"  # Home Assistant got it; the store could not say so

        await runtime.store.call(_refuse_commit, False)

        async def recovered() -> bool:
            done = await runtime.store.call(StoreDb.outbox_item, item.id)
            return done is not None and done.state == "delivered" and (await runtime.health())["status"] == "ok"

        await wait_until(recovered, 10, "delivered and healthy once the store commits again")
        assert {tuple(ids) for ids in calls} == {("a",)}  # delivered (at least once: each push carries its ids)
        rows = await runtime.store.call(StoreDb.readings_between, OUTDOOR, 0, 1e12)
        assert [r.value for r in rows] == [6.5]  # the reading held through the failure, stored once
        assert runtime.collector.live_readings == 1
        integrity = await runtime.store.call(lambda db: db._db.execute("PRAGMA integrity_check").fetchone()[0])
        assert integrity == "ok"
        # The store's caches match the database after the rollbacks: the next reading is stored too.
        ha.set_state(OUTDOOR, "7", time.time() + 1)
        await wait_until(lambda: runtime.collector.live_readings == 2)
    finally:
        await runtime.stop()


async def test_a_failing_task_restarts_with_back_off_and_clears_when_it_holds() -> None:
    supervisor = Supervisor(backoff_initial=0.01, backoff_cap=0.04, healthy_after=0.2)
    runs: list[float] = []
    healthy = asyncio.Event()

    async def work() -> None:
        runs.append(time.monotonic())
        if len(runs) < 5:
            raise OSError(28, "No space left on device " + "x" * 5000)
        healthy.set()
        await asyncio.sleep(3600)

    supervisor.spawn("worker", work)
    await asyncio.wait_for(healthy.wait(), 5)
    (problem,) = supervisor.problems()
    assert "worker is failing" in problem and "No space left" in problem and len(problem) < 300
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert gaps[-1] > gaps[0]  # back-off doubles (0.01, 0.02, 0.04, 0.04)
    await wait_until(lambda: not supervisor.problems(), 5, "cleared after running healthy")
    assert supervisor.restarts["worker"] == 4
    await supervisor.stop()


async def test_a_one_shot_coroutine_that_fails_stays_in_the_troubles() -> None:
    supervisor = Supervisor(backoff_initial=0.01, healthy_after=0.2)

    async def once() -> None:
        raise ServiceError("x", "broken")

    task = supervisor.spawn("announce", once())
    await task
    assert supervisor.problems() and "announce is failing" in supervisor.problems()[0]
    await supervisor.stop()



def _limit_pages(db: StoreDb, extra: int | None) -> None:
    """A full disk as SQLite meets it: the file may grow by ``extra`` pages at most (None: no limit)."""
    pages = int(db._db.execute("PRAGMA page_count").fetchone()[0])
    db._db.execute(f"PRAGMA max_page_count = {pages + extra if extra is not None else 1_073_741_823}")


async def test_a_full_database_holds_live_readings_until_space_returns(ha: FakeHomeAssistant, tmp_path: Path) -> None:
    ha.states[OUTDOOR] = {"entity_id": OUTDOOR, "state": "5", "attributes": {"unit_of_measurement": "°C"},
                          "last_changed": "", "last_updated": ""}
    runtime = Runtime(_settings(ha, tmp_path / "data"))
    await runtime.start()
    try:
        await wait_until(lambda: runtime.collector.backfill.state == "done", what="the first sync done")
        await runtime.store.call(_limit_pages, 0)
        start = time.time()
        sent = [(start + k, f"{k % 400}.{k % 7}") for k in range(3000)]
        for ts, state in sent:
            ha.set_state(OUTDOOR, state, ts)

        async def full() -> bool:
            return "database or disk is full" in " ".join((await runtime.health())["problems"])

        await wait_until(full, 15, "health says the store is full")
        assert (await runtime.health())["status"] == "degraded"
        await runtime.store.call(_limit_pages, None)
        await wait_until(lambda: runtime.collector.live_readings == len(sent), 20, "every held reading stored")
        rows = await runtime.store.call(StoreDb.readings_between, OUTDOOR, 0, 1e12)
        assert [(r.ts, r.value) for r in rows] == [(round(ts, 6), float(s)) for ts, s in sent]
        await wait_until(lambda: _ok(runtime), 10, "healthy again")
    finally:
        await runtime.stop()


async def _ok(runtime: Runtime) -> bool:
    return (await runtime.health())["status"] == "ok"


async def test_a_store_failing_at_connect_delays_the_backfill_and_loses_nothing(ha: FakeHomeAssistant,
                                                                              tmp_path: Path) -> None:
    now = time.time()
    ha.history[OUTDOOR] = [(now - 3000 + 60 * k, str(k)) for k in range(40)]
    ha.states[OUTDOOR] = {"entity_id": OUTDOOR, "state": "39", "attributes": {}, "last_changed": "",
                          "last_updated": ""}
    port = ha.port
    await ha.stop()  # the disk fills before Home Assistant is reached
    settings = replace(_settings(ha, tmp_path / "data"), options=parse_options({"entities": [OUTDOOR],
                                                                                "backfill_days": 1}))
    runtime = Runtime(settings)
    await runtime.start()
    try:
        await runtime.store.call(_refuse_commit, True)
        await ha.start(port)

        async def degraded() -> bool:
            return "backfill is failing" in " ".join((await runtime.health())["problems"])

        await wait_until(degraded, 10, "health names the failing backfill")
        await runtime.store.call(_refuse_commit, False)
        await wait_until(lambda: runtime.collector.backfill.state == "done", 10, "the backfill done by itself")
        rows = await runtime.store.call(StoreDb.readings_between, OUTDOOR, 0, 1e12)
        assert [r.value for r in rows] == [float(k) for k in range(40)]
        await wait_until(lambda: _ok(runtime), 10, "healthy again")
    finally:
        await runtime.stop()


async def test_the_agents_schedule_restarts_after_a_failure_without_subscribing_twice(
        ha: FakeHomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eaio_addon.agents.orchestrator import Orchestrator

    starts: list[int] = []
    schedules: list[int] = []
    original_start = Orchestrator.start

    async def counted_start(self: Orchestrator) -> None:
        starts.append(1)
        await original_start(self)

    async def failing_once(self: Orchestrator, every_minutes: int) -> None:
        schedules.append(every_minutes)
        if len(schedules) == 1:
            raise RuntimeError("the schedule broke")
        await asyncio.sleep(3600)

    monkeypatch.setattr(Orchestrator, "start", counted_start)
    monkeypatch.setattr(Orchestrator, "schedule", failing_once)
    runtime = Runtime(_settings(ha, tmp_path / "data"))
    await runtime.start()
    try:
        await wait_until(lambda: len(schedules) >= 2, 5, "the schedule started again")
        assert runtime.supervisor.restarts.get("agents") == 1
        assert len(starts) == 1  # the agents subscribed once; only the schedule ran again
    finally:
        await runtime.stop()

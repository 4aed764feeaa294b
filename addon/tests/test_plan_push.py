"""The whole plan of a run pushed as ``eaio.submit_plan``: its items, slots, values and reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.plan_push import (
    LoadPlanParts,
    battery_reserves,
    battery_values,
    keep_battery_under_way,
    planned_soc,
    queue_plan,
)
from eaio_addon.agents.site import Location
from eaio_addon.engine.optimize.result import BatteryPlan
from eaio_addon.engine.optimize.safe import SELF_CONSUMPTION_NOTE, self_consumption
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from eaio_addon.store import StoreDb
import numpy as np
import pytest

from tests.agents_site import Sink, hour_now, make_orchestrator, open_filled
from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until

BATTERY = {"capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 90, "min_soc": 10, "max_soc": 100}
DISHWASHER = {"name": "Dishwasher", "power_kw": 1.2, "run_hours": 2, "earliest": "18:00", "latest": "07:00"}
EV = {"energy_kwh": 10, "max_power_kw": 7, "ready_by": "07:00", "plugged_in": "18:00"}
# A zone half an hour off UTC: every clock time in a reason must be local, not UTC.
WHERE = Location(0.0, 0.0, "Asia/Kolkata", "INR")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    s = await open_filled(tmp_path / "data", hour_now())
    yield s
    await s.close()


def test_battery_values_leave_to_the_battery_what_it_does_by_itself() -> None:
    # Hour 0: grid charge 2 kW (no surplus); 1: store 1 kW of a 1.5 kW surplus; 2: hold; 3: discharge.
    plan = BatteryPlan(charge_kw=np.array([2.0, 1.0, 0.0, 0.0]), discharge_kw=np.array([0.0, 0.0, 0.0, 1.5]),
                       soc_kwh=np.array([1.0, 2.9, 3.85, 3.85, 2.2]))
    net = np.array([0.5, -1.5, 0.8, 2.0])
    assert battery_values(plan, net) == [2.0, None, 0.0, None]
    assert battery_values(plan, net, automatic=False) == [2.0, 1.0, 0.0, -1.5]
    # With the prices: the idle hour 2 holds (0) only because its charge is kept for the dearer hour 3.
    price = np.array([0.2, 0.2, 0.2, 0.5])
    assert battery_values(plan, net, price=price) == [2.0, None, 0.0, None]
    flat = np.full(4, 0.2)  # no dearer hour ahead: nothing is kept, the automatic mode may use it
    assert battery_values(plan, net, price=flat) == [2.0, None, None, None]
    empty = BatteryPlan(charge_kw=np.zeros(2), discharge_kw=np.zeros(2), soc_kwh=np.array([0.5, 0.5, 0.5]))
    assert battery_values(empty, np.array([1.0, 1.0]), price=np.array([0.2, 0.5]), soc_min_kwh=0.5) == [None, None]


def test_the_reserve_keeps_what_the_plan_saves_for_dearer_hours() -> None:
    # 10 kWh battery. Hour 0 charges to 6 kWh for the peak at hours 2-3, which uses 2 kWh each.
    plan = BatteryPlan(charge_kw=np.array([5.0, 0.0, 0.0, 0.0, 0.0]),
                       discharge_kw=np.array([0.0, 0.0, 2.0, 2.0, 0.0]),
                       soc_kwh=np.array([1.0, 6.0, 6.0, 4.0, 2.0, 2.0]))
    price = np.array([0.2, 0.2, 0.5, 0.5, 0.2])
    # Hours 0-1 keep all of it (the next dearer hour is 2); hours 2 and 3 share one price, so each
    # may spend down to the lowest charge before the price rises again (none does: the end).
    assert battery_reserves(plan, price, 10.0) == [60, 60, 20, 20, 20]
    assert battery_reserves(plan, price, 10.0, soc_min_kwh=3.0) == [60, 60, 30, 30, 30]
    flat = np.full(5, 0.2)  # nothing dearer ahead: each hour keeps only the lowest charge to come
    assert battery_reserves(plan, flat, 10.0) == [20, 20, 20, 20, 20]


async def test_a_run_pushes_the_whole_plan(store: Any) -> None:
    plans: list[dict[str, Any]] = []

    async def submit_plan(plan: dict[str, Any]) -> None:
        plans.append(plan)

    async def locate() -> Location:
        return WHERE

    sink = Sink()
    orch: Orchestrator = make_orchestrator(store, sink, {"battery": BATTERY, "deferrable_loads": [DISHWASHER],
                                                         "ev": EV}, submit_plan=submit_plan)
    orch.locate = locate
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert len(plans) == 1 and orch.plan is plans[0]
    plan = plans[0]
    ctx = orch.last_context
    assert ctx is not None
    start = datetime.fromisoformat(plan["start"])
    assert plan["start"].endswith("+00:00") and start == ctx.now
    assert datetime.fromisoformat(plan["end"]) == start + timedelta(hours=48)
    assert plan["plan_id"].startswith(f"plan-{ctx.now:%Y%m%dT%H%M}Z-") and plan["slot_minutes"] == 60
    assert plan["expected"]["saving"] == pytest.approx(plan["expected"]["baseline_cost"] - plan["expected"]["cost"],
                                                       abs=1e-3)
    items = {item["key"]: item for item in plan["items"]}
    assert set(items) == {"battery", "car", "dishwasher", "zone"}  # the zone: the hvac agent's plan
    tz = ZoneInfo(WHERE.tz)
    for item in items.values():
        assert len(item["slots"]) == 48
        assert [datetime.fromisoformat(s["start"]) for s in item["slots"]] == [start + timedelta(hours=k)
                                                                              for k in range(48)]

    battery = items["battery"]
    assert battery["kind"] == "battery" and battery["unit"] == "kW"
    for slot in battery["slots"]:
        assert 10.0 - 1e-6 <= slot["soc"] <= 100.0 + 1e-6
        assert slot["value"] is None or -3.0 - 1e-6 <= slot["value"] <= 3.0 + 1e-6
    charging = [s for s in battery["slots"] if "from the grid" in s["reason"]]
    assert charging and all(isinstance(s["value"], float) and s["value"] > 0 for s in charging)
    # The peak (0.50 from 16:00 local) is named in the charging reason, with the currency and local clock: the
    # first slot (whole UTC hours) starting in it starts at 16:30 in Kolkata.
    assert any("0.20 INR now, 0.50 INR from 16:30" in s["reason"] for s in charging), charging[0]["reason"]
    discharging = [s for s in battery["slots"] if s["reason"].startswith("discharging")]
    # No controllable with an automatic mode: every slot carries the planned power.
    assert discharging and all(isinstance(s["value"], float) and s["value"] < 0 for s in discharging)
    for s in discharging:
        assert 16 <= datetime.fromisoformat(s["start"]).astimezone(tz).hour < 21
    assert planned_soc(plan, start) == battery["slots"][0]["soc"]

    dish = items["dishwasher"]
    run_start, run_end = (datetime.fromisoformat(dish["run"][k]) for k in ("start", "end"))
    assert run_end - run_start == timedelta(hours=2)
    on = [datetime.fromisoformat(s["start"]) for s in dish["slots"] if s["value"] is True]
    assert on == [run_start, run_start + timedelta(hours=1)]
    assert all(s["value"] is False for s in dish["slots"] if datetime.fromisoformat(s["start"]) not in on)
    candidate = next(c for c in ctx.candidates if c.key == "deferrable-dishwasher")
    assert candidate.facts["start"] == f"{run_start.astimezone(tz):%H:%M}"

    car = items["car"]
    assert car["kind"] == "ev" and sum(s["value"] for s in car["slots"]) * 0.9 == pytest.approx(10.0, abs=1e-3)
    assert all("ready by 07:00" in s["reason"] for s in car["slots"])

    zone = items["zone"]
    assert zone["kind"] == "hvac_zone" and zone["unit"] == "°C"
    assert all(22.0 - 1e-6 <= s["value"] <= 25.0 + 1e-6 and s["reason"] for s in zone["slots"])

    actions = {r["id"]: r["action"] for r in result.recommendations}
    assert actions["load-battery-schedule"] == {"type": "plan", "key": "battery"}
    assert actions["load-deferrable-dishwasher"] == {"type": "plan", "key": "dishwasher"}


def test_only_a_plans_remaining_battery_slots_are_kept() -> None:
    def slots(start: datetime, values: list[Any]) -> list[dict[str, Any]]:
        return [{"start": (start + timedelta(hours=k)).isoformat(), "value": v} for k, v in enumerate(values)]

    t0 = datetime(2026, 6, 1, 0, tzinfo=UTC)
    old = {"plan_id": "p1", "start": t0.isoformat(), "items": [
        {"key": "battery", "kind": "battery", "slots": slots(t0, [2.0, 2.0, None, None])}]}
    new_start = t0 + timedelta(hours=2)
    zone = {"key": "zone", "kind": "hvac_zone", "slots": slots(new_start, [21.0])}
    new = {"plan_id": "p2", "start": new_start.isoformat(), "items": [
        {"key": "battery", "kind": "battery", "slots": slots(new_start, [None, 0.5, 1.5])}, zone]}
    assert keep_battery_under_way(new, old) == "p1"
    battery = new["items"][0]
    # The cycle's slots from the new plan's start on, nothing before it, then the new plan's own
    # slots to its end; the other items untouched.
    assert [s["start"] for s in battery["slots"]] == [(new_start + timedelta(hours=k)).isoformat() for k in range(3)]
    assert [s["value"] for s in battery["slots"]] == [None, None, 1.5]
    assert new["items"][1] is zone
    over = {"plan_id": "p3", "start": (t0 + timedelta(hours=4)).isoformat(), "items": [
        {"key": "battery", "kind": "battery", "slots": slots(t0 + timedelta(hours=4), [None])}]}
    assert keep_battery_under_way(over, old) is None  # the cycle is over: the new plan stands
    assert keep_battery_under_way(over, None) is None


async def test_a_re_plan_that_falls_back_goes_on_with_the_cycle_under_way(store: Any) -> None:
    plans: list[dict[str, Any]] = []

    async def submit_plan(plan: dict[str, Any]) -> None:
        plans.append(plan)

    orch: Orchestrator = make_orchestrator(store, Sink(), {"battery": BATTERY}, submit_plan=submit_plan)
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    first = plans[-1]
    cycle = next(i for i in first["items"] if i["key"] == "battery")
    assert any(s["value"] is not None and s["value"] > 0 for s in cycle["slots"])  # it buys for the peak
    ctx = orch.last_context
    assert ctx is not None
    parts = ctx.plans["load_parts"]
    assert isinstance(parts, LoadPlanParts) and parts.battery is not None
    # The same hour re-planned, and this time no plan beats the battery's own mode.
    own = self_consumption(parts.site, parts.battery)
    ctx.plans["load"] = replace(ctx.plans["load"], battery=own, notes=(SELF_CONSUMPTION_NOTE,))
    ctx.run_id = "re-plan"
    await orch._push_plan(ctx)
    second = plans[-1]
    assert second["plan_id"] != first["plan_id"]
    assert next(i for i in second["items"] if i["key"] == "battery") == cycle  # the cycle goes on
    assert any(n.startswith(f"plan: the battery goes on with the cycle of {first['plan_id']}") for n in ctx.notes)
    # Once the battery follows its own mode, a fallback is the plan: nothing is under way to keep.
    ctx.notes.clear()
    orch._battery_cycles = False
    await orch._push_plan(ctx)
    third = next(i for i in plans[-1]["items"] if i["key"] == "battery")
    assert third != cycle and not any(n.startswith("plan: the battery goes on") for n in ctx.notes)


async def test_without_a_battery_or_appliances_the_plan_holds_only_the_zone(store: Any) -> None:
    plans: list[dict[str, Any]] = []

    async def submit_plan(plan: dict[str, Any]) -> None:
        plans.append(plan)

    orch = make_orchestrator(store, Sink(), {}, submit_plan=submit_plan)
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert [[item["key"] for item in plan["items"]] for plan in plans] == [["zone"]]
    assert plans[0]["expected"]["saving"] == pytest.approx(0.0, abs=1e-6)  # the load alone: nothing to move


# --- through the outbox of the running add-on ---------------------------------------------------------


@pytest.fixture
async def runtime(ha: FakeHomeAssistant, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                        ha_token="good-token", data_dir=tmp_path / "data",
                        options=parse_options({"backfill_days": 0, "autopilot": True,
                                               "optimize_every_minutes": 0}),
                        host="127.0.0.1", port=0, reconnect_cap=0.2, recorder_lag=0.0, registry_debounce=0.05)
    rt = Runtime(settings)
    await rt.start()
    yield rt
    await rt.stop()


def _plan(plan_id: str) -> dict[str, Any]:
    at = datetime(2026, 12, 6, 15, tzinfo=UTC).isoformat()
    return {"plan_id": plan_id, "created": at, "start": at, "end": at, "slot_minutes": 60,
            "items": [{"key": "battery", "kind": "battery", "name": "Home battery", "unit": "kW",
                       "slots": [{"start": at, "value": 2.0, "soc": 50.0, "reason": "charging"}]}],
            "expected": {}}


async def test_the_plan_is_stored_first_and_delivered_when_the_service_is_there(
        ha: FakeHomeAssistant, runtime: Runtime) -> None:
    health = await runtime.health()
    assert health["autopilot_default"] is True  # the add-on's autopilot option, for new controllables
    await runtime.link.wait_connected()
    item = await queue_plan(runtime.store, _plan("plan-1"), runtime.sender.wake)
    stored = await runtime.store.call(StoreDb.outbox_item, item.id)
    assert stored is not None and stored.push_id == "plan-1" and stored.service == "submit_plan"

    async def refused() -> bool:  # the integration is still loading: the push waits
        head = await runtime.store.call(StoreDb.outbox_head)
        return head is not None and "not_found" in (head.last_error or "")

    await wait_until(refused, what="not_found recorded")
    received: list[dict[str, Any]] = []

    def submit_plan(data: dict[str, Any]) -> dict[str, Any]:
        received.append(data)
        return {"plan_id": data["plan_id"], "accepted": [i["key"] for i in data["items"]], "refused": []}

    ha.services[("eaio", "submit_plan")] = submit_plan
    await wait_until(lambda: len(received) == 1, what="the plan delivered")
    assert received[0] == _plan("plan-1")
    call = next(m for m in reversed(ha.received) if m.get("service") == "submit_plan")
    assert call["return_response"] is True
    with pytest.raises(ValueError, match="plan_id"):
        await queue_plan(runtime.store, {"items": []}, runtime.sender.wake)


async def test_an_integration_without_plans_does_not_hold_up_the_recommendations(
        ha: FakeHomeAssistant, runtime: Runtime) -> None:
    await runtime.link.wait_connected()
    received: list[list[str]] = []
    ha.services[("eaio", "submit_recommendations")] = lambda d: received.append(
        [r["id"] for r in d["recommendations"]])
    plan = await queue_plan(runtime.store, _plan("plan-old"), runtime.sender.wake)
    await runtime.submit_recommendations([{"id": "after-the-plan", "title": "t"}])
    await wait_until(lambda: received == [["after-the-plan"]], 20, "the recommendations delivered")
    dropped = await runtime.store.call(StoreDb.outbox_item, plan.id)
    assert dropped is not None and dropped.state == "failed" and "not_found" in (dropped.last_error or "")


def test_a_plan_replaces_the_one_still_waiting(tmp_path: Path) -> None:
    db = StoreDb(tmp_path / "eaio.db")
    try:
        other = db.enqueue("eaio", "submit_recommendations", {"recommendations": []}, return_response=True)
        first = db.enqueue_superseding("eaio", "submit_plan", _plan("plan-1"), push_id="plan-1")
        second = db.enqueue_superseding("eaio", "submit_plan", _plan("plan-2"), push_id="plan-2")
        assert db.outbox_item(first.id) is None  # never delivered late: the newer plan replaces it
        assert db.outbox_head() == other and db.outbox_item(second.id) is not None
        db.outbox_delivered(second.id, {"accepted": ["battery"]})
        db.enqueue_superseding("eaio", "submit_plan", _plan("plan-3"), push_id="plan-3")
        assert db.outbox_item(second.id) is not None  # a delivered plan stays a day for the record
        db.enqueue_superseding("eaio", "submit_plan", _plan("plan-4"), push_id="plan-4", keep_s=-1.0)
        assert db.outbox_item(second.id) is None and db.outbox_item(other.id) is not None
    finally:
        db.close()

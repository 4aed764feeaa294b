"""A home battery from the options: the load agent plans it under the tariff and proposes its schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.load import LoadAgent, battery_spec
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import RunContext
from eaio_addon.engine.optimize import Plan
from eaio_addon.options import parse_options
from eaio_addon.store import EntityMeta, Store, StoreDb, reading
import pytest

from tests.agents_site import METAS, TARIFF, Sink, hour_now, make_orchestrator, open_filled

SOC = "sensor.home_battery_soc"
BATTERY = {"capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 90, "min_soc": 10, "max_soc": 100}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_filled(tmp_path / "data", hour_now())
    yield s
    await s.close()


def make(store: Store, **options: Any) -> Orchestrator:
    return make_orchestrator(store, Sink(), options)


def _hours(span: str) -> set[int]:
    """The hours of the day a stretch like 11:00-16:00 covers (running past midnight when it must)."""
    start, end = (int(part[:2]) for part in span.split("-"))
    return {h % 24 for h in range(start, end if end > start else end + 24)}


async def test_a_battery_is_charged_in_cheap_hours_and_discharged_in_the_peak(tmp_path: Path) -> None:
    # Planned from 03:00: the coming day holds a cheap stretch and the whole peak (from 16:00 the
    # empty battery could not discharge before tomorrow's peak, outside the coming day).
    end = hour_now().replace(hour=3)
    store = await open_filled(tmp_path / "data", end)
    try:
        result = await make_orchestrator(store, Sink(), {"battery": BATTERY}, clock=lambda: end).run("test")
    finally:
        await store.close()
    assert result.status == "ok", result.errors
    battery = next(r for r in result.recommendations if r["method"] == "battery_dispatch")
    assert battery["id"] == "load-battery-schedule" and battery["category"] == "load"
    assert battery["action"] == {"type": "plan", "key": "battery"}  # applying it follows the pushed plan
    assert "target_entity" not in battery
    assert battery["estimated_savings_per_day"] > 0
    # Grid energy only moves to cheaper hours: no kWh is saved (the losses add to the import).
    assert battery["estimated_savings_kwh_per_day"] == 0.0
    title = battery["title"]
    assert title.startswith("Charge the battery ") and ", discharge " in title
    charge, discharge = title.removeprefix("Charge the battery ").split(", discharge ")
    peak = set(range(16, 21))
    for span in charge.split(", "):
        assert not _hours(span) & peak, title  # charged at 0.20
    for span in discharge.split(", "):
        assert _hours(span) <= peak, title  # discharged at 0.50
    # Still proposed alongside: the always-on waste of the same agent.
    assert "load-always-on" in [r["id"] for r in result.recommendations]


async def test_the_schedule_follows_the_plan(store: Store) -> None:
    orch = make(store, battery=BATTERY)
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    ctx = orch.last_context
    assert ctx is not None and ctx.price is not None
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.battery is not None
    battery = next(c for c in ctx.candidates if c.method == "battery_dispatch")
    price = ctx.price.values[: plan.hours]
    charge, discharge = plan.battery.charge_kw > 1e-3, plan.battery.discharge_kw > 1e-3
    assert charge.any() and discharge.any()
    assert set(price[charge]) == {0.20} and set(price[discharge]) == {0.50}
    assert battery.money_per_day == pytest.approx(plan.saving * 24 / plan.hours, abs=1e-3)
    # Without a sensor the plan starts at min_soc and ends with at least as much.
    assert battery.facts["initial_soc_pct"] == 10.0 and battery.facts["initial_soc_from"] == "min_soc"
    assert plan.battery.soc_kwh[0] == pytest.approx(1.0)
    assert plan.battery.soc_kwh[-1] >= 1.0 - 1e-6
    assert float(battery.facts["loss_kwh_per_day"]) > 0
    assert battery.valid_until == ctx.now + timedelta(days=1)


async def test_the_state_of_charge_comes_from_the_sensor(store: Store) -> None:
    now = hour_now()
    await store.call(StoreDb.set_learned, [*METAS, EntityMeta(SOC, "option", "measurement", "%", "battery", "SoC")])
    await store.call(StoreDb.add_readings, [reading(SOC, (now - timedelta(hours=3)).timestamp(), "35"),
                                            reading(SOC, (now + timedelta(minutes=1)).timestamp(), "62.5")])
    orch = make(store, battery={**BATTERY, "soc_entity": SOC})
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    ctx = orch.last_context
    assert ctx is not None
    battery = next(c for c in ctx.candidates if c.method == "battery_dispatch")
    assert battery.facts["initial_soc_pct"] == 62.5 and battery.facts["initial_soc_from"] == SOC
    assert battery.confidence == 0.7
    plan = ctx.plans["load"]
    assert plan.battery.soc_kwh[0] == pytest.approx(6.25)
    assert plan.battery.soc_kwh[-1] >= 6.25 - 1e-6  # the saving is not drawn from what was stored
    # The sensor is no role of the building: the site's roles are what they were.
    assert ctx.site is not None and SOC not in ctx.site.entities.values()


async def test_no_battery_no_battery_schedule(store: Store) -> None:
    orch = make(store)
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert not [r for r in result.recommendations if r["method"] == "battery_dispatch"]
    ctx = orch.last_context
    assert ctx is not None and ctx.plans["load"].battery is None


async def test_a_flat_tariff_gives_no_battery_schedule(store: Store) -> None:
    # Nothing to gain from shifting energy under one price: the plan leaves the battery idle.
    orch = make(store, battery=BATTERY, tariff=[{"start": "00:00", "price": 0.30}])
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert not [r for r in result.recommendations if r["method"] == "battery_dispatch"]


def test_the_engine_battery_from_the_options() -> None:
    options = parse_options({"battery": {**BATTERY, "min_soc": 20, "max_soc": 90}})
    assert options.battery is not None
    spec = battery_spec(options.battery, 50.0)
    assert spec.capacity_kwh == 10 and spec.max_charge_kw == spec.max_discharge_kw == 3
    assert spec.charge_efficiency * spec.discharge_efficiency == pytest.approx(0.90)
    assert (spec.soc_min_kwh, spec.soc_max, spec.initial_soc_kwh, spec.terminal_soc_kwh) == (2.0, 9.0, 5.0, 5.0)


async def test_a_sensor_outside_the_bounds_starts_the_plan_at_the_nearest_bound(store: Store) -> None:
    now = hour_now()
    await store.call(StoreDb.set_learned, [*METAS, EntityMeta(SOC, "option", "measurement", "%", "battery", "SoC")])
    await store.call(StoreDb.add_readings, [reading(SOC, now.timestamp() + 60, "4")])
    options = parse_options({"tariff": TARIFF, "battery": {**BATTERY, "soc_entity": SOC}})
    ctx = RunContext("r", options, now)
    agent = LoadAgent(EventBus(), store)
    assert options.battery is not None
    soc, source = await agent._soc(ctx, options.battery)
    assert (soc, source) == (10.0, SOC)
    assert any("outside min_soc..max_soc" in n for n in ctx.notes)
    # No reading in the last two days: min_soc, and a note saying so.
    ctx = RunContext("r", options, now + timedelta(days=3))
    assert await agent._soc(ctx, options.battery) == (10.0, "min_soc")
    assert any("no state of charge" in n for n in ctx.notes)

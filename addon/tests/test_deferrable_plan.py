"""Appliances that can wait and an electric car from the options: the load agent places them under the tariff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.load import LoadAgent
from eaio_addon.agents.optimizers import site_inputs
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import RunContext
from eaio_addon.engine.optimize import DeferrableRun, EVCharge, Plan, make_plan
from eaio_addon.options import OptionError, parse_options
import pytest

from tests.agents_site import Sink, hour_now, make_orchestrator, open_filled

DISHWASHER = {"name": "Dishwasher", "power_kw": 1.2, "run_hours": 2, "earliest": "18:00", "latest": "07:00",
              "entity": "switch.dishwasher"}
EV = {"energy_kwh": 10, "max_power_kw": 7, "ready_by": "07:00", "plugged_in": "18:00"}
PEAK = set(range(16, 21))  # agents_site.TARIFF: 0.50 from 16:00 to 21:00, 0.20 otherwise


# --- options ------------------------------------------------------------------------------------------

def test_none_by_default() -> None:
    options = parse_options({})
    assert options.deferrable_loads == () and options.ev is None
    empty = parse_options({"deferrable_loads": None, "ev": None})  # left empty in a YAML file
    assert empty.deferrable_loads == () and empty.ev is None


def test_appliances_and_a_car() -> None:
    options = parse_options({
        "deferrable_loads": [DISHWASHER, {"name": "Washing machine", "power_kw": "2", "run_hours": 1.5},
                             {"name": "water heater", "power_kw": 3, "run_hours": 3, "latest": "06:00"}],
        "ev": {**EV, "entity": "switch.wallbox"}})
    dish, washer, heater = options.deferrable_loads
    assert (dish.key, dish.power_kw, dish.run_hours, dish.entity) == ("dishwasher", 1.2, 2.0, "switch.dishwasher")
    assert (dish.earliest_minute, dish.window_minutes) == (18 * 60, 13 * 60)  # past midnight
    assert (washer.key, washer.power_kw, washer.earliest_minute, washer.window_minutes) == (
        "washing-machine", 2.0, 0, 24 * 60)  # any time of day
    assert (heater.earliest_minute, heater.window_minutes) == (6 * 60, 24 * 60)  # the day before 06:00
    assert options.ev is not None
    assert (options.ev.energy_kwh, options.ev.max_power_kw, options.ev.entity) == (10.0, 7.0, "switch.wallbox")
    assert (options.ev.plugged_in_minute, options.ev.ready_by_minute, options.ev.window_minutes) == (
        18 * 60, 7 * 60, 13 * 60)
    all_day = parse_options({"ev": {"energy_kwh": 30, "max_power_kw": 3.7, "ready_by": "07:30"}}).ev
    assert all_day is not None and all_day.window_minutes == 24 * 60


def _load(**fields: Any) -> dict[str, Any]:
    return {"name": "dishwasher", "power_kw": 1.2, "run_hours": 2, **fields}


@pytest.mark.parametrize(("raw", "path", "words"), [
    ({"deferrable_loads": [{"name": "dishwasher", "run_hours": 2}]}, "deferrable_loads[0].power_kw", "missing"),
    ({"deferrable_loads": [_load(run_hours=None)]}, "deferrable_loads[0].run_hours", "missing"),
    ({"deferrable_loads": [_load(power_kw=80)]}, "deferrable_loads[0].power_kw", "above the maximum 50"),
    ({"deferrable_loads": [_load(run_hours=0.1)]}, "deferrable_loads[0].run_hours", "below the minimum 0.25"),
    ({"deferrable_loads": [_load(earliest="22:00", latest="22:00")]}, "deferrable_loads[0].latest",
     "the window is empty"),
    ({"deferrable_loads": [_load(earliest="22:00", latest="23:30")]}, "deferrable_loads[0].latest",
     "holds 1 whole hour(s); 'dishwasher' runs 2 h"),
    ({"deferrable_loads": [_load(earliest="7pm")]}, "deferrable_loads[0].earliest", "does not match"),
    ({"deferrable_loads": [_load(entity="Switch.X")]}, "deferrable_loads[0].entity", "does not match"),
    ({"deferrable_loads": [_load(), _load(name="Dish washer"), _load(name="DISHWASHER")]},
     "deferrable_loads[2].name", "the same as 'dishwasher'"),
    ({"deferrable_loads": [_load(name=" -- ")]}, "deferrable_loads[0].name", "needs a letter or digit"),
    ({"deferrable_loads": [_load(name="EV")]}, "deferrable_loads[0].name", "the car's name"),
    ({"deferrable_loads": [_load(power=1)]}, "deferrable_loads[0].power", "did you mean 'power_kw'"),
    ({"deferrable_loads": _load()}, "deferrable_loads", "expected a list"),
    ({"ev": {"max_power_kw": 7, "ready_by": "07:00"}}, "ev.energy_kwh", "missing"),
    ({"ev": {"energy_kwh": 10, "ready_by": "07:00"}}, "ev.max_power_kw", "missing"),
    ({"ev": {"energy_kwh": 10, "max_power_kw": 7}}, "ev.ready_by", "missing"),
    ({"ev": {**EV, "plugged_in": "07:00"}}, "ev.plugged_in", "the same as ready_by"),
    ({"ev": {**EV, "plugged_in": "04:00", "max_power_kw": 3}}, "ev.energy_kwh",
     "10 kWh cannot be charged in the 3 whole hour(s) before 07:00 at 3 kW"),
    ({"ev": {**EV, "energy_kwh": 0}}, "ev.energy_kwh", "below the minimum"),
    ({"ev": {**EV, "ready": "07:00"}}, "ev.ready", "did you mean 'ready_by'"),
])
def test_bad_appliances_name_the_field_and_the_problem(raw: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_options(raw)
    assert info.value.path == path
    assert words in str(info.value)


# --- the load agent -----------------------------------------------------------------------------------

@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    s = await open_filled(tmp_path / "data", hour_now())
    yield s
    await s.close()


async def _run(store: Any, **options: Any) -> RunContext:
    orch: Orchestrator = make_orchestrator(store, Sink(), options)
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert orch.last_context is not None
    return orch.last_context


def _next(site_start: datetime, clock: int, tz: ZoneInfo) -> datetime:
    """The first local ``clock``:00 at or after the plan's start (the agent plans the next window)."""
    local = site_start.astimezone(tz)
    begin = local.replace(hour=clock, minute=0)
    return begin if begin >= site_start else begin + timedelta(days=1)


async def test_the_dishwasher_runs_outside_the_peak(store: Any) -> None:
    ctx = await _run(store, deferrable_loads=[DISHWASHER])
    dish = next(c for c in ctx.candidates if c.key == "deferrable-dishwasher")
    assert dish.category == "load" and dish.method == "deferrable_shift"
    assert dish.title == f"Run the Dishwasher at {dish.facts['start']}"
    start = int(str(dish.facts["start"])[:2])
    assert start not in PEAK and (start + 1) % 24 not in PEAK and (start >= 21 or start <= 5)
    assert dish.facts["start_at_window_start"] == "18:00" and dish.facts["window"] == "18:00-07:00"
    # A shift saves money, not energy; the timed start is in the pushed plan, applying it follows the plan.
    assert dish.kwh_per_day == 0.0 and any("saves none" in r for r in dish.reasons)
    assert dish.action == {"type": "plan", "key": "dishwasher"} and dish.target_entity == "switch.dishwasher"
    assert dish.valid_until == ctx.now + timedelta(days=1)
    # The saving is the engine's: the plan with the run held at 18:00 against the plan.
    site = site_inputs(ctx)
    tz = ZoneInfo(ctx.tz)
    begin = _next(site.start, 18, tz)
    free = make_plan(site, deferrables=[DeferrableRun("Dishwasher", (1.2, 1.2), begin, begin + timedelta(hours=13))])
    held = make_plan(site, deferrables=[DeferrableRun("Dishwasher", (1.2, 1.2), begin, begin + timedelta(hours=2))])
    assert dish.money_per_day == pytest.approx(held.totals.cost - free.totals.cost, abs=1e-3)
    assert dish.money_per_day == pytest.approx(2.4 * (0.50 - 0.20), abs=1e-3)  # two peak hours moved out
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.deferrables[0].start is not None
    assert f"{plan.deferrables[0].start.astimezone(tz):%H:%M}" == dish.facts["start"]


async def test_the_ev_charges_outside_the_peak(store: Any) -> None:
    ctx = await _run(store, ev=EV)
    ev = next(c for c in ctx.candidates if c.key == "ev-charging")
    assert ev.method == "ev_charge_shift" and ev.kwh_per_day == 0.0
    assert ev.title == f"Charge the EV {ev.facts['charge']}"
    assert ev.action == {"type": "plan", "key": "car"} and ev.target_entity is None
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and ctx.price is not None
    charging = plan.evs[0].power_kw > 1e-3
    assert charging.any() and set(ctx.price.values[: plan.hours][charging]) == {0.20}
    assert plan.evs[0].delivered_kwh == pytest.approx(10.0, abs=1e-6)
    # Charging from 18:00 at full power: 7 kW, then the rest, all in the peak.
    site = site_inputs(ctx)
    begin = _next(site.start, 18, ZoneInfo(ctx.tz))
    free = make_plan(site, evs=[EVCharge("car", 10, 7, begin, begin + timedelta(hours=13), 0.9)])
    held = make_plan(site, deferrables=[DeferrableRun("car", (7.0, 10 / 0.9 - 7.0), begin, begin + timedelta(hours=2))])
    assert ev.money_per_day == pytest.approx(held.totals.cost - free.totals.cost, abs=1e-3)
    assert ev.money_per_day == pytest.approx(10 / 0.9 * (0.50 - 0.20), abs=1e-3)


async def test_with_a_battery_in_the_same_plan(store: Any) -> None:
    ctx = await _run(store, deferrable_loads=[DISHWASHER], ev=EV,
                     battery={"capacity_kwh": 10, "max_power_kw": 3})
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.battery is not None and plan.evs and plan.deferrables
    keys = {c.key for c in ctx.candidates}
    assert {"battery-schedule", "deferrable-dishwasher", "ev-charging"} <= keys
    battery = next(c for c in ctx.candidates if c.key == "battery-schedule")
    # The battery's saving is its own: against the plan without it, the appliances still placed.
    without = make_plan(site_inputs(ctx), evs=[EVCharge("car", 10, 7, *_window(ctx, 18, 13))],
                        deferrables=[DeferrableRun("Dishwasher", (1.2, 1.2), *_window(ctx, 18, 13))])
    assert battery.money_per_day == pytest.approx((without.totals.cost - plan.totals.cost) * 24 / plan.hours,
                                                  abs=1e-3)
    # The plan's summary counts the appliances' shifts too: it is not among the battery's reasons.
    assert not [r for r in battery.reasons if r.startswith("Plan costs")]


def _window(ctx: RunContext, clock: int, hours: int) -> tuple[datetime, datetime]:
    begin = _next(site_inputs(ctx).start, clock, ZoneInfo(ctx.tz))
    return begin, begin + timedelta(hours=hours)


async def test_a_window_the_plan_cannot_hold_leaves_only_that_appliance_out(store: Any) -> None:
    ctx = await _run(store)
    # Half an hour off UTC, the plan's hours begin at :30 local: 18:00-20:00 holds one of them, not two.
    ctx.tz = "Asia/Kolkata"
    ctx.options = parse_options({"tariff": [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50},
                                            {"start": "21:00", "price": 0.20}],
                                 "deferrable_loads": [_load(name="dryer", earliest="18:00", latest="20:00"),
                                                      DISHWASHER]})
    ctx.plans.clear()
    await LoadAgent(EventBus()).optimise(ctx)
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and [r.name for r in plan.deferrables] == ["Dishwasher"]
    assert plan.deferrables[0].start is not None
    assert any("no plan for dryer, Dishwasher" in n and "deferrable_window_too_short" in n for n in ctx.notes)


async def test_a_flat_tariff_recommends_no_shift(store: Any) -> None:
    ctx = await _run(store, deferrable_loads=[DISHWASHER], ev=EV, tariff=[{"start": "00:00", "price": 0.30}])
    assert not [c for c in ctx.candidates if c.method in ("deferrable_shift", "ev_charge_shift")]


async def test_nothing_without_the_options(store: Any) -> None:
    ctx = await _run(store)
    assert not [c for c in ctx.candidates if c.method in ("deferrable_shift", "ev_charge_shift")]
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.evs == () and plan.deferrables == ()

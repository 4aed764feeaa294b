"""The ``carbon_entity`` option: parsed and learned, read from the store, and capping the battery's plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eaio_addon.agents.load import OWN_MODE_REASON, battery_spec, shiftables
from eaio_addon.agents.optimizers import site_inputs
from eaio_addon.agents.orchestrator import Orchestrator, RunResult
from eaio_addon.agents.site import RunContext
from eaio_addon.engine.optimize import (
    Battery,
    DeferrableRun,
    EVCharge,
    Plan,
    SiteInputs,
    make_plan,
    self_consumption,
)
from eaio_addon.engine.optimize.safe import SELF_CONSUMPTION_NOTE, expected
from eaio_addon.option_types import OptionError
from eaio_addon.options import parse_options
from eaio_addon.store import EntityMeta, Store, StoreDb, reading
import numpy as np
import pytest

from tests.agents_site import METAS, Sink, make_orchestrator, open_filled

CARBON = "sensor.grid_carbon_intensity"
BATTERY = {"capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 90, "min_soc": 10, "max_soc": 100}
END = datetime(2026, 6, 1, 3, tzinfo=UTC)  # the runs plan from here: a cheap stretch, then the peak (16-21)


def grams(hour: int) -> float:
    """The grid is dirty in the tariff's cheap hours and clean in its peak: charging there emits more."""
    return 100.0 if 16 <= hour < 21 else 400.0


async def with_carbon(store: Store, unit: str | None, hours: int) -> None:
    """The carbon sensor learned in ``unit``, with one reading at the start of each of the last ``hours``."""
    await store.call(StoreDb.set_learned, [*METAS, EntityMeta(CARBON, "option", "measurement", unit, None, "Grid CO2")])
    first = END - timedelta(hours=hours)
    rows = [reading(CARBON, (first + timedelta(hours=k)).timestamp(), f"{grams((first + timedelta(hours=k)).hour):g}")
            for k in range(hours)]
    await store.call(StoreDb.add_readings, rows)


def test_the_option_is_an_optional_entity_that_is_learned() -> None:
    options = parse_options({"entities": ["sensor.grid_energy"], "carbon_entity": CARBON})
    assert options.carbon_entity == CARBON
    assert options.learned_entities == ("sensor.grid_energy", CARBON)  # the collector keeps its readings
    missing = parse_options({"entities": ["sensor.grid_energy"]})
    assert missing.carbon_entity is None and missing.learned_entities == ("sensor.grid_energy",)
    assert parse_options({"carbon_entity": None}).carbon_entity is None
    with pytest.raises(OptionError, match=r"option 'carbon_entity'.*does not match"):
        parse_options({"carbon_entity": "grid carbon"})
    with pytest.raises(OptionError, match=r"carbon_entyti.*did you mean 'carbon_entity'"):
        parse_options({"carbon_entyti": CARBON})


async def test_a_carbon_sensor_caps_the_batterys_plan(tmp_path: Path) -> None:
    store = await open_filled(tmp_path / "data", END)
    try:
        await with_carbon(store, "gCO2eq/kWh", 30)
        free = make_orchestrator(store, Sink(), {"battery": BATTERY}, clock=lambda: END)
        assert (await free.run("test")).missing == []
        capped = make_orchestrator(store, Sink(), {"battery": BATTERY, "carbon_entity": CARBON}, clock=lambda: END)
        result = await capped.run("test")
    finally:
        await store.close()
    assert result.missing == [], result.errors
    ctx = capped.last_context
    assert ctx is not None and ctx.carbon is not None and ctx.carbon.unit == "gCO2eq/kWh"
    # The last day repeated, in kg/kWh, from the run's hour on.
    assert ctx.carbon.series.start == END
    assert list(ctx.carbon.series.values[:24]) == [grams((END + timedelta(hours=k)).hour) / 1000 for k in range(24)]
    site = site_inputs(ctx)
    assert set(site.co2) == {0.1, 0.4}
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.battery is not None
    assert plan.totals.carbon_kg > 0 and plan.baseline.carbon_kg > 0  # the plan knows the grid's carbon
    assert capped.options.battery is not None
    spec = battery_spec(capped.options.battery, 10.0)  # no state-of-charge sensor: the plan starts at min_soc
    ceiling = expected(site, spec, self_consumption(site, spec)).carbon_kg
    assert expected(site, spec, plan.battery).carbon_kg <= ceiling + 1e-3
    # Without the sensor the same home's plan buys in the dirty cheap hours for the clean peak.
    assert free.last_context is not None
    uncapped = free.last_context.plans["load"]
    assert uncapped.battery is not None and float(uncapped.battery.discharge_kw.sum()) > 1.0
    assert expected(site, spec, uncapped.battery).carbon_kg > ceiling + 0.5
    assert float(plan.battery.discharge_kw.sum()) < float(uncapped.battery.discharge_kw.sum())
    note = next(n for n in result.notes if n.startswith("load: carbon capped"))
    assert f"capped at the self-consumption mode's, from {CARBON}" in note and "kg CO2 over 48 h" in note


async def _battery_run(tmp_path: Path, unit: str, hours: int) -> tuple[RunResult, Orchestrator]:
    """A run with the battery and a carbon sensor learned in ``unit`` with ``hours`` of history."""
    store = await open_filled(tmp_path / "data", END)
    try:
        await with_carbon(store, unit, hours)
        orch = make_orchestrator(store, Sink(), {"battery": BATTERY, "carbon_entity": CARBON}, clock=lambda: END)
        return await orch.run("test"), orch
    finally:
        await store.close()


async def test_a_carbon_sensor_in_another_unit_is_refused_in_the_runs_errors(tmp_path: Path) -> None:
    result, orch = await _battery_run(tmp_path, "lb/MWh", 30)
    assert result.missing == ["carbon"]
    assert CARBON in result.errors["carbon"] and "lb/MWh" in result.errors["carbon"]
    assert "gCO2eq/kWh, g/kWh or kg/kWh" in result.errors["carbon"]
    ctx = orch.last_context
    assert ctx is not None and ctx.carbon is None
    plan = ctx.plans["load"]  # the rest of the run goes on, without carbon
    assert plan.totals.carbon_kg == 0.0 and "load-battery-schedule" in [r["id"] for r in result.recommendations]


async def test_less_than_a_day_of_carbon_history_plans_without_carbon(tmp_path: Path) -> None:
    result, orch = await _battery_run(tmp_path, "g/kWh", 20)
    assert result.missing == [], result.errors
    assert f"carbon: {CARBON} has less than a day of history; the plan has no carbon yet" in result.notes
    ctx = orch.last_context
    assert ctx is not None and ctx.carbon is None
    assert ctx.plans["load"].totals.carbon_kg == 0.0
    assert not any(n.startswith("load: carbon") for n in result.notes)
    assert np.all(site_inputs(ctx).co2 == 0.0)


# --- with a car and an appliance in the same plan ------------------------------------------------

EV = {"energy_kwh": 10, "max_power_kw": 7, "ready_by": "07:00", "plugged_in": "18:00"}
DISHWASHER = {"name": "Dishwasher", "power_kw": 1.2, "run_hours": 2, "earliest": "18:00", "latest": "07:00"}
SOC = "sensor.battery_soc"


async def _run_with_shifts(tmp_path: Path, soc_pct: float | None = None) -> tuple[RunResult, RunContext, Battery]:
    """A run with the battery, the car, the dishwasher and the carbon sensor (and a state of charge)."""
    store = await open_filled(tmp_path / "data", END)
    battery: dict[str, Any] = dict(BATTERY)
    try:
        await with_carbon(store, "gCO2eq/kWh", 30)
        if soc_pct is not None:
            battery["soc_entity"] = SOC
            await store.call(StoreDb.set_learned, [*METAS, EntityMeta(CARBON, "option", "measurement", "gCO2eq/kWh",
                                                                      None, "Grid CO2"),
                                                   EntityMeta(SOC, "option", "measurement", "%", "battery", "SoC")])
            await store.call(StoreDb.add_readings, [reading(SOC, (END - timedelta(minutes=30)).timestamp(),
                                                            f"{soc_pct:g}")])  # fmt: skip
        orch = make_orchestrator(store, Sink(), {"battery": battery, "carbon_entity": CARBON, "ev": EV,
                                                 "deferrable_loads": [DISHWASHER]}, clock=lambda: END)  # fmt: skip
        result = await orch.run("test")
    finally:
        await store.close()
    assert result.missing == [], result.errors
    ctx = orch.last_context
    assert ctx is not None and ctx.carbon is not None and orch.options.battery is not None
    return result, ctx, battery_spec(orch.options.battery, 10.0 if soc_pct is None else soc_pct)


def _with_shifts(site: SiteInputs, plan: Plan) -> SiteInputs:
    """The site's load with the plan's car charging and appliance run."""
    drawn = sum((e.power_kw for e in plan.evs), np.zeros(plan.hours))
    drawn = drawn + sum((d.power_kw for d in plan.deferrables), np.zeros(plan.hours))
    return replace(site, load=site.load + drawn)


def _shifts(ctx: RunContext, site: SiteInputs) -> tuple[list[EVCharge], list[DeferrableRun]]:
    """The car and the dishwasher as the agent plans them."""
    shifts = shiftables(ctx.options.deferrable_loads, ctx.options.ev, site, ctx.measured, ctx.previous_plan)
    return [s.ev for s in shifts if s.ev is not None], [s.run for s in shifts if s.run is not None]


async def test_with_a_car_and_an_appliance_the_plan_buys_no_more_carbon_than_the_own_mode(tmp_path: Path) -> None:
    result, ctx, spec = await _run_with_shifts(tmp_path)
    site = site_inputs(ctx)
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.battery is not None and plan.evs and plan.deferrables
    # The comparison built here: the car and dishwasher as without a battery, the battery in its own mode.
    evs, runs = _shifts(ctx, site)
    home = _with_shifts(site, make_plan(site, evs=evs, deferrables=runs))
    ceiling = expected(home, spec, self_consumption(home, spec)).carbon_kg
    assert expected(_with_shifts(site, plan), spec, plan.battery).carbon_kg <= ceiling + 1e-4
    # The same home's plan without the guard charges in the dirty cheap hours for the clean peak.
    unguarded = make_plan(site, battery=spec, evs=evs, deferrables=runs)
    assert unguarded.battery is not None and float(unguarded.battery.discharge_kw.sum()) > 1.0
    assert expected(_with_shifts(site, unguarded), spec, unguarded.battery).carbon_kg > ceiling + 0.5
    assert float(plan.battery.discharge_kw.sum()) < 1e-3  # every cycle here buys dirty energy for clean hours
    ids = [r["id"] for r in result.recommendations]
    assert {"load-ev-charging", "load-deferrable-dishwasher"} <= set(ids) and "load-battery-schedule" not in ids
    note = next(n for n in result.notes if n.startswith("load: carbon capped"))
    assert f"from {CARBON}" in note and "in that mode with the same car and appliance runs" in note


async def test_with_a_car_and_an_appliance_a_fallback_to_the_own_mode_is_said(tmp_path: Path) -> None:
    # 80 % stored at 03:00: the own mode spends it on the dirty night; a plan that must end as full
    # could only match that carbon by buying in the dear clean peak, so it costs more and is not taken.
    result, ctx, spec = await _run_with_shifts(tmp_path, soc_pct=80.0)
    site = site_inputs(ctx)
    plan = ctx.plans["load"]
    assert isinstance(plan, Plan) and plan.battery is not None
    evs, runs = _shifts(ctx, site)
    alone = make_plan(site, evs=evs, deferrables=runs)
    own = self_consumption(_with_shifts(site, alone), spec)
    np.testing.assert_allclose(plan.battery.discharge_kw, own.discharge_kw)
    np.testing.assert_allclose(plan.battery.charge_kw, own.charge_kw)
    np.testing.assert_allclose(plan.evs[0].power_kw, alone.evs[0].power_kw)  # the car and dishwasher kept
    assert plan.deferrables[0].start == alone.deferrables[0].start
    assert any(n.startswith("load: the plan was expected to cost") and n.endswith(SELF_CONSUMPTION_NOTE)
               for n in result.notes)
    battery = next(r for r in result.recommendations if r["id"] == "load-battery-schedule")
    assert battery["reasons"][0] == OWN_MODE_REASON
    assert {"load-ev-charging", "load-deferrable-dishwasher"} <= {r["id"] for r in result.recommendations}

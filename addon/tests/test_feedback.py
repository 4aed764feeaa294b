"""Re-plans start from the measured state: the controllables' feedback sensors over the link, the options'
entities for an older integration, what the last plan started, and a re-plan when the battery drifts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eaio_addon.agents.feedback import Feedback, Measured, ran_since
from eaio_addon.agents.load import shiftables
from eaio_addon.agents.plan_push import LoadPlanParts
from eaio_addon.engine.optimize import SiteInputs
from eaio_addon.ha_link import HaLink
from eaio_addon.options import parse_options
import numpy as np
import pytest

from tests.agents_site import Sink, hour_now, make_orchestrator, open_filled
from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until

NOW = datetime(2026, 12, 6, 15, tzinfo=UTC)  # 15:00 UTC, 16:00 in Berlin
TZ = "Europe/Berlin"
BATTERY = {"capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 90, "min_soc": 10, "max_soc": 100,
           "soc_entity": "sensor.option_soc"}
DISHWASHER = {"name": "Dishwasher", "power_kw": 1.2, "run_hours": 2, "earliest": "18:00", "latest": "07:00",
              "entity": "switch.dishwasher"}
EV = {"energy_kwh": 10, "max_power_kw": 7, "ready_by": "07:00", "plugged_in": "14:00"}
CONTROLLABLES = [
    {"id": "c1", "plan_key": "battery", "kind": "battery", "entity_id": "number.inverter_power",
     "feedback_entity": "sensor.inverter_soc", "state": "following"},
    {"id": "c2", "plan_key": "car", "kind": "ev", "entity_id": "switch.wallbox",
     "feedback_entity": "sensor.wallbox_session_energy", "state": "following"},
    {"id": "c3", "plan_key": "zone", "kind": "hvac_zone", "entity_id": "climate.living", "feedback_entity": None},
]


def _state(entity_id: str, state: str, **attributes: Any) -> dict[str, Any]:
    return {"entity_id": entity_id, "state": state, "attributes": attributes, "last_changed": "", "last_updated": ""}


@pytest.fixture
async def ha() -> AsyncIterator[FakeHomeAssistant]:
    fake = FakeHomeAssistant()
    for state in (_state("sensor.inverter_soc", "63", unit_of_measurement="%"),
                  _state("sensor.option_soc", "20", unit_of_measurement="%"),
                  _state("sensor.wallbox_session_energy", "4000", unit_of_measurement="Wh"),
                  _state("climate.living", "cool", current_temperature=23.4),
                  _state("switch.dishwasher", "off")):
        fake.states[state["entity_id"]] = state
    midnight = datetime(2026, 12, 6, tzinfo=ZoneInfo(TZ)).timestamp()
    # Run by hand this morning, 08:00-10:00 local.
    fake.history["switch.dishwasher"] = [(midnight + 8 * 3600, "on"), (midnight + 10 * 3600, "off")]
    await fake.start()
    yield fake
    await fake.stop()


async def test_the_controllables_name_the_sensors(ha: FakeHomeAssistant, link: HaLink) -> None:
    ha.commands["eaio/controllables"] = lambda msg: CONTROLLABLES
    options = parse_options({"battery": BATTERY, "deferrable_loads": [DISHWASHER], "ev": EV})
    measured = await Feedback(link).measure(options, NOW, TZ)
    assert measured.controllables == CONTROLLABLES
    # The controllable's sensor wins over the options' soc_entity.
    assert (measured.soc_pct, measured.soc_entity) == (63.0, "sensor.inverter_soc")
    assert measured.ev_delivered_kwh == pytest.approx(4.0)  # Wh read as kWh
    assert measured.zone_temperature == pytest.approx(23.4)  # the climate entity's own reading
    assert measured.ran_today == {"dishwasher"}  # two hours on this morning, from the recorder's history


async def test_an_older_integration_falls_back_to_the_options(ha: FakeHomeAssistant, link: HaLink) -> None:
    options = parse_options({"battery": BATTERY, "deferrable_loads": [DISHWASHER], "ev": EV})
    feedback = Feedback(link)
    measured = await feedback.measure(options, NOW, TZ)  # eaio/controllables: unknown_command
    assert feedback.supported is False and measured.controllables is None
    assert (measured.soc_pct, measured.soc_entity) == (20.0, "sensor.option_soc")
    assert measured.ev_delivered_kwh is None and measured.zone_temperature is None
    assert measured.ran_today == {"dishwasher"}  # the options' entity


async def test_a_sensor_without_a_number_is_no_state_of_charge(ha: FakeHomeAssistant, link: HaLink) -> None:
    ha.states["sensor.option_soc"] = _state("sensor.option_soc", "unavailable")
    measured = await Feedback(link).measure(parse_options({"battery": BATTERY}), NOW, TZ)
    assert measured.soc_pct is None and any("sensor.option_soc" in n for n in measured.notes)


# --- what the last plan started -------------------------------------------------------------------------


def _site(start: datetime, hours: int = 48) -> SiteInputs:
    return SiteInputs(start, np.full(hours, 0.5), np.zeros(hours), np.full(hours, 0.2), tz=ZoneInfo(TZ))


def _previous(key: str, run: tuple[datetime, datetime] | None, slots: dict[datetime, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "slots": [{"start": t.isoformat(), "value": v} for t, v in slots.items()]}
    if run is not None:
        item["run"] = {"start": run[0].isoformat(), "end": run[1].isoformat()}
    return {"items": [item]}


def test_a_run_under_way_goes_on_to_its_end() -> None:
    options = parse_options({"deferrable_loads": [DISHWASHER]})
    start = datetime(2026, 12, 6, 22, tzinfo=UTC)  # 23:00 local, an hour into a run that started at 22:00
    previous = _previous("dishwasher", (start - timedelta(hours=1), start + timedelta(hours=1)), {})
    (shift,) = shiftables(options.deferrable_loads, None, _site(start), None, previous)
    assert shift.run is not None and shift.run.profile_kw == (1.2,)
    assert (shift.window_start, shift.window_end) == (start, start + timedelta(hours=1))


def test_a_run_planned_later_in_the_open_window_stays_in_it() -> None:
    options = parse_options({"deferrable_loads": [DISHWASHER]})
    start = datetime(2026, 12, 6, 18, tzinfo=UTC)  # 19:00 local: the window opened at 18:00
    later = start + timedelta(hours=3)
    previous = _previous("dishwasher", (later, later + timedelta(hours=2)), {later: True})
    (shift,) = shiftables(options.deferrable_loads, None, _site(start), None, previous)
    assert shift.window_start == start and shift.window_end == datetime(2026, 12, 7, 7, tzinfo=ZoneInfo(TZ))
    # Without the last plan (a first run), the next window: tomorrow's 18:00.
    (fresh,) = shiftables(options.deferrable_loads, None, _site(start))
    assert fresh.window_start == datetime(2026, 12, 7, 18, tzinfo=ZoneInfo(TZ))
    # Already run today: tomorrow's window even with the plan.
    (ran,) = shiftables(options.deferrable_loads, None, _site(start), Measured(ran_today={"dishwasher"}), previous)
    assert ran.window_start == datetime(2026, 12, 7, 18, tzinfo=ZoneInfo(TZ))


def test_a_run_past_midnight_was_yesterdays() -> None:
    tz = ZoneInfo(TZ)
    options = parse_options({"deferrable_loads": [DISHWASHER]})
    load = options.deferrable_loads[0]
    # 02:00 local, inside the 18:00-07:00 window: a run counts from the window's start (yesterday 18:00).
    at_two = datetime(2026, 12, 7, 2, tzinfo=tz)
    midnight = datetime(2026, 12, 7, tzinfo=tz)
    assert ran_since(at_two, midnight, load.earliest_minute, load.window_minutes, tz) == \
        datetime(2026, 12, 6, 18, tzinfo=tz)
    # 10:00 local, between windows: from the last window's end (07:00), not from midnight.
    at_ten = datetime(2026, 12, 7, 10, tzinfo=tz)
    assert ran_since(at_ten, midnight, load.earliest_minute, load.window_minutes, tz) == datetime(2026, 12, 7, 7,
                                                                                                    tzinfo=tz)
    # It ran in the open window: not again in it, but today's 18:00 window is the next one.
    start = at_two.astimezone(UTC)
    (shift,) = shiftables(options.deferrable_loads, None, _site(start), Measured(ran_today={"dishwasher"}), None)
    assert shift.window_start == datetime(2026, 12, 7, 18, tzinfo=tz)


def test_the_car_gets_what_is_still_missing_in_its_open_window() -> None:
    options = parse_options({"ev": EV})
    start = datetime(2026, 12, 6, 15, tzinfo=UTC)  # 16:00 local, plugged in since 14:00
    (shift,) = shiftables((), options.ev, _site(start), Measured(ev_delivered_kwh=4.0), None)
    assert shift.ev is not None and shift.ev.energy_kwh == pytest.approx(6.0)
    assert shift.window_start == start and shift.window_end == datetime(2026, 12, 7, 7, tzinfo=ZoneInfo(TZ))
    # No sensor: what the last plan had it charge (slots that ended) counts, after the charger's losses.
    previous = _previous("car", None, {start - timedelta(hours=1): 5.0, start + timedelta(hours=2): 1.0})
    (guess,) = shiftables((), options.ev, _site(start), None, previous)
    assert guess.ev is not None and guess.ev.energy_kwh == pytest.approx(10.0 - 5.0 * 0.9)
    # Full already: the next window.
    (full,) = shiftables((), options.ev, _site(start), Measured(ev_delivered_kwh=10.0), None)
    assert full.ev is not None and full.ev.energy_kwh == 10.0 and full.window_start > start


# --- the orchestrator -----------------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    s = await open_filled(tmp_path / "data", hour_now())
    yield s
    await s.close()


async def test_the_plan_starts_from_the_measured_state_and_drift_is_measured(
        ha: FakeHomeAssistant, link: HaLink, store: Any) -> None:
    ha.commands["eaio/controllables"] = lambda msg: CONTROLLABLES
    plans: list[dict[str, Any]] = []

    async def submit_plan(plan: dict[str, Any]) -> None:
        plans.append(plan)

    orch = make_orchestrator(store, Sink(), {"battery": BATTERY}, submit_plan=submit_plan, feedback=Feedback(link))
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert orch.last_context is not None
    parts = orch.last_context.plans["load_parts"]
    assert isinstance(parts, LoadPlanParts) and parts.battery is not None
    assert parts.battery.initial_soc_kwh == pytest.approx(6.3)  # 63 % of 10 kWh, from the inverter's sensor
    battery = next(i for i in plans[0]["items"] if i["key"] == "battery")
    assert battery["slots"][0]["soc"] == pytest.approx(63.0)
    # The inverter's controllable has no mode select: the planned power in every slot, never null.
    assert all(isinstance(s["value"], float) for s in battery["slots"])
    with_mode = [{**CONTROLLABLES[0], "mode_entity": "select.inverter_mode"}, *CONTROLLABLES[1:]]
    ha.commands["eaio/controllables"] = lambda msg: with_mode
    await orch.run("test")
    assert orch.plan is not None
    battery = next(i for i in orch.plan["items"] if i["key"] == "battery")
    discharging = [s for s in battery["slots"] if s["reason"].startswith("discharging")]
    assert discharging and all(s["value"] is None for s in discharging)  # its automatic mode covers the load
    # Automatic slots name no reserve while the controllable has no reserve entity to set.
    assert all("reserve" not in s for s in battery["slots"])
    with_reserve = [{**with_mode[0], "reserve_entity": "number.inverter_reserve"}, *with_mode[1:]]
    ha.commands["eaio/controllables"] = lambda msg: with_reserve
    await orch.run("test")
    assert orch.plan is not None
    battery = next(i for i in orch.plan["items"] if i["key"] == "battery")
    # With a reserve nothing is held at zero power: every slot is automatic or a grid charge, and
    # each automatic slot keeps a whole percentage that the plan's own charge never falls below.
    assert all(s["value"] is None or s["value"] > 0 for s in battery["slots"])
    automatic = [s for s in battery["slots"] if s["value"] is None]
    assert automatic and all(isinstance(s["reserve"], int) and 10 <= s["reserve"] <= 100 for s in automatic)
    socs = [s["soc"] for s in battery["slots"]]
    for k, s in enumerate(battery["slots"][:-1]):
        if s["value"] is None:
            assert s["reserve"] <= socs[k + 1] + 1e-6
    start = datetime.fromisoformat(plans[0]["start"])
    assert await orch.drift(start) == pytest.approx(0.0, abs=1e-6)
    ha.states["sensor.inverter_soc"] = _state("sensor.inverter_soc", "40", unit_of_measurement="%")
    assert await orch.drift(start) == pytest.approx(-23.0)  # past the 10-point threshold: a re-plan
    assert await orch.drift(start - timedelta(hours=1)) is None  # before the plan: nothing to compare


async def test_an_older_integration_does_not_break_the_run(link: HaLink, store: Any) -> None:
    orch = make_orchestrator(store, Sink(), {"battery": BATTERY}, submit_plan=_ignore, feedback=Feedback(link))
    result = await orch.run("test")
    assert result.status == "ok", result.errors
    assert orch.last_context is not None and orch.last_context.measured is not None
    parts = orch.last_context.plans["load_parts"]
    assert parts.battery.initial_soc_kwh == pytest.approx(2.0)  # the options' sensor: 20 %


async def _ignore(plan: dict[str, Any]) -> None:
    return None


async def test_a_drift_past_the_threshold_re_plans(ha: FakeHomeAssistant, link: HaLink, store: Any) -> None:
    ha.commands["eaio/controllables"] = lambda msg: CONTROLLABLES
    orch = make_orchestrator(store, Sink(), {"battery": BATTERY}, submit_plan=_ignore, feedback=Feedback(link))
    await orch.run("test")
    assert orch.plan is not None
    first = orch.plan["plan_id"]
    start = datetime.fromisoformat(orch.plan["start"])  # the plan's first moment: its SoC is the measured one
    watcher = asyncio.create_task(orch.watch_drift(every_s=0.05, min_gap_s=0.0, clock=lambda: start))
    try:
        await asyncio.sleep(0.3)
        assert orch.last is not None and orch.last.trigger == "test"  # on the plan: no re-plan
        ha.states["sensor.inverter_soc"] = _state("sensor.inverter_soc", "20", unit_of_measurement="%")
        await wait_until(lambda: orch.last is not None and orch.last.trigger == "drift", 60, "a drift re-plan")
    finally:
        watcher.cancel()
    assert orch.plan["plan_id"] != first
    battery = next(i for i in orch.plan["items"] if i["key"] == "battery")
    assert battery["slots"][0]["soc"] == pytest.approx(20.0)  # the new plan starts where the battery is

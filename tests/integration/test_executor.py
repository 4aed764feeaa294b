"""The plan executor in a real Home Assistant: slot boundaries (time injected), the guard's bounds and
rate limit, dry run, manual override, fail-safe, timed starts, restart mid-plan, a removed entity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import CLIENT_ID, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.const import DOMAIN
from custom_components.eaio.logbook import async_describe_events
from eaio_sim.bacnet import SimProcess

from .addon_standin import AddonStandIn
from .conftest import entity_ids
from .test_bacnet import _add as add_bacnet_device
from .test_controllables import BATTERY, add_controllable, helpers
from .test_plan import T0, plan_entity, submit_plan
from .test_recommendations import _linked, _rec, _submit

POWER = "input_number.battery_power"
MODE = "input_select.battery_mode"
SOC = "input_number.battery_soc"
RESERVE = "input_number.battery_reserve"


def battery_plan(
    plan_id: str = "p1", values: list[Any] | None = None, slot_minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    values = values if values is not None else [2.04, -1.5, None, 4.0]
    length = timedelta(minutes=slot_minutes)
    return {
        "plan_id": plan_id, "start": T0.isoformat(), "end": (T0 + len(values) * length).isoformat(),
        "slot_minutes": slot_minutes,
        "items": [{"key": "battery", "kind": "battery", "name": "Home battery", "unit": "kW",
                   "slots": [{"start": (T0 + i * length).isoformat(), "value": v, "reason": f"slot {i}"}
                             for i, v in enumerate(values)]}, *extra.get("items", [])],
    }  # fmt: skip


async def at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime) -> None:
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()


def autopilot_switch(hass: HomeAssistant, key: str = "battery", field: str = "autopilot") -> str:
    for state in hass.states.async_all("switch"):
        if state.attributes.get("plan_key") == key and state.entity_id.endswith(field):
            return state.entity_id
    raise AssertionError(f"no {field} switch for {key}")


async def setup(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory, **battery: Any
) -> tuple[ConfigEntry, list[Event]]:
    freezer.move_to(T0 - timedelta(minutes=5))
    await helpers(hass)
    entry = await _linked(hass, addon)
    fields = {k: v for k, v in {**BATTERY, **battery}.items() if v is not None}
    result = await add_controllable(hass, entry, "battery", **fields)
    assert result["type"] == "create_entry", result
    events: list[Event] = []
    for name in ("eaio_plan_step", "eaio_plan_override", "eaio_plan_failsafe"):
        hass.bus.async_listen(name, events.append)
    await hass.services.async_call("switch", "turn_on", {"entity_id": autopilot_switch(hass)}, blocking=True)
    # The link's health is read when a test says so: a poll in flight while the injected clock
    # jumps an hour would time out and make the add-on look gone.
    link = entry.runtime_data
    link.update_interval = None
    link._unschedule_refresh()
    return entry, events


def power(hass: HomeAssistant) -> float:
    return float(hass.states.get(POWER).state)  # type: ignore[union-attr]


async def test_follows_the_plan_inside_the_limits(
    hass: HomeAssistant,
    addon: AddonStandIn,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: User,
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    # 2.04 kW rounded to the entity's step; the mode select to the mode that follows EAIO's power.
    assert power(hass) == 2.0
    assert hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == -1.5
    await at(hass, freezer, T0 + timedelta(hours=2))
    assert hass.states.get(MODE).state == "auto"  # null: the battery in its own automatic mode
    await at(hass, freezer, T0 + timedelta(hours=3))
    assert power(hass) == 3.0  # 4 kW planned, the controllable's limit is 3
    steps = [e.data for e in events if e.event_type == "eaio_plan_step"]
    assert [(s["value"], s["outcome"]) for s in steps] == [
        (2.04, "set"),
        (-1.5, "set"),
        (None, "set"),
        (4.0, "set"),
    ]
    assert steps[0]["plan_id"] == "p1" and steps[0]["reason"] == "slot 0" and not steps[0]["dry_run"]

    # A token issued at the injected time: one from the wall clock would not be valid yet, or no longer.
    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, CLIENT_ID)
    client = await hass_ws_client(hass, hass.auth.async_create_access_token(refresh))
    await client.send_json_auto_id({"type": "eaio/plan/executions", "since": T0.isoformat()})
    answer = await client.receive_json()
    rows = answer["result"]
    assert [(r["key"], r["commanded"], r["outcome"]) for r in rows][:2] == [
        ("battery", 2.0, "set"),
        ("battery", -1.5, "set"),
    ]
    await client.send_json_auto_id({"type": "eaio/controllables"})
    assert (await client.receive_json())["result"][0]["state"] == "following"
    diagnostics = entry.runtime_data.diagnostics()
    assert diagnostics["plan"]["plan_id"] == "p1" and diagnostics["plan"]["items"] == ["battery"]
    assert diagnostics["controllables"][0]["plan_key"] == "battery"
    assert diagnostics["recent_executions"][-1]["commanded"] == 3.0


async def test_dry_run_changes_nothing(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer)
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": autopilot_switch(hass, field="dry_run")}, blocking=True
    )
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == 0.0 and hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    steps = [e.data for e in events if e.event_type == "eaio_plan_step"]
    assert [(s["value"], s["outcome"], s["dry_run"]) for s in steps] == [
        (2.04, "dry_run", True),
        (-1.5, "dry_run", True),
    ]
    assert steps[0]["commands"] == [[MODE, "remote"], [POWER, 2.0]]


async def test_manual_override_pauses_until_the_next_plan(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    assert power(hass) == 2.0
    # A person sets the battery by hand.
    await hass.services.async_call("input_number", "set_value", {"entity_id": POWER, "value": 0.5},
                                   blocking=True, context=Context())  # fmt: skip
    await hass.async_block_till_done()
    overrides = [e.data for e in events if e.event_type == "eaio_plan_override"]
    assert overrides and overrides[0]["key"] == "battery" and overrides[0]["entity_id"] == POWER
    switch = hass.states.get(autopilot_switch(hass))
    assert switch is not None and switch.attributes["state"] == "paused" and switch.attributes["paused_until"]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == 0.5  # left alone
    # The next plan ends the pause.
    await submit_plan(hass, battery_plan("p2", [1.0, 1.0, 1.0, 1.0]))
    await hass.async_block_till_done()
    assert power(hass) == 1.0


async def test_failsafe_on_plan_expiry_and_on_feedback_loss(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan(values=[2.0, 2.0]))
    await at(hass, freezer, T0)
    assert hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=2))
    failsafes = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert failsafes == [{"key": "battery", "entity_id": POWER, "reason": "plan expired"}]
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]

    # A new plan: followed again, until the state-of-charge sensor goes unavailable.
    await submit_plan(hass, battery_plan("p2", values=[1.0, 1.0, 1.0, 1.0]))
    await at(hass, freezer, T0 + timedelta(hours=2, minutes=1))
    assert hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    hass.states.async_set(SOC, "unavailable")
    await hass.async_block_till_done()
    failsafes = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert failsafes[-1]["reason"] == f"{SOC} is unavailable"
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=3))
    assert hass.states.get(MODE).state == "auto"  # no command while the feedback is gone


async def test_failsafe_when_the_addon_is_gone_past_the_plan(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan(values=[2.0]))
    await at(hass, freezer, T0)
    await addon.stop()
    await entry.runtime_data.async_refresh()
    await at(hass, freezer, T0 + timedelta(hours=1, seconds=1))
    failsafes = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert failsafes[-1]["reason"] == "add-on unreachable past the plan's end"
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]


async def test_rate_limit_holds(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer, max_changes_per_hour=3, mode_entity=None, auto_option=None,
                                 forced_option=None)  # fmt: skip
    await submit_plan(hass, battery_plan(values=[1.0, 2.0, 3.0, -1.0], slot_minutes=15))
    for quarter in range(4):
        await at(hass, freezer, T0 + timedelta(minutes=15 * quarter))
    outcomes = [e.data["outcome"] for e in events if e.event_type == "eaio_plan_step"]
    assert outcomes == ["set", "set", "set", "refused"]
    assert power(hass) == 3.0


async def test_restart_mid_plan_does_not_repeat_a_slot(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0 + timedelta(minutes=10))
    assert len([e for e in events if e.event_type == "eaio_plan_step"]) == 1
    assert await hass.config_entries.async_reload(entry.entry_id)
    await at(hass, freezer, T0 + timedelta(minutes=20))
    assert len([e for e in events if e.event_type == "eaio_plan_step"]) == 1  # resumed, nothing sent twice
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == -1.5
    assert hass.states.get(autopilot_switch(hass)).state == "on"  # type: ignore[union-attr]


async def test_timed_start_and_removed_entity(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await add_controllable(hass, entry, "appliance", plan_key="dishwasher", entity_id="input_boolean.dishwasher",
                           max_changes_per_hour=4)  # fmt: skip
    hass.states.async_set("switch.washer", "off")
    await add_controllable(hass, entry, "appliance", plan_key="washer", entity_id="switch.washer",
                           max_changes_per_hour=4)  # fmt: skip
    for key in ("dishwasher", "washer"):
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": autopilot_switch(hass, key)}, blocking=True
        )
    run = {"start": (T0 + timedelta(hours=1)).isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()}
    appliance = {
        "kind": "appliance",
        "run": run,
        "slots": [{"start": (T0 + timedelta(hours=h)).isoformat(), "value": h == 1} for h in range(4)],
    }
    hass.states.async_remove("switch.washer")  # the washer's entity is gone
    await submit_plan(
        hass, battery_plan(items=[{"key": "dishwasher", **appliance}, {"key": "washer", **appliance}])
    )
    await at(hass, freezer, T0)
    assert hass.states.get("input_boolean.dishwasher").state == "off"  # type: ignore[union-attr]
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"controllable_entity_missing_{entry.runtime_data.executor.controllables['washer'].id}"
    )
    assert issue is not None and issue.translation_key == "controllable_entity_missing"
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert hass.states.get("input_boolean.dishwasher").state == "on"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=2))
    assert hass.states.get("input_boolean.dishwasher").state == "off"  # type: ignore[union-attr]
    assert not [e for e in events if e.data.get("key") == "washer"]  # no command for the removed one


async def test_plan_recommendation_turns_autopilot_on(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    await setup(hass, addon, freezer)
    switch = autopilot_switch(hass)
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    await _submit(hass, [_rec("charge", "load", action={"type": "plan", "key": "battery"})])
    await hass.services.async_call(
        DOMAIN, "apply_recommendation", {"recommendation_id": "charge"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get(switch).state == "on"  # type: ignore[union-attr]


async def test_feedback_that_jumps_stops_commanding(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    assert power(hass) == 2.0
    hass.states.async_set(SOC, "97", {"unit_of_measurement": "%"})  # 50 % a moment ago
    await hass.async_block_till_done()
    failsafes = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert failsafes[-1]["reason"] == f"{SOC} jumped from 50 % to 97 %"
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == 2.0  # no command until the add-on re-plans
    await submit_plan(hass, battery_plan("p2", [1.0, 1.0, 1.0, 1.0]))
    await hass.async_block_till_done()
    assert power(hass) == 1.0


async def test_logbook_describes_every_action(hass: HomeAssistant) -> None:
    described: dict[str, Callable[[Event], dict[str, Any]]] = {}
    async_describe_events(hass, lambda _domain, name, describe: described.__setitem__(name, describe))
    step = Event("eaio_plan_step", {"plan_id": "p1", "key": "battery", "slot_start": "2026-12-06T15:00:00+00:00",
                                    "value": 2.0, "outcome": "set", "reason": "charging: 0.12 now"})  # fmt: skip
    line = described["eaio_plan_step"](step)
    assert line["name"] == "EAIO plan battery"
    assert line["message"] == (
        "set to 2.0 for the slot of 2026-12-06T15:00:00+00:00, plan p1 (charging: 0.12 now)"
    )
    failsafe = described["eaio_plan_failsafe"](
        Event("eaio_plan_failsafe", {"key": "battery", "reason": "plan expired"})
    )
    assert "plan expired" in failsafe["message"]
    assert set(described) == {"eaio_plan_step", "eaio_plan_override", "eaio_plan_failsafe"}


async def test_zone_and_car_follow_and_return_to_their_safe_state(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await add_controllable(hass, entry, "hvac_zone", plan_key="zone", entity_id="input_number.zone_setpoint",
                           min=18, max=24, max_changes_per_hour=6)  # fmt: skip
    await add_controllable(hass, entry, "ev", plan_key="car", entity_id="input_number.charger_power",
                           switch_entity="input_boolean.charger", max_changes_per_hour=6)  # fmt: skip
    for key in ("zone", "car"):
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": autopilot_switch(hass, key)}, blocking=True
        )
    slots = [(T0 + timedelta(hours=h)).isoformat() for h in range(2)]
    zone = {
        "key": "zone",
        "kind": "hvac_zone",
        "slots": [{"start": s, "value": v} for s, v in zip(slots, [22.3, 25.0], strict=True)],
    }
    car = {
        "key": "car",
        "kind": "ev",
        "slots": [{"start": s, "value": v} for s, v in zip(slots, [7.2, 0.0], strict=True)],
    }
    await submit_plan(hass, battery_plan(values=[1.0, 1.0], items=[zone, car]))
    await at(hass, freezer, T0)
    assert hass.states.get("input_number.zone_setpoint").state == "22.5"  # type: ignore[union-attr]  # on its step
    assert hass.states.get("input_number.charger_power").state == "7200.0"  # type: ignore[union-attr]  # kW to W
    assert hass.states.get("input_boolean.charger").state == "on"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert hass.states.get("input_number.zone_setpoint").state == "24.0"  # type: ignore[union-attr]  # its limit
    assert hass.states.get("input_boolean.charger").state == "off"  # type: ignore[union-attr]
    # The plan ends: the zone goes back to the setpoint it had before EAIO took control.
    await at(hass, freezer, T0 + timedelta(hours=2))
    assert hass.states.get("input_number.zone_setpoint").state == "20.0"  # type: ignore[union-attr]
    # (The reason may name the add-on too: a health poll in flight when the injected clock jumps times out.)
    assert {e.data["key"] for e in events if e.event_type == "eaio_plan_failsafe"} == {
        "battery",
        "zone",
        "car",
    }


async def test_autopilot_off_returns_to_the_safe_state(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    await setup(hass, addon, freezer)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    assert hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    await hass.services.async_call("switch", "turn_off", {"entity_id": autopilot_switch(hass)}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    assert power(hass) == 2.0


def reserve_plan(slots: list[tuple[Any, float | None]], plan_id: str = "p1") -> dict[str, Any]:
    """A battery plan whose automatic slots keep a reserve (value, reserve %)."""
    plan = battery_plan(plan_id, values=[v for v, _r in slots])
    for slot, (_v, reserve) in zip(plan["items"][0]["slots"], slots, strict=True):
        if reserve is not None:
            slot["reserve"] = reserve
    return plan


def reserve_now(hass: HomeAssistant) -> float:
    return float(hass.states.get(RESERVE).state)  # type: ignore[union-attr]


async def test_the_automatic_mode_keeps_the_plans_reserve(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer, reserve_entity=RESERVE)
    # Hour 0 and 1 automatic keeping 60 % then 35 %; hour 2 a grid charge; hour 3 automatic again.
    await submit_plan(hass, reserve_plan([(None, 60.4), (None, 35), (2.0, None), (None, 35)]))
    await at(hass, freezer, T0)
    assert reserve_now(hass) == 60.0  # rounded to the entity's step
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    step = next(e.data for e in events if e.event_type == "eaio_plan_step")
    # The reserve is set before the automatic mode, so that mode never spends what the plan keeps.
    assert step["commands"] == [[RESERVE, 60.0], [MODE, "auto"]] and step["outcome"] == "set"
    # Automations that follow the plan themselves read the reserve beside the planned power.
    planned = hass.states.get(plan_entity(hass, "sensor", "_plan_battery_value"))
    assert planned is not None and planned.attributes["reserve"] == 60.4
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert reserve_now(hass) == 35.0
    await at(hass, freezer, T0 + timedelta(hours=2))
    # A power slot leaves the reserve alone: the battery follows the power, not its own mode.
    assert power(hass) == 2.0 and reserve_now(hass) == 35.0
    assert hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=3))
    assert hass.states.get(MODE).state == "auto" and reserve_now(hass) == 35.0  # type: ignore[union-attr]
    # The plan over: the battery's own reserve from before EAIO, and its automatic mode.
    await at(hass, freezer, T0 + timedelta(hours=4))
    assert reserve_now(hass) == 20.0
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    failsafe = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert failsafe and failsafe[0]["reason"] == "plan expired"
    assert entry.runtime_data is not None


async def test_a_person_changing_the_reserve_pauses_eaio(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer, reserve_entity=RESERVE)
    await submit_plan(hass, reserve_plan([(None, 60), (None, 30)]))
    await at(hass, freezer, T0)
    assert reserve_now(hass) == 60.0
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": RESERVE, "value": 80}, blocking=True
    )
    await hass.async_block_till_done()
    override = [e.data for e in events if e.event_type == "eaio_plan_override"]
    assert override and override[0]["entity_id"] == RESERVE
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert reserve_now(hass) == 80.0  # paused until the next plan: the owner's value stays


async def test_a_gap_in_the_plans_slots_is_not_filled_with_the_last_command(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer)
    plan = battery_plan(values=[2.0, None, -1.0])
    del plan["items"][0]["slots"][1]  # no slot for the second hour
    await submit_plan(hass, plan)
    await at(hass, freezer, T0)
    assert power(hass) == 2.0 and hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    # Not the first hour's charge carried on: the battery's own mode, said as a fail-safe.
    assert hass.states.get(MODE).state == "auto"  # type: ignore[union-attr]
    failsafe = [e.data for e in events if e.event_type == "eaio_plan_failsafe"]
    assert [f["reason"] for f in failsafe] == ["the plan has no slot for it now"]
    await at(hass, freezer, T0 + timedelta(hours=2))
    assert power(hass) == -1.0 and hass.states.get(MODE).state == "remote"  # type: ignore[union-attr]


async def test_a_reserve_only_on_a_batterys_automatic_slot(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    await setup(hass, addon, freezer, reserve_entity=RESERVE)
    answer = await submit_plan(hass, reserve_plan([(2.0, 40)]))
    assert answer["accepted"] == []
    assert "reserve" in answer["refused"][0]["error"]
    await at(hass, freezer, T0)
    assert reserve_now(hass) == 20.0 and power(hass) == 0.0  # nothing commanded from a refused item


async def test_bacnet_zone_setpoint_relinquished_when_the_plan_ends(
    hass: HomeAssistant,
    addon: AddonStandIn,
    freezer: FrozenDateTimeFactory,
    bacnet_sim: SimProcess,
    probe: BacnetClient,
) -> None:
    sim = bacnet_sim
    device = await add_bacnet_device(hass, sim)
    setpoint = entity_ids(hass, device)["av_1"]
    entry, _events = await setup(hass, addon, freezer)
    await add_controllable(
        hass, entry, "hvac_zone", plan_key="zone", entity_id=setpoint, max_changes_per_hour=6
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": autopilot_switch(hass, "zone")}, blocking=True
    )
    zone = {"key": "zone", "kind": "hvac_zone", "slots": [{"start": T0.isoformat(), "value": 22.5}]}
    await submit_plan(hass, battery_plan(values=[1.0], items=[zone]))
    await at(hass, freezer, T0)
    assert (await probe.read_priority_array(sim.address, ("analogValue", 1)))[15] == 22.5
    await at(hass, freezer, T0 + timedelta(hours=1))
    # Back to the device's own control: EAIO's priority is empty again.
    assert (await probe.read_priority_array(sim.address, ("analogValue", 1)))[15] is None


async def test_allowed_hours_and_a_plan_item_of_another_kind(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    await hass.config.async_set_time_zone("UTC")
    # Commands only from 16:00 local time; the plan starts at 15:00.
    entry, events = await setup(hass, addon, freezer, allowed_hours="16:00-22:00")
    await add_controllable(hass, entry, "appliance", plan_key="car", entity_id="input_boolean.charger",
                           max_changes_per_hour=4)  # fmt: skip
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": autopilot_switch(hass, "car")}, blocking=True
    )
    car = {"key": "car", "kind": "ev", "slots": [{"start": T0.isoformat(), "value": 7.0}]}
    await submit_plan(hass, battery_plan(items=[car]))
    await at(hass, freezer, T0)
    steps = {e.data["key"]: e.data for e in events if e.event_type == "eaio_plan_step"}
    assert steps["battery"]["outcome"] == "refused" and power(hass) == 0.0
    assert steps["car"]["outcome"] == "refused"  # a car's plan does not drive an appliance's switch
    assert hass.states.get("input_boolean.charger").state == "off"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert power(hass) == -1.5
    assert len([e for e in events if e.data.get("key") == "car"]) == 1  # reported once, not every slot


async def test_car_timed_start_switches_on_for_the_run(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    entry, events = await setup(hass, addon, freezer)
    await add_controllable(hass, entry, "ev", plan_key="car", switch_entity="input_boolean.charger",
                           max_changes_per_hour=4)  # fmt: skip
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": autopilot_switch(hass, "car")}, blocking=True
    )
    run = {"start": (T0 + timedelta(hours=1)).isoformat(), "end": (T0 + timedelta(hours=3)).isoformat()}
    car = {"key": "car", "kind": "ev", "run": run,
           "slots": [{"start": (T0 + timedelta(hours=h)).isoformat(), "value": 7.0 if h in (1, 2) else 0.0}
                     for h in range(4)]}  # fmt: skip
    await submit_plan(hass, battery_plan(items=[car]))
    charger = "input_boolean.charger"
    await at(hass, freezer, T0)
    assert hass.states.get(charger).state == "off"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=1))
    assert hass.states.get(charger).state == "on"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=2))
    assert hass.states.get(charger).state == "on"  # type: ignore[union-attr]
    await at(hass, freezer, T0 + timedelta(hours=3))
    assert hass.states.get(charger).state == "off"  # type: ignore[union-attr]
    outcomes = [(e.data["slot_start"], e.data["outcome"]) for e in events if e.data.get("key") == "car"]
    assert [o for _s, o in outcomes] == ["unchanged", "set", "set"]


async def test_override_pause_for_a_set_time(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    _entry, events = await setup(hass, addon, freezer, override_minutes=30)
    await submit_plan(hass, battery_plan())
    await at(hass, freezer, T0)
    await hass.services.async_call("input_number", "set_value", {"entity_id": POWER, "value": 0.5},
                                   blocking=True, context=Context())  # fmt: skip
    await hass.async_block_till_done()
    override = next(e.data for e in events if e.event_type == "eaio_plan_override")
    assert override["paused_until"] == dt_util.as_local(T0 + timedelta(minutes=30)).isoformat()
    await at(hass, freezer, T0 + timedelta(minutes=20))
    assert power(hass) == 0.5
    await at(hass, freezer, T0 + timedelta(minutes=31))
    assert power(hass) == 2.0  # the set time is over: the current slot again

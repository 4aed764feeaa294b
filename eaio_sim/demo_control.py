"""The demo's last step: the battery and the appliance declared as controllables on the add-on link (as an
owner does in Settings > Devices & services > EAIO optimizer > Add controllable), the plan carried out
first as a dry run, then for real, with what was commanded and what the battery measured.

Slots are an hour long and the clock is not accelerated: within the demo's minutes the executor carries
out the current slot; the following slots are listed as planned.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from .demo_equipment import APPLIANCE_NAME, Equipment
from .hass_process import HassApi, HassProcessError, ws_command

SUBENTRY_TYPE = "controllable"
BATTERY_KEY = "battery"
SETTLE_S = 12.0  # the inverter ramps with a 4 s time constant; the power sensor is polled every 10 s
STEP_TIMEOUT = 30.0


async def add_controllable(api: HassApi, entry_id: str, kind: str, fields: dict[str, Any]) -> str | None:
    """One controllable through the subentry flow, as the UI fills it in; None when its plan key is taken
    (the last run declared it)."""
    flow = await api.call("POST", "/api/config/config_entries/subentries/flow",
                          json_body={"handler": [entry_id, SUBENTRY_TYPE]})
    path = f"/api/config/config_entries/subentries/flow/{flow['flow_id']}"
    result = await api.call("POST", path, json_body={"kind": kind})
    result = await api.call("POST", path, json_body=fields)
    if result["type"] == "create_entry":
        return str(result.get("title") or fields["plan_key"])
    if (result.get("errors") or {}).get("plan_key") == "plan_key_taken":
        return None
    raise HassProcessError(f"declaring the {kind} as a controllable failed: {result.get('errors') or result}")


async def _switch_of(api: HassApi, entry_id: str, key: str, field: str) -> str:
    """The autopilot or dry-run switch of a controllable (unique id ends with ``_<field>``, attribute plan_key),
    once the add-on link has reloaded with the new controllable and made it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        entities = await ws_command(api, {"type": "config/entity_registry/list"})
        states = {s["entity_id"]: s for s in await api.call("GET", "/api/states")}
        for entity in entities:
            entity_id = str(entity["entity_id"])
            if (entity.get("config_entry_id") == entry_id and entity_id.startswith("switch.")
                    and str(entity.get("unique_id", "")).endswith("_" + field)
                    and states.get(entity_id, {}).get("attributes", {}).get("plan_key") == key
                    and states[entity_id]["state"] != "unavailable"):
                return entity_id
        if loop.time() > deadline:
            raise HassProcessError(f"no {field} switch for the controllable {key!r} after {STEP_TIMEOUT:.0f} s")
        await asyncio.sleep(1.0)


async def _turn(api: HassApi, entity_id: str, on: bool) -> None:
    await api.call("POST", f"/api/services/switch/turn_{'on' if on else 'off'}", json_body={"entity_id": entity_id})


async def _executions(api: HassApi, since: datetime, key: str, outcome: str) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        done = await ws_command(api, {"type": "eaio/plan/executions", "since": since.isoformat()})
        found = [e for e in done if e.get("key") == key and e.get("outcome") == outcome]
        if found or loop.time() > deadline:
            return found
        await asyncio.sleep(1.0)


def _state(states: dict[str, Any], entity_id: str | None) -> str:
    state = states.get(entity_id or "")
    if state is None:
        return "?"
    unit = state["attributes"].get("unit_of_measurement", "")
    return f"{state['state']} {unit}".rstrip()


def _slot_text(slot: dict[str, Any]) -> str:
    value = slot.get("value")
    power = f"{value:+.2f} kW" if isinstance(value, (int, float)) else "automatic"
    return f"{str(slot.get('start'))[11:16]} {power}"


async def carry_out_plan(api: HassApi, entry_id: str, equipment: Equipment) -> None:
    """Declare the controllables, run the battery's current slot dry, then live; print what happened."""
    if not (equipment.battery_setpoint and equipment.battery_soc):
        raise HassProcessError("the demo's battery inverter has no power setpoint or state-of-charge entity")
    print("\nCarrying out the plan (slots are an hour; the clock is not accelerated) ...", flush=True)
    declared = await add_controllable(api, entry_id, "battery", {
        "plan_key": BATTERY_KEY, "entity_id": equipment.battery_setpoint, "feedback_entity": equipment.battery_soc,
        "min": -5.0, "max": 5.0, "step": 0.1, "max_changes_per_hour": 12})
    print(f"  controllable: {declared or BATTERY_KEY + ' (declared by an earlier run)'}")
    if equipment.plug_relay:
        declared = await add_controllable(api, entry_id, "appliance", {
            "plan_key": APPLIANCE_NAME, "entity_id": equipment.plug_relay, "max_changes_per_hour": 4})
        print(f"  controllable: {declared or APPLIANCE_NAME + ' (declared by an earlier run)'}")
    if equipment.battery_control:
        # The inverter follows an external setpoint only while its external control is on: the owner's
        # one-time choice, not part of the plan.
        await _turn(api, equipment.battery_control, True)
    autopilot = await _switch_of(api, entry_id, BATTERY_KEY, "autopilot")
    dry_run = await _switch_of(api, entry_id, BATTERY_KEY, "dry_run")
    # A rerun finds autopilot as the last run left it: off first, so the dry run below is the first step.
    await _turn(api, autopilot, False)

    since = datetime.now(UTC) - timedelta(seconds=1)
    await _turn(api, dry_run, True)
    await _turn(api, autopilot, True)
    for step in await _executions(api, since, BATTERY_KEY, "dry_run"):
        print(f"  dry run: slot {step.get('slot_start')}: would set {step.get('value')} kW; nothing was changed")
    states = {s["entity_id"]: s for s in await api.call("GET", "/api/states")}
    print(f"  after the dry run: setpoint {_state(states, equipment.battery_setpoint)}, "
          f"battery {_state(states, equipment.battery_power)}")

    since = datetime.now(UTC) - timedelta(seconds=1)
    await _turn(api, dry_run, False)
    commanded = await _executions(api, since, BATTERY_KEY, "set")
    await asyncio.sleep(SETTLE_S)
    states = {s["entity_id"]: s for s in await api.call("GET", "/api/states")}
    for step in commanded:
        print(f"  live: slot {step.get('slot_start')}: commanded {step.get('commanded')} kW; "
              f"setpoint now {_state(states, equipment.battery_setpoint)}, "
              f"measured {_state(states, equipment.battery_power)}, state of charge {_state(states, equipment.battery_soc)}")
    if not commanded:
        unchanged = await _executions(api, since, BATTERY_KEY, "unchanged")
        print("  live: nothing to command in this slot" + (" (already at its value)" if unchanged else ""))
    plan = next((s for s in states.values() if s["entity_id"].startswith("sensor.") and "battery" in s["entity_id"]
                 and s["attributes"].get("unit_of_measurement") == "kW" and "schedule" in s["attributes"]), None)
    if plan is not None:
        upcoming = plan["attributes"]["schedule"][:6]
        print("  the battery's plan, local time: " + ", ".join(_slot_text(slot) for slot in upcoming))

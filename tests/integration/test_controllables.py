"""Controllables declared on the add-on link through its subentry flow, validated, and listed to the add-on."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.eaio.controllables import validate

from .addon_standin import AddonStandIn
from .test_recommendations import _linked


async def helpers(hass: HomeAssistant) -> None:
    """Entities of the test's own Home Assistant that stand in for an inverter, a charger and a dishwasher."""
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "battery_power": {
                    "min": -5,
                    "max": 5,
                    "step": 0.1,
                    "initial": 0,
                    "unit_of_measurement": "kW",
                },
                "charger_power": {"min": 0, "max": 11000, "step": 100, "unit_of_measurement": "W"},
                "zone_setpoint": {"min": 15, "max": 28, "step": 0.5, "initial": 20},
                "battery_soc": {"min": 0, "max": 100, "step": 1, "initial": 50},
                "battery_reserve": {
                    "min": 0,
                    "max": 100,
                    "step": 1,
                    "initial": 20,
                    "unit_of_measurement": "%",
                },
            }
        },
    )
    assert await async_setup_component(
        hass,
        "input_select",
        {"input_select": {"battery_mode": {"options": ["auto", "remote"], "initial": "auto"}}},
    )
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"dishwasher": {}, "charger": {}}}
    )
    await hass.async_block_till_done()


async def add_controllable(hass: HomeAssistant, entry: ConfigEntry, kind: str, **fields: Any) -> Any:
    result: Any = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "controllable"), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"kind": kind})
    assert result["step_id"] == "entities"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], fields)
    await hass.async_block_till_done()
    return result


BATTERY = {
    "plan_key": "battery",
    "entity_id": "input_number.battery_power",
    "mode_entity": "input_select.battery_mode",
    "auto_option": "auto",
    "forced_option": "remote",
    "feedback_entity": "input_number.battery_soc",
    "min": -3,
    "max": 3,
    "max_changes_per_hour": 12,
}


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"entity_id": "input_number.gone"}, {"entity_id": "entity_missing"}),
        ({"min": -6}, {"base": "limits_outside_entity"}),
        ({"step": 0.25}, {"base": "limits_outside_entity"}),
        ({"min": 3, "max": -3}, {"base": "limits_reversed"}),
        ({"auto_option": "automatic"}, {"auto_option": "option_missing"}),
        ({"allowed_hours": "8-22"}, {"allowed_hours": "bad_hours"}),
        # A reserve must be a percentage, and works only beside the battery's automatic mode.
        ({"reserve_entity": "input_number.battery_soc"}, {"reserve_entity": "reserve_not_percent"}),
        (
            {"reserve_entity": "input_number.battery_reserve", "mode_entity": None, "auto_option": None},
            {"reserve_entity": "reserve_needs_mode"},
        ),
        ({"reserve_entity": "input_number.gone"}, {"reserve_entity": "entity_missing"}),
    ],
)
async def test_bad_controllable_gets_a_clear_error(
    hass: HomeAssistant, addon: AddonStandIn, change: dict[str, Any], errors: dict[str, str]
) -> None:
    await helpers(hass)
    entry = await _linked(hass, addon)
    fields = {k: v for k, v in {**BATTERY, **change}.items() if v is not None}
    result = await add_controllable(hass, entry, "battery", **fields)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert not entry.subentries


async def test_selector_refuses_a_wrong_domain(hass: HomeAssistant, addon: AddonStandIn) -> None:
    await helpers(hass)
    entry = await _linked(hass, addon)
    with pytest.raises(InvalidData):
        await add_controllable(hass, entry, "battery", **{**BATTERY, "entity_id": "input_boolean.dishwasher"})
    # And the check behind the form says why, for data that did not come through the form.
    assert validate(hass, {"kind": "battery", **BATTERY, "entity_id": "input_boolean.dishwasher"}) == {
        "entity_id": "wrong_domain"
    }
    assert not entry.subentries


async def test_controllables_added_listed_and_unique_per_plan_item(
    hass: HomeAssistant, addon: AddonStandIn, hass_ws_client: WebSocketGenerator
) -> None:
    await helpers(hass)
    entry = await _linked(hass, addon)
    result = await add_controllable(hass, entry, "battery", **BATTERY)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    result = await add_controllable(
        hass,
        entry,
        "appliance",
        plan_key="dishwasher",
        entity_id="input_boolean.dishwasher",
        max_changes_per_hour=4,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    again = await add_controllable(
        hass,
        entry,
        "appliance",
        plan_key="dishwasher",
        entity_id="input_boolean.charger",
        max_changes_per_hour=4,
    )
    assert again["errors"] == {"plan_key": "plan_key_taken"}
    assert len(entry.subentries) == 2

    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "eaio/controllables"})
    answer = await client.receive_json()
    assert answer["success"], answer
    by_key = {c["plan_key"]: c for c in answer["result"]}
    assert set(by_key) == {"battery", "dishwasher"}
    battery = by_key["battery"]
    assert battery["entity_id"] == "input_number.battery_power"
    assert battery["mode_entity"] == "input_select.battery_mode"
    assert battery["feedback_entity"] == "input_number.battery_soc"
    assert (battery["min"], battery["max"], battery["autopilot"], battery["dry_run"]) == (-3, 3, False, False)
    assert battery["state"] == "idle" and battery["paused_until"] is None

    # Each controllable has its autopilot and dry-run switches, off by default.
    states = {s.entity_id: s for s in hass.states.async_all("switch")}
    autopilots = [s for s in states.values() if s.entity_id.endswith("_autopilot")]
    assert len(autopilots) == 2 and all(s.state == "off" for s in autopilots)


async def test_autopilot_default_comes_from_the_addon(hass: HomeAssistant, addon: AddonStandIn) -> None:
    await helpers(hass)
    addon.autopilot_default = True
    entry = await _linked(hass, addon)
    await add_controllable(hass, entry, "battery", **BATTERY)
    executor = entry.runtime_data.executor
    assert executor is not None and executor.state_of("battery").autopilot is True


async def test_controllable_reconfigured_in_place(hass: HomeAssistant, addon: AddonStandIn) -> None:
    await helpers(hass)
    entry = await _linked(hass, addon)
    await add_controllable(hass, entry, "battery", **BATTERY)
    subentry_id = next(iter(entry.subentries))
    result: Any = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "controllable"), context={"source": "reconfigure", "subentry_id": subentry_id}
    )
    assert result["step_id"] == "entities"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {**BATTERY, "max": 9})
    assert result["errors"] == {"base": "limits_outside_entity"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {**BATTERY, "max": 2.5})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.subentries[subentry_id].data["max"] == 2.5
    executor = entry.runtime_data.executor
    assert executor is not None and executor.controllables["battery"].limits.high == 2.5

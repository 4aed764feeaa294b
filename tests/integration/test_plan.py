"""eaio.submit_plan: validated item by item, stored across restarts, shown as entities that change
at slot boundaries (time injected, never the wall clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.eaio.const import DOMAIN

from .addon_standin import AddonStandIn
from .test_recommendations import _linked, _rec, _submit

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=dt_util.UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def plan_payload(
    plan_id: str = "plan-1", start: datetime = T0, hours: int = 4, **extra: Any
) -> dict[str, Any]:
    slots = [start + timedelta(hours=h) for h in range(hours)]
    return {
        "plan_id": plan_id, "created": _iso(start), "start": _iso(start),
        "end": _iso(start + timedelta(hours=hours)), "slot_minutes": 60,
        "items": [
            {"key": "battery", "kind": "battery", "name": "Home battery", "unit": "kW",
             "slots": [{"start": _iso(s), "value": [2.0, -1.5, None, 0.0][i % 4], "soc": 50.0 + 10 * i,
                        "reason": f"slot {i}"} for i, s in enumerate(slots)]},
            {"key": "dishwasher", "kind": "appliance", "name": "Dishwasher", "unit": None,
             "run": {"start": _iso(start + timedelta(hours=1)), "end": _iso(start + timedelta(hours=2))},
             "slots": [{"start": _iso(s), "value": i == 1, "reason": "cheapest hour" if i == 1 else ""}
                       for i, s in enumerate(slots)]},
            {"key": "zone", "kind": "hvac_zone", "name": "Zone", "unit": "°C",
             "slots": [{"start": _iso(s), "value": 21.0 + 0.5 * i, "reason": "pre-heat"} for i, s in enumerate(slots)]},
            {"key": "car", "kind": "ev", "name": "Car", "slots": [{"start": _iso(start), "value": -3}]},
            {"key": "late", "kind": "battery", "slots": [{"start": _iso(start + timedelta(days=9)), "value": 1}]},
            "not an item",
        ],
        "expected": {"cost": 3.1, "baseline_cost": 3.52, "saving": 0.42}, **extra,
    }  # fmt: skip


async def submit_plan(hass: HomeAssistant, payload: dict[str, Any]) -> Any:
    return await hass.services.async_call(DOMAIN, "submit_plan", payload, blocking=True, return_response=True)


def plan_entity(hass: HomeAssistant, platform: str, unique_suffix: str) -> str:
    registry = er.async_get(hass)
    for entry in registry.entities.values():
        if entry.platform == DOMAIN and entry.domain == platform and entry.unique_id.endswith(unique_suffix):
            return entry.entity_id
    raise AssertionError(f"no {platform} entity ending {unique_suffix}")


async def test_plan_items_checked_one_by_one_and_shown_as_entities(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(T0 + timedelta(minutes=5))
    await hass.config.async_set_time_zone("Europe/Berlin")
    await _linked(hass, addon)
    response = await submit_plan(hass, plan_payload())
    assert response["plan_id"] == "plan-1"
    assert response["accepted"] == ["battery", "dishwasher", "zone"]
    refused = {r["index"]: r for r in response["refused"]}
    assert set(refused) == {3, 4, 5}
    assert refused[3]["key"] == "car" and "negative" in refused[3]["error"]
    assert refused[4]["key"] == "late" and "outside the plan" in refused[4]["error"]
    await hass.async_block_till_done()

    power = plan_entity(hass, "sensor", "_plan_battery_value")
    soc = plan_entity(hass, "sensor", "_plan_battery_soc")
    run = plan_entity(hass, "binary_sensor", "_plan_dishwasher_value")
    zone = plan_entity(hass, "sensor", "_plan_zone_value")
    state = hass.states.get(power)
    assert state is not None and state.state == "2.0"
    assert state.attributes["unit_of_measurement"] == "kW"
    assert state.attributes["reason"] == "slot 0"
    assert state.attributes["friendly_name"].endswith("Home battery planned power")
    # The schedule in Home Assistant's time zone: 15:00 UTC is 16:00 in Berlin.
    assert state.attributes["schedule"][0] == {"start": "2026-12-06T16:00:00+01:00", "value": 2.0}
    assert [s["value"] for s in state.attributes["schedule"]] == [2.0, -1.5, None, 0.0]
    assert hass.states.get(soc).state == "50.0"  # type: ignore[union-attr]
    assert hass.states.get(run).state == "off"  # type: ignore[union-attr]
    assert hass.states.get(zone).state == "21.0"  # type: ignore[union-attr]

    # The next slot boundary updates every entity without asking the add-on.
    freezer.move_to(T0 + timedelta(hours=1))
    async_fire_time_changed(hass, T0 + timedelta(hours=1))
    await hass.async_block_till_done()
    assert hass.states.get(power).state == "-1.5"  # type: ignore[union-attr]
    assert hass.states.get(soc).state == "60.0"  # type: ignore[union-attr]
    assert hass.states.get(run).state == "on"  # type: ignore[union-attr]
    assert hass.states.get(run).attributes["reason"] == "cheapest hour"  # type: ignore[union-attr]
    assert hass.states.get(zone).state == "21.5"  # type: ignore[union-attr]
    freezer.move_to(T0 + timedelta(hours=2))
    async_fire_time_changed(hass, T0 + timedelta(hours=2))
    await hass.async_block_till_done()
    assert hass.states.get(power).state == "unknown"  # null: the battery in its own automatic mode
    assert hass.states.get(run).state == "off"  # type: ignore[union-attr]

    # After the plan's end nothing is planned.
    freezer.move_to(T0 + timedelta(hours=4, minutes=1))
    async_fire_time_changed(hass, T0 + timedelta(hours=4, minutes=1))
    await hass.async_block_till_done()
    assert hass.states.get(zone).state == "unknown"  # type: ignore[union-attr]


async def test_plan_replaced_whole_and_kept_across_restart(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(T0 + timedelta(minutes=5))
    entry = await _linked(hass, addon)
    await submit_plan(hass, plan_payload("plan-1"))
    second = plan_payload("plan-2")
    second["items"] = [second["items"][2]]
    second["items"][0]["slots"][0]["value"] = 19.0
    response = await submit_plan(hass, second)
    assert response["accepted"] == ["zone"] and response["refused"] == []
    await hass.async_block_till_done()
    power = plan_entity(hass, "sensor", "_plan_battery_value")
    zone = plan_entity(hass, "sensor", "_plan_zone_value")
    assert hass.states.get(power).state == "unknown"  # type: ignore[union-attr]
    assert hass.states.get(zone).state == "19.0"  # type: ignore[union-attr]

    await addon.stop()  # the add-on is away after the restart too: the plan is stored here
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(zone)
    assert state is not None and state.state == "19.0" and state.attributes["plan_id"] == "plan-2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end": "2026-12-06T14:00:00+00:00"}, "ends before it starts"),
        ({"start": "2026-12-06T15:00:00"}, "time zone"),
        ({"slot_minutes": 0}, "slot_minutes"),
        ({"plan_id": ""}, "plan_id"),
    ],
)
async def test_malformed_plan_refused_with_reason_and_the_old_one_kept(
    hass: HomeAssistant,
    addon: AddonStandIn,
    freezer: FrozenDateTimeFactory,
    change: dict[str, Any],
    message: str,
) -> None:
    freezer.move_to(T0 + timedelta(minutes=5))
    entry = await _linked(hass, addon)
    await submit_plan(hass, plan_payload("good"))
    with pytest.raises(ServiceValidationError) as err:
        await submit_plan(hass, {**plan_payload("bad"), **change})
    assert err.value.translation_key == "invalid_plan"
    assert message in str(err.value.translation_placeholders)
    plan = entry.runtime_data.plans.plan
    assert plan is not None and plan.plan_id == "good"


async def test_plan_action_accepted_in_recommendations(hass: HomeAssistant, addon: AddonStandIn) -> None:
    await _linked(hass, addon)
    response = await _submit(
        hass,
        [_rec("charge", "load", action={"type": "plan", "key": "battery"}),
         _rec("nokey", "load", action={"type": "plan"})],
    )  # fmt: skip
    assert response["accepted"] == ["charge"]
    assert "key" in response["refused"][0]["error"]
    # Without a controllable for the key, applying says so and the recommendation stays open.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "apply_recommendation", {"recommendation_id": "charge"}, blocking=True
        )
    assert err.value.translation_key == "no_controllable"

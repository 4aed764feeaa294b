"""eaio.submit_plan refuses each bad item with its reason and keeps the rest; a stored plan that
cannot be read is dropped with a warning, not a failed start (time injected, never the wall clock)."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest

from custom_components.eaio.const import DOMAIN

from .addon_standin import AddonStandIn
from .test_plan import T0, plan_payload, submit_plan
from .test_recommendations import _linked


def _item(key: str, kind: str, slots: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"key": key, "kind": kind, "slots": slots, **extra}


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


async def test_each_bad_item_is_refused_with_its_reason(
    hass: HomeAssistant, addon: AddonStandIn, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(T0 + timedelta(minutes=5))
    await _linked(hass, addon)
    payload = plan_payload("plan-items")
    payload["items"] = [
        _item("zone", "hvac_zone", [{"start": _at(0), "value": 21.0}]),
        _item("washer", "appliance", [{"start": _at(0), "value": 1.5}]),
        _item("battery", "battery", [{"start": _at(0), "value": True}]),
        _item("heat", "hvac_zone", [{"start": _at(1), "value": 20.0}, {"start": _at(0), "value": 21.0}]),
        _item("dryer", "appliance", [{"start": _at(0), "value": True}], run={"start": _at(2), "end": _at(1)}),
        _item("zone", "hvac_zone", [{"start": _at(1), "value": 19.0}]),
    ]
    response = await submit_plan(hass, payload)
    assert response["accepted"] == ["zone"]
    refused = {r["index"]: (r["key"], r["error"]) for r in response["refused"]}
    assert refused == {
        1: ("washer", "slots.0.value: an appliance's slot value is true or false, not 1.5"),
        2: ("battery", "slots.0.value: a battery's slot value is a number or null, not True"),
        3: ("heat", "slots.1.start: slots must be in time order"),
        4: ("dryer", "run: its end is not after its start"),
        5: ("zone", "key: appears twice in the plan"),
    }
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    plan = entry.runtime_data.plans.plan
    assert plan is not None and list(plan.items) == ["zone"]
    # The first of the two items with one key is the one kept.
    assert plan.items["zone"].slots[0].value == 21.0


async def test_an_unreadable_stored_plan_is_dropped_and_the_link_starts(
    hass: HomeAssistant,
    addon: AddonStandIn,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    freezer.move_to(T0 + timedelta(minutes=5))
    entry = await _linked(hass, addon)
    response = await submit_plan(hass, plan_payload("stored"))
    assert "zone" in response["accepted"]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    key = f"{DOMAIN}.plan.{entry.entry_id}"
    assert hass_storage[key]["data"]["plan"]["plan_id"] == "stored"
    # A plan written by a newer or damaged store: its end is before its start.
    hass_storage[key]["data"]["plan"]["end"] = (T0 - timedelta(hours=1)).isoformat()
    caplog.set_level(logging.WARNING, logger="custom_components.eaio")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.plans.plan is None
    assert "The stored plan cannot be read and is dropped: end: the plan ends before it starts" in caplog.text
    # A new plan is taken as before.
    response = await submit_plan(hass, plan_payload("fresh"))
    assert "zone" in response["accepted"]
    plan = entry.runtime_data.plans.plan
    assert plan is not None and plan.plan_id == "fresh"

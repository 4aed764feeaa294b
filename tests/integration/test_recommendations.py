"""Recommendations from the add-on: submit, sensors, events, apply within bounds, dismiss, restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.util import dt as dt_util
import pytest

from custom_components.eaio.const import DOMAIN, EVENT_RECOMMENDATION
from tests.conftest import ModbusSim, in_order

from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device, entity_ids


async def _link(hass: HomeAssistant, addon: AddonStandIn, token: str = TOKEN) -> Any:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": token}
    )


async def _linked(hass: HomeAssistant, addon: AddonStandIn) -> ConfigEntry:
    result = await _link(hass, addon)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


def _rec(rec_id: str, category: str = "hvac", **extra: Any) -> dict[str, Any]:
    return {
        "id": rec_id, "category": category, "title": f"Do {rec_id}", "action": {"type": "none"},
        "estimated_savings_kwh_per_day": 2.0, "estimated_savings_per_day": 0.5, "confidence": 0.8,
        "method": "test", **extra,
    }  # fmt: skip


async def _submit(hass: HomeAssistant, recs: list[Any], replace: bool = False) -> Any:
    return await hass.services.async_call(
        DOMAIN, "submit_recommendations", {"recommendations": recs, "replace": replace},
        blocking=True, return_response=True,
    )  # fmt: skip


async def test_link_flow_errors_then_success(hass: HomeAssistant, addon: AddonStandIn) -> None:
    dead = AddonStandIn()
    await dead.start()
    await dead.stop()
    result = await _link(hass, dead)
    assert result["errors"] == {"base": "cannot_connect"}
    # The same flow goes on (one add-on link: a second flow would be one already in progress).
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    ids = entity_ids(hass, entry)
    assert hass.states.get(ids["addon_status"]).state == "ok"  # type: ignore[union-attr]
    assert hass.states.get(ids["backfill_progress"]).state == "42.5"  # type: ignore[union-attr]
    error = hass.states.get(ids["forecast_error"])
    assert error is not None and error.state == "23.4" and error.attributes["unit_of_measurement"] == "%"
    saved = hass.states.get(ids["verified_savings"])
    assert saved is not None and saved.state == "12.5" and saved.attributes["state_class"] == "total"
    # A fresh add-on has measured neither yet: unknown, not unavailable.
    addon.accuracy = addon.verified = None
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert {hass.states.get(ids[k]).state for k in ("forecast_error", "verified_savings")} == {"unknown"}  # type: ignore[union-attr]


async def test_discovery_offers_one_click_setup(hass: HomeAssistant, addon: AddonStandIn) -> None:
    host, port = addon.url.removeprefix("http://").split(":")
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_HASSIO},
        data=HassioServiceInfo(
            config={"host": host, "port": int(port), "token": TOKEN}, name="EAIO", slug="eaio", uuid="1234"
        ),
    )
    assert result["step_id"] == "hassio_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["url"] == addon.url


async def test_submit_keeps_good_refuses_bad_and_fills_sensors(
    hass: HomeAssistant, addon: AddonStandIn
) -> None:
    entry = await _linked(hass, addon)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_RECOMMENDATION, in_order(events))
    response = await _submit(
        hass,
        [
            _rec("a", estimated_savings_per_day=1.0),
            {"id": "bad", "category": "heating", "title": "x", "action": {"type": "none"}},
            _rec("b", "lighting", target_entity="light.hall"),
            "not a mapping",
            _rec("c", "load", confidence=1.5),
        ],
    )
    assert response["accepted"] == ["a", "b"]
    assert [r["index"] for r in response["refused"]] == [1, 3, 4]
    assert "category" in response["refused"][0]["error"]
    assert "confidence" in response["refused"][2]["error"]
    await hass.async_block_till_done()
    assert [e.data["type"] for e in events] == ["new", "new"]
    ids = entity_ids(hass, entry)
    summary = hass.states.get(ids["open_recommendations"])
    assert summary is not None and summary.state == "2"
    assert summary.attributes["top"]["id"] == "a"
    assert summary.attributes["estimated_savings_kwh_per_day"] == 4.0
    assert hass.states.get(ids["estimated_savings_cost"]).state == "1.5"  # type: ignore[union-attr]
    assert hass.states.get(ids["estimated_savings_cost"]).attributes["unit_of_measurement"] == "EUR/d"  # type: ignore[union-attr]
    lighting = hass.states.get(ids["lighting_recommendation"])
    assert lighting is not None and lighting.state == "Do b"
    assert lighting.attributes["target_entity"] == "light.hall"
    assert hass.states.get(ids["load_recommendation"]).state == "none"  # type: ignore[union-attr]

    # A replacing batch expires what it leaves out.
    await _submit(hass, [_rec("b", "lighting")], replace=True)
    await hass.async_block_till_done()
    assert events[-1].data["type"] == "expired" and events[-1].data["id"] == "a"


async def test_a_proposed_value_carries_its_unit(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    hass.states.async_set("number.zone_setpoint", "21.0", {"unit_of_measurement": "°C", "min": 15, "max": 26})
    await _submit(hass, [
        _rec("setpoint", target_entity="number.zone_setpoint", proposed_value=21.5),
        _rec("given", "load", target_entity="number.zone_setpoint", proposed_value=2.0, unit="kW"),
    ])  # fmt: skip
    await hass.async_block_till_done()
    ids = entity_ids(hass, entry)
    hvac = hass.states.get(ids["hvac_recommendation"])
    assert hvac is not None and hvac.attributes["proposed_value"] == 21.5
    assert hvac.attributes["unit"] == "°C"  # the target entity's own unit
    load = hass.states.get(ids["load_recommendation"])
    assert load is not None and load.attributes["unit"] == "kW"  # as submitted


async def test_apply_writes_within_bounds(
    hass: HomeAssistant, addon: AddonStandIn, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    device = await add_device(hass, sim.port, 2, "hvac_unit")
    await _linked(hass, addon)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_RECOMMENDATION, in_order(events))
    write = {"type": "write_point", "config_entry_id": device.entry_id, "point": "cooling_setpoint"}
    await _submit(
        hass, [_rec("ok", action={**write, "value": 23.0}), _rec("hot", action={**write, "value": 40})]
    )
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "apply_recommendation", {"recommendation_id": "hot"}, blocking=True
        )
    assert err.value.translation_key == "write_out_of_range"
    await hass.services.async_call(DOMAIN, "apply_recommendation", {"recommendation_id": "ok"}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get(entity_ids(hass, device)["cooling_setpoint"]).state == "23.0"  # type: ignore[union-attr]
    assert [e.data["type"] for e in events if e.data["id"] == "ok"] == ["new", "applied"]
    book = hass.config_entries.async_entries(DOMAIN)[1].runtime_data.book
    assert set(book.open) == {"hot"}  # the refused one stays open


async def test_apply_service_action_bounded_and_unknown_targets(
    hass: HomeAssistant, addon: AddonStandIn, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    device = await add_device(hass, sim.port, 2, "hvac_unit")
    fan = entity_ids(hass, device)["fan_speed_setpoint"]
    await _linked(hass, addon)
    set_value = {"type": "service", "service": "number.set_value", "target": {"entity_id": fan}}
    response = await _submit(
        hass,
        [
            _rec("fan", action={**set_value, "data": {"value": 45}}),
            _rec("fan-low", action={**set_value, "data": {"value": 5}}),
            _rec(
                "ghost", action={**set_value, "target": {"entity_id": "number.nope"}, "data": {"value": 50}}
            ),
            _rec(
                "shell",
                action={"type": "service", "service": "shell_command.anything", "target": {"entity_id": fan}},
            ),
            _rec("gone", action={"type": "write_point", "config_entry_id": "nope", "point": "x", "value": 1}),
        ],
    )
    # A service outside the category's allow-list is refused at submit, with the reason.
    assert [r["id"] for r in response["refused"]] == ["shell"]
    assert "may not call shell_command.anything" in response["refused"][0]["error"]
    await hass.services.async_call(
        DOMAIN, "apply_recommendation", {"recommendation_id": "fan"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get(fan).state == "45.0"  # type: ignore[union-attr]
    for rec_id, key in [("fan-low", "write_out_of_range"), ("ghost", "target_not_allowed"),
                        ("gone", "unknown_target")]:  # fmt: skip
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "apply_recommendation", {"recommendation_id": rec_id}, blocking=True
            )
        assert err.value.translation_key == key, rec_id


async def test_dismiss_expire_and_survive_restart(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _linked(hass, addon)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_RECOMMENDATION, in_order(events))
    past = (dt_util.utcnow() - timedelta(minutes=1)).isoformat()
    await _submit(hass, [_rec("keep"), _rec("drop"), _rec("old", valid_until=past)])
    await hass.services.async_call(
        DOMAIN, "dismiss_recommendation", {"recommendation_id": "drop"}, blocking=True
    )
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "dismiss_recommendation", {"recommendation_id": "drop"}, blocking=True
        )
    assert entry.runtime_data.book.expire_due() == 1
    await hass.async_block_till_done()
    assert [(e.data["id"], e.data["type"]) for e in events][-2:] == [
        ("drop", "dismissed"),
        ("old", "expired"),
    ]

    await addon.stop()  # the add-on is away too: recommendations are stored here
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert set(entry.runtime_data.book.open) == {"keep"}
    ids = entity_ids(hass, entry)
    assert hass.states.get(ids["open_recommendations"]).state == "1"  # type: ignore[union-attr]
    assert hass.states.get(ids["addon_status"]).state == "unavailable"  # type: ignore[union-attr]


async def test_run_optimization(hass: HomeAssistant, addon: AddonStandIn) -> None:
    await _linked(hass, addon)
    response = await hass.services.async_call(
        DOMAIN, "run_optimization", {}, blocking=True, return_response=True
    )
    assert response == {
        "run_id": "r1",
        "status": "ok",
        "recommendations": 2,
        "missing": [],
        "duration_s": 0.4,
    }
    await addon.stop()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "run_optimization", {}, blocking=True, return_response=True)
    assert err.value.translation_key == "addon_unreachable"


async def test_without_addon_link(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    await add_device(hass, building_sim.port, 1, "three_phase_meter")
    with pytest.raises(ServiceValidationError) as err:
        await _submit(hass, [_rec("a")])
    assert err.value.translation_key == "no_addon_entry"

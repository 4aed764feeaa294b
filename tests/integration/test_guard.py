"""The one guard: pure command rules, and the checks every write passes whoever asks (issue 11, finding 1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest

from custom_components.eaio.const import DOMAIN
from custom_components.eaio.control_rules import AllowedHours, Limits, RateLimiter, needs_command, to_command
from custom_components.eaio.guard import Command, TargetPolicy, action_problem, get_guard
from custom_components.eaio.recommendations import parse_recommendation
from tests.conftest import ModbusSim

from .addon_standin import AddonStandIn
from .conftest import add_device, entity_ids
from .test_recommendations import _linked, _rec, _submit


def test_to_command_clamps_and_rounds_to_the_step() -> None:
    limits = Limits(-5.0, 5.0, 0.1)
    assert to_command(2.04, limits) == 2.0
    assert to_command(0.3000001, limits) == 0.3
    assert to_command(9.0, limits) == 5.0
    assert to_command(-7.5, limits) == -5.0
    # A grid that does not reach the high end rounds down, never past it.
    assert to_command(9.9, Limits(0.0, 9.9, 2.0)) == 8.0
    assert to_command(22.74, Limits(16.0, 30.0, 0.5)) == 22.5
    with pytest.raises(ValueError):
        to_command(float("nan"), limits)


def test_limits_inside() -> None:
    own = Limits(-5.0, 5.0, 0.1)
    assert Limits(-3.0, 3.0, 0.5).inside(own)
    assert not Limits(-6.0, 3.0, 0.5).inside(own)
    assert not Limits(-3.0, 3.0, 0.25).inside(Limits(-5.0, 5.0, 0.5))
    assert not Limits(None, 3.0).inside(own)


def test_rate_limiter_slides_over_the_hour() -> None:
    rate = RateLimiter(max_per_hour=2)
    rate.record("number.x", 0.0)
    rate.record("number.x", 600.0)
    assert not rate.allows("number.x", 1200.0)
    assert rate.allows("number.y", 1200.0)
    assert rate.allows("number.x", 3600.5)  # the first change left the window
    assert rate.allows("number.x", 1200.0, max_per_hour=3)


def test_allowed_hours_with_and_without_wrapping() -> None:
    assert AllowedHours.parse("").contains(time(3, 0))
    day = AllowedHours.parse("08:00-22:00")
    assert day.contains(time(8, 0)) and not day.contains(time(22, 0)) and not day.contains(time(7, 59))
    night = AllowedHours.parse("22:00-06:00")
    assert night.contains(time(23, 0)) and night.contains(time(5, 59)) and not night.contains(time(12, 0))
    with pytest.raises(ValueError, match="08-22"):
        AllowedHours.parse("08-22")


def test_needs_command() -> None:
    assert not needs_command(2.0, 2.04, 0.1)
    assert needs_command(2.0, 2.1, 0.1)
    assert needs_command(True, None, None)
    assert not needs_command(True, True, None)


def test_action_problem_names_the_reason() -> None:
    assert action_problem("hvac", "number.set_value", {"value": 25}) is None
    problem = action_problem("hvac", "number.set_value", {"value": 25, "device_id": "abc"})
    assert problem is not None and "device_id" in problem
    problem = action_problem("hvac", "climate.set_temperature", {"temperature": 22, "target_temp_high": 25})
    assert problem is not None and "target_temp_high" in problem
    problem = action_problem("lighting", "climate.set_temperature", {"temperature": 22})
    assert problem is not None and "lighting recommendations may not call" in problem
    problem = action_problem("load", "number.set_value", {})
    assert problem is not None and "needs value" in problem


def test_submit_refuses_targeting_keys_in_data() -> None:
    for key in ("entity_id", "device_id", "area_id", "floor_id", "label_id"):
        raw = _rec("x", action={"type": "service", "service": "switch.turn_off",
                                "target": {"entity_id": "switch.economizer"}, "data": {key: "whole-unit"}})  # fmt: skip
        with pytest.raises(ValueError, match=key):
            parse_recommendation(raw)
    with pytest.raises(ValueError, match="device_id"):
        parse_recommendation(_rec("y", action={"type": "service", "service": "switch.turn_off",
                                               "target": {"device_id": "whole-unit"}}))  # fmt: skip


async def _hvac(hass: HomeAssistant, factory: Callable[..., ModbusSim]) -> tuple[Any, dict[str, str]]:
    sim = factory("--static", "--device", "2:hvac_unit")
    device = await add_device(hass, sim.port, 2, "hvac_unit")
    return device, entity_ids(hass, device)


async def test_finding_1_data_cannot_widen_or_move_other_setpoints(
    hass: HomeAssistant, addon: AddonStandIn, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    """A device_id in data widened "turn off economizer" into turning the unit off, and a fan
    speed of 25 also moved both setpoints: now refused at submit, and again at apply."""
    device, ids = await _hvac(hass, modbus_sim_factory)
    link = await _linked(hass, addon)
    unit = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, device.unique_id)})
    assert unit is not None
    before = {
        k: hass.states.get(ids[k]).state for k in ("cooling_setpoint", "heating_setpoint", "unit_enable")
    }  # type: ignore[union-attr]
    economizer = {"type": "service", "service": "switch.turn_off", "target": {"entity_id": ids["economizer_enable"]},
                  "data": {"device_id": unit.id}}  # fmt: skip
    fan = {"type": "service", "service": "number.set_value", "target": {"entity_id": ids["fan_speed_setpoint"]},
           "data": {"value": 25, "device_id": unit.id}}  # fmt: skip
    response = await _submit(hass, [_rec("eco", action=economizer), _rec("fan", action=fan)])
    assert response["accepted"] == []
    assert all("device_id" in refused["error"] for refused in response["refused"])

    # Stored by an older version before the check existed: refused at apply, nothing changes.
    book = link.runtime_data.book
    for rec_id, action in (("eco", economizer), ("fan", fan)):
        rec = parse_recommendation(_rec(rec_id))
        rec.action = action
        book.open[rec_id] = rec
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "apply_recommendation", {"recommendation_id": rec_id}, blocking=True
            )
        assert err.value.translation_key == "targeting_in_data"
    await hass.async_block_till_done()
    after = {k: hass.states.get(ids[k]).state for k in before}  # type: ignore[union-attr]
    assert after == before

    # The fan speed alone moves the fan speed alone.
    clean = {**fan, "data": {"value": 25}}
    assert (await _submit(hass, [_rec("fan-ok", action=clean)]))["accepted"] == ["fan-ok"]
    await hass.services.async_call(
        DOMAIN, "apply_recommendation", {"recommendation_id": "fan-ok"}, blocking=True
    )
    await hass.async_block_till_done()
    assert float(hass.states.get(ids["fan_speed_setpoint"]).state) == 25  # type: ignore[union-attr]
    assert {k: hass.states.get(ids[k]).state for k in before} == before  # type: ignore[union-attr]


async def test_guard_checks_target_value_step_and_rate(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    _device, ids = await _hvac(hass, modbus_sim_factory)
    assert await async_setup_component(
        hass, "input_number", {"input_number": {"other": {"min": 0, "max": 10, "step": 1}}}
    )
    guard = get_guard(hass)
    fan = ids["fan_speed_setpoint"]  # EAIO's own: 20..100, step 5

    def cmd(entity_id: str, service: str = "number.set_value", **data: Any) -> Command:
        return Command(service, entity_id, data, "assistant", "hvac", Context(), "test")

    def refusal(command: Command) -> str | None:
        with pytest.raises(ServiceValidationError) as err:
            guard.check(command)
        return err.value.translation_key

    assert refusal(cmd("input_number.other", "input_number.set_value", value=3)) == "target_not_allowed"
    assert refusal(cmd(fan, value=105)) == "write_out_of_range"
    assert refusal(cmd(fan, value=42)) == "write_off_step"
    assert refusal(cmd(fan, value="fast")) == "write_not_a_number"
    assert refusal(cmd(fan, "climate.set_temperature", temperature=22)) == "service_not_for_target"
    assert refusal(cmd(fan, value=40, area_id="house")) == "targeting_in_data"
    assert guard.check(cmd(fan, value=40)) == {"value": 40}

    # A declared controllable is a target too, inside its own limits and the entity's.
    guard.policies["input_number.other"] = TargetPolicy("load", Limits(2.0, 8.0, 1.0), max_per_hour=2)
    assert refusal(cmd("input_number.other", "input_number.set_value", value=9)) == "write_out_of_range"
    for value in (3, 4):
        await guard.async_call(cmd("input_number.other", "input_number.set_value", value=value))
    assert hass.states.get("input_number.other").state == "4.0"  # type: ignore[union-attr]
    assert refusal(cmd("input_number.other", "input_number.set_value", value=5)) == "rate_limited"
    assert hass.states.get("input_number.other").state == "4.0"  # type: ignore[union-attr]

    # Climate limits come from min_temp/max_temp/target_temp_step, fan percentages are 0..100.
    hass.states.async_set("climate.zone", "heat", {"min_temp": 16, "max_temp": 26, "target_temp_step": 0.5})
    hass.states.async_set("fan.vent", "on", {"percentage_step": 10})
    guard.policies["climate.zone"] = TargetPolicy("zone")
    guard.policies["fan.vent"] = TargetPolicy("vent")
    assert refusal(cmd("climate.zone", "climate.set_temperature", temperature=27)) == "write_out_of_range"
    assert refusal(cmd("climate.zone", "climate.set_temperature", temperature=21.3)) == "write_off_step"
    assert guard.check(cmd("climate.zone", "climate.set_temperature", temperature=21.5)) == {
        "temperature": 21.5
    }
    assert refusal(cmd("fan.vent", "fan.set_percentage", percentage=120)) == "write_out_of_range"
    assert refusal(cmd("fan.vent", "fan.set_percentage", percentage=35)) == "write_off_step"
    hass.states.async_set("light.hall", "on")
    guard.policies["light.hall"] = TargetPolicy("hall")
    light = Command("light.turn_on", "light.hall", {"brightness_pct": 140}, "assistant", "lighting")
    assert refusal(light) == "write_out_of_range"
    assert guard.check(
        Command("light.turn_on", "light.hall", {"brightness_pct": 40}, "assistant", "lighting")
    )
    allowed = Command("climate.set_temperature", "climate.zone", {"temperature": 22}, "person", "lighting")
    assert refusal(allowed) == "service_not_allowed"


async def test_write_point_passes_the_guard_and_is_rate_limited(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim], caplog: pytest.LogCaptureFixture
) -> None:
    device, ids = await _hvac(hass, modbus_sim_factory)
    guard = get_guard(hass)
    guard.policies[ids["cooling_setpoint"]] = TargetPolicy("zone", Limits(20.0, 26.0, 0.5), max_per_hour=1)
    call = {"config_entry_id": device.entry_id, "point": "cooling_setpoint"}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "write_point", {**call, "value": 27}, blocking=True)
    assert (
        err.value.translation_key == "write_out_of_range"
    )  # inside the profile's 18..30, outside the policy
    await hass.services.async_call(DOMAIN, "write_point", {**call, "value": 22}, blocking=True)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "write_point", {**call, "value": 23}, blocking=True)
    assert err.value.translation_key == "rate_limited"
    await hass.async_block_till_done()
    assert float(hass.states.get(ids["cooling_setpoint"]).state) == 22  # type: ignore[union-attr]
    assert "asked by person" in caplog.text

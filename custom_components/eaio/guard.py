"""The one guard every change to a device or entity passes, whoever asks.

A person's ``eaio.write_point``, ``eaio.apply_recommendation``, the plan executor and the
assistant all come through here: the target must be EAIO's own entity or a declared
controllable's, the service must be allowed for the category, no targeting key may hide in
``data`` (it would widen the call to a whole device or area), only the fields the service
needs pass, the value must sit inside the target entity's own limits and step (and a
controllable's narrower ones), the rate limit and allowed hours hold, and who asked is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import logging
from typing import Any, Final

from homeassistant.core import Context, HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .control_rules import AllowedHours, Limits, RateLimiter, on_step, within
from .coordinator import EaioCoordinator

_LOGGER = logging.getLogger(__name__)

GUARD: HassKey[Guard] = HassKey(f"{DOMAIN}_guard")

# Keys that choose targets; inside ``data`` they would widen a call past the named entity.
TARGETING_KEYS: Final = frozenset({"entity_id", "device_id", "area_id", "floor_id", "label_id"})

# The fields of ``data`` each service may carry: nothing else passes, so a setpoint call
# cannot also move other setpoints or modes.
SERVICE_FIELDS: Final[dict[str, frozenset[str]]] = {
    "number.set_value": frozenset({"value"}),
    "input_number.set_value": frozenset({"value"}),
    "climate.set_temperature": frozenset({"temperature"}),
    "climate.set_hvac_mode": frozenset({"hvac_mode"}),
    "water_heater.set_temperature": frozenset({"temperature"}),
    "fan.set_percentage": frozenset({"percentage"}),
    "switch.turn_on": frozenset(),
    "switch.turn_off": frozenset(),
    "input_boolean.turn_on": frozenset(),
    "input_boolean.turn_off": frozenset(),
    "light.turn_on": frozenset({"brightness_pct", "transition"}),
    "light.turn_off": frozenset({"transition"}),
    "select.select_option": frozenset({"option"}),
    "input_select.select_option": frozenset({"option"}),
}
# The field that carries the value, where a service has one; it must be present.
VALUE_FIELD: Final = {
    "number.set_value": "value",
    "input_number.set_value": "value",
    "climate.set_temperature": "temperature",
    "climate.set_hvac_mode": "hvac_mode",
    "water_heater.set_temperature": "temperature",
    "fan.set_percentage": "percentage",
    "select.select_option": "option",
    "input_select.select_option": "option",
}

# Optional fields that carry a number, with the range that makes sense for them.
OPTIONAL_RANGES: Final[dict[str, tuple[float, float]]] = {
    "brightness_pct": (0.0, 100.0),
    "transition": (0.0, 3600.0),
}

_SWITCHING = frozenset(
    {"switch.turn_on", "switch.turn_off", "input_boolean.turn_on", "input_boolean.turn_off"}
)
_NUMBERS = frozenset({"number.set_value", "input_number.set_value"})
# Which services each recommendation category, and the plan executor, may call.
ALLOWED_SERVICES: Final[dict[str, frozenset[str]]] = {
    "hvac": frozenset(
        {
            "climate.set_temperature",
            "climate.set_hvac_mode",
            "water_heater.set_temperature",
            "fan.set_percentage",
            *_NUMBERS,
            *_SWITCHING,
        }
    ),
    "lighting": frozenset({"light.turn_on", "light.turn_off", "switch.turn_on", "switch.turn_off"}),
    "load": frozenset(
        {
            *_NUMBERS,
            *_SWITCHING,
            "select.select_option",
            "input_select.select_option",
            "water_heater.set_temperature",
        }
    ),
    "plan": frozenset(
        {
            *_NUMBERS,
            *_SWITCHING,
            "select.select_option",
            "input_select.select_option",
            "climate.set_temperature",
        }
    ),
}

# Who may ask; each request is logged with it and the user behind it.
REQUESTERS: Final = ("person", "recommendation", "executor", "assistant")
DEFAULT_MAX_PER_HOUR: Final = 30


def action_problem(category: str, service: str, data: Mapping[str, Any]) -> str | None:
    """Why a service action may not be submitted, in plain words, or None when it may be.

    Checked at submit time so the add-on hears the reason at once, and again at apply.
    """
    allowed = ALLOWED_SERVICES.get(category, frozenset())
    if service not in allowed:
        return f"{category} recommendations may not call {service} (allowed: {', '.join(sorted(allowed))})"
    hidden = sorted(TARGETING_KEYS & set(data))
    if hidden:
        return f"data may not carry targeting keys ({', '.join(hidden)}): name the entity in target"
    extra = sorted(set(data) - SERVICE_FIELDS[service])
    if extra:
        return (
            f"{service} takes only {sorted(SERVICE_FIELDS[service]) or 'no fields'}, not {', '.join(extra)}"
        )
    value_field = VALUE_FIELD.get(service)
    if value_field and value_field not in data:
        return f"{service} needs {value_field} in data"
    return None


@dataclass(slots=True)
class TargetPolicy:
    """What a declared controllable adds to an entity's own limits."""

    key: str
    limits: Limits = field(default_factory=Limits)
    max_per_hour: int = DEFAULT_MAX_PER_HOUR
    allowed_hours: AllowedHours = field(default_factory=AllowedHours)


@dataclass(slots=True)
class Command:
    """One change somebody asks for."""

    service: str
    entity_id: str
    data: dict[str, Any]
    requester: str
    category: str
    context: Context | None = None
    reason: str = ""


def _refuse(key: str, **placeholders: Any) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def entity_limits(state: State, field_name: str) -> Limits:
    """The entity's own range and step for the field a service sets."""
    attrs = state.attributes
    domain = state.domain
    if field_name == "value":
        return Limits(_number(attrs.get("min")), _number(attrs.get("max")), _number(attrs.get("step")))
    if field_name == "temperature":
        step = _number(attrs.get("target_temp_step")) if domain == "climate" else None
        return Limits(_number(attrs.get("min_temp")), _number(attrs.get("max_temp")), step)
    if field_name in ("percentage", "brightness_pct"):
        step = _number(attrs.get("percentage_step")) if field_name == "percentage" else None
        return Limits(0.0, 100.0, step)
    return Limits()


class Guard:
    """Checks, rate-limits and logs every change; calls the service when it passes."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.rate = RateLimiter(DEFAULT_MAX_PER_HOUR)
        # Declared controllables' entities, filled by the plan executor of each add-on link.
        self.policies: dict[str, TargetPolicy] = {}

    def _now(self) -> float:
        return dt_util.utcnow().timestamp()

    def _is_eaio_entity(self, entity_id: str) -> bool:
        entry = er.async_get(self.hass).async_get(entity_id)
        return entry is not None and entry.platform == DOMAIN

    def check(self, cmd: Command) -> dict[str, Any]:
        """The data to send, or a translated refusal saying why."""
        problem = action_problem(cmd.category, cmd.service, cmd.data)
        if problem is not None:
            hidden = sorted(TARGETING_KEYS & set(cmd.data))
            if cmd.service not in ALLOWED_SERVICES.get(cmd.category, frozenset()):
                raise _refuse(
                    "service_not_allowed",
                    service=cmd.service,
                    allowed=", ".join(sorted(ALLOWED_SERVICES.get(cmd.category, frozenset()))),
                )
            if hidden:
                raise _refuse("targeting_in_data", keys=", ".join(hidden), service=cmd.service)
            raise _refuse("data_not_allowed", service=cmd.service, problem=problem)
        policy = self.policies.get(cmd.entity_id)
        if policy is None and not self._is_eaio_entity(cmd.entity_id):
            raise _refuse("target_not_allowed", target=cmd.entity_id)
        state = self.hass.states.get(cmd.entity_id)
        if state is None or state.state == "unavailable":
            raise _refuse("target_unavailable", target=cmd.entity_id)
        if state.domain != cmd.service.split(".", 1)[0]:
            raise _refuse("service_not_for_target", service=cmd.service, target=cmd.entity_id)
        value_field = VALUE_FIELD.get(cmd.service)
        if value_field is not None:
            self._check_value(cmd, state, value_field, policy)
        for name, (low, high) in OPTIONAL_RANGES.items():
            if name in cmd.data:
                number = _number(cmd.data[name])
                if number is None or not low <= number <= high:
                    raise _refuse(
                        "write_out_of_range", point=cmd.entity_id, value=cmd.data[name], min=low, max=high
                    )
        self._check_rate_and_hours(cmd.entity_id, policy)
        return dict(cmd.data)

    def _check_value(self, cmd: Command, state: State, field_name: str, policy: TargetPolicy | None) -> None:
        value = cmd.data[field_name]
        if field_name in ("option", "hvac_mode"):
            options = state.attributes.get("options" if field_name == "option" else "hvac_modes") or []
            if value not in options:
                raise _refuse(
                    "write_not_an_option",
                    point=cmd.entity_id,
                    value=value,
                    options=", ".join(map(str, options)),
                )
            return
        number = _number(value)
        if number is None:
            raise _refuse("write_not_a_number", point=cmd.entity_id, value=value)
        own = entity_limits(state, field_name)
        for limits in (own, policy.limits if policy else Limits()):
            if not within(number, limits):
                raise _refuse(
                    "write_out_of_range",
                    point=cmd.entity_id,
                    value=value,
                    min="-" if limits.low is None else limits.low,
                    max="-" if limits.high is None else limits.high,
                )
        if own.step and not on_step(number, own.low or 0.0, own.step):
            raise _refuse("write_off_step", point=cmd.entity_id, value=value, step=own.step)

    def _check_rate_and_hours(self, target: str, policy: TargetPolicy | None) -> None:
        if policy is not None and not policy.allowed_hours.contains(dt_util.now().time()):
            raise _refuse("outside_allowed_hours", target=target, hours=str(policy.allowed_hours))
        limit = policy.max_per_hour if policy else DEFAULT_MAX_PER_HOUR
        if not self.rate.allows(target, self._now(), limit):
            raise _refuse("rate_limited", target=target, limit=limit)

    def _log(self, cmd: Command, outcome: str) -> None:
        user = cmd.context.user_id if cmd.context else None
        _LOGGER.log(
            logging.INFO if outcome == "sent" else logging.WARNING,
            "%s %s on %s with %s (asked by %s, user %s, context %s%s)",
            outcome,
            cmd.service,
            cmd.entity_id,
            cmd.data,
            cmd.requester,
            user,
            cmd.context.id if cmd.context else None,
            f"; {cmd.reason}" if cmd.reason else "",
        )

    async def async_call(self, cmd: Command) -> None:
        """Check, then call the service on the one entity named; nothing else is targeted."""
        try:
            data = self.check(cmd)
        except ServiceValidationError as err:
            self._log(cmd, f"refused ({err.translation_key})")
            raise
        self._log(cmd, "sent")
        self.rate.record(cmd.entity_id, self._now())
        domain, name = cmd.service.split(".", 1)
        await self.hass.services.async_call(
            domain, name, {**data, "entity_id": cmd.entity_id}, blocking=True, context=cmd.context
        )

    async def async_write_point(
        self, coordinator: EaioCoordinator, key: str, value: Any, requester: str, context: Context | None
    ) -> None:
        """A write to EAIO's own point: the device profile bounds it (in the coordinator's write
        path); here the rate limit holds and who asked is logged."""
        entry = coordinator.config_entry
        target = (
            er.async_get(self.hass).async_get_entity_id(
                _point_platform(coordinator, key), DOMAIN, f"{entry.unique_id}_{key}"
            )
            or f"{entry.entry_id}:{key}"
        )
        policy = self.policies.get(target)
        cmd = Command("write_point", target, {"value": value}, requester, "point", context)
        try:
            self._check_rate_and_hours(target, policy)
        except ServiceValidationError as err:
            self._log(cmd, f"refused ({err.translation_key})")
            raise
        if policy is not None:
            number = _number(value)
            if number is not None and not within(number, policy.limits):
                raise _refuse(
                    "write_out_of_range",
                    point=target,
                    value=value,
                    min=policy.limits.low,
                    max=policy.limits.high,
                )
        self._log(cmd, "sent")
        await coordinator.async_write(key, value, context)
        self.rate.record(target, self._now())

    async def async_release_point(
        self,
        coordinator: EaioCoordinator,
        key: str,
        requester: str,
        context: Context | None,
        reason: str = "",
    ) -> None:
        """Give a BACnet point back to the device's own control (a safe state; not rate-limited,
        since it only ever ends EAIO's command)."""
        release = getattr(coordinator, "async_release", None)
        if release is None:
            raise _refuse("release_not_supported", device=coordinator.config_entry.title)
        cmd = Command("release_point", f"{coordinator.config_entry.entry_id}:{key}", {}, requester, "point", context,
                      reason)  # fmt: skip
        self._log(cmd, "sent")
        await release(key)


def _point_platform(coordinator: EaioCoordinator, key: str) -> str:
    for spec in coordinator.specs:
        if spec.key == key:
            return str(spec.platform.value)
    return "number"


def get_guard(hass: HomeAssistant) -> Guard:
    """The one guard of this Home Assistant."""
    guard = hass.data.get(GUARD)
    if guard is None:
        guard = hass.data[GUARD] = Guard(hass)
    return guard

"""Controllables: the entities the owner lets carry out a plan, with their limits and safe state.

Each is a subentry (type ``controllable``) of the add-on link. What the plan needs (the
equipment's physics) lives in the add-on's options; how a plan is carried out lives here, beside
the guard, because the integration owns every write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, State

from .control_rules import DEFAULT_MAX_CHANGES_PER_HOUR, AllowedHours, Limits
from .guard import TargetPolicy, entity_limits

SUBENTRY_TYPE: Final = "controllable"

KIND_BATTERY: Final = "battery"
KIND_CAR: Final = "ev"
KIND_APPLIANCE: Final = "appliance"
KIND_ZONE: Final = "hvac_zone"
KINDS: Final = (KIND_BATTERY, KIND_CAR, KIND_APPLIANCE, KIND_ZONE)

# The domains each role may be, per kind.
NUMBER_DOMAINS: Final = ("number", "input_number")
SWITCH_DOMAINS: Final = ("switch", "input_boolean")
SELECT_DOMAINS: Final = ("select", "input_select")
ENTITY_DOMAINS: Final[dict[str, tuple[str, ...]]] = {
    KIND_BATTERY: NUMBER_DOMAINS,
    KIND_CAR: NUMBER_DOMAINS,
    KIND_APPLIANCE: SWITCH_DOMAINS,
    KIND_ZONE: ("climate", *NUMBER_DOMAINS),
}
DEFAULT_PLAN_KEY: Final = {KIND_BATTERY: "battery", KIND_CAR: "car", KIND_ZONE: "zone"}

CONF_KIND: Final = "kind"
CONF_PLAN_KEY: Final = "plan_key"
CONF_ENTITY: Final = "entity_id"
CONF_SWITCH: Final = "switch_entity"
CONF_MODE: Final = "mode_entity"
CONF_AUTO_OPTION: Final = "auto_option"
CONF_FORCED_OPTION: Final = "forced_option"
CONF_RESERVE: Final = "reserve_entity"
CONF_FEEDBACK: Final = "feedback_entity"
CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"
CONF_MAX_PER_HOUR: Final = "max_changes_per_hour"
CONF_HOURS: Final = "allowed_hours"
CONF_OVERRIDE: Final = "override_minutes"


@dataclass(slots=True)
class Controllable:
    """One thing that may carry out a plan item."""

    id: str
    name: str
    kind: str
    plan_key: str
    entity_id: str | None
    switch_entity: str | None = None
    mode_entity: str | None = None
    auto_option: str | None = None
    forced_option: str | None = None
    # The battery's own minimum state of charge (%), set per slot so its automatic mode keeps
    # what the plan saves for dearer hours while covering the measured load.
    reserve_entity: str | None = None
    feedback_entity: str | None = None
    limits: Limits = field(default_factory=Limits)
    max_per_hour: int = DEFAULT_MAX_CHANGES_PER_HOUR
    allowed_hours: AllowedHours = field(default_factory=AllowedHours)
    override_minutes: int | None = None  # a manual change pauses EAIO this long; None: until the next plan

    @property
    def entities(self) -> list[str]:
        """Every entity EAIO commands for this controllable."""
        return [e for e in (self.entity_id, self.switch_entity, self.mode_entity, self.reserve_entity) if e]

    def policy(self, entity_id: str) -> TargetPolicy:
        limits = self.limits if entity_id == self.entity_id else Limits()
        return TargetPolicy(self.plan_key, limits, self.max_per_hour, self.allowed_hours)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "plan_key": self.plan_key,
            "kind": self.kind,
            "entity_id": self.entity_id,
            "switch_entity": self.switch_entity,
            "mode_entity": self.mode_entity,
            "reserve_entity": self.reserve_entity,
            "feedback_entity": self.feedback_entity,
            "min": self.limits.low,
            "max": self.limits.high,
            "step": self.limits.step,
        }


def _float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def from_subentry(subentry_id: str, title: str, data: Mapping[str, Any]) -> Controllable:
    return Controllable(
        id=subentry_id,
        name=title,
        kind=data[CONF_KIND],
        plan_key=data[CONF_PLAN_KEY],
        entity_id=data.get(CONF_ENTITY) or None,
        switch_entity=data.get(CONF_SWITCH) or None,
        mode_entity=data.get(CONF_MODE) or None,
        auto_option=data.get(CONF_AUTO_OPTION) or None,
        forced_option=data.get(CONF_FORCED_OPTION) or None,
        reserve_entity=data.get(CONF_RESERVE) or None,
        feedback_entity=data.get(CONF_FEEDBACK) or None,
        limits=Limits(_float(data.get(CONF_MIN)), _float(data.get(CONF_MAX)), _float(data.get(CONF_STEP))),
        max_per_hour=int(data.get(CONF_MAX_PER_HOUR, DEFAULT_MAX_CHANGES_PER_HOUR)),
        allowed_hours=AllowedHours.parse(data.get(CONF_HOURS)),
        override_minutes=int(data[CONF_OVERRIDE]) if data.get(CONF_OVERRIDE) else None,
    )


def controllables_of(entry: ConfigEntry) -> list[Controllable]:
    return [
        from_subentry(sub.subentry_id, sub.title, sub.data)
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_TYPE
    ]


def _domain_ok(entity_id: str, domains: tuple[str, ...]) -> bool:
    return entity_id.split(".", 1)[0] in domains


def validate(hass: HomeAssistant, data: Mapping[str, Any]) -> dict[str, str]:
    """Errors per field (translation keys of the flow), empty when the controllable is sound.

    The entity must exist and its domain fit the kind; the limits must sit inside the entity's
    own min/max/step; a battery with a mode select needs its automatic option (the safe state);
    a reserve works only beside that automatic mode, and must accept percentages.
    """
    errors: dict[str, str] = {}
    kind = data[CONF_KIND]
    entity_id = data.get(CONF_ENTITY) or None
    switch = data.get(CONF_SWITCH) or None
    if entity_id is None and (kind != KIND_CAR or switch is None):
        return {CONF_ENTITY: "entity_required"}
    for conf, domains in ((CONF_ENTITY, ENTITY_DOMAINS[kind]), (CONF_SWITCH, SWITCH_DOMAINS),
                          (CONF_MODE, SELECT_DOMAINS), (CONF_RESERVE, NUMBER_DOMAINS),
                          (CONF_FEEDBACK, ("sensor", "number", "input_number"))):  # fmt: skip
        chosen = data.get(conf) or None
        if chosen is None:
            continue
        if not _domain_ok(chosen, domains):
            errors[conf] = "wrong_domain"
        elif hass.states.get(chosen) is None:
            errors[conf] = "entity_missing"
    if errors:
        return errors
    try:
        low, high, step = _float(data.get(CONF_MIN)), _float(data.get(CONF_MAX)), _float(data.get(CONF_STEP))
    except (TypeError, ValueError):
        return {"base": "limits_outside_entity"}
    if low is not None and high is not None and low > high:
        return {"base": "limits_reversed"}
    if entity_id is not None and not entity_id.startswith(SWITCH_DOMAINS):
        state = hass.states.get(entity_id)
        assert state is not None
        own = entity_limits(state, "temperature" if state.domain == "climate" else "value")
        mine = Limits(
            own.low if low is None else low,
            own.high if high is None else high,
            own.step if step is None else step,
        )
        if not mine.inside(own):
            errors["base"] = "limits_outside_entity"
    mode = data.get(CONF_MODE) or None
    if mode is not None:
        mode_state = hass.states.get(mode)
        options = _options(mode_state)
        if data.get(CONF_AUTO_OPTION) not in options:
            errors[CONF_AUTO_OPTION] = "option_missing"
        if (data.get(CONF_FORCED_OPTION) or None) is not None and data[CONF_FORCED_OPTION] not in options:
            errors[CONF_FORCED_OPTION] = "option_missing"
    reserve = data.get(CONF_RESERVE) or None
    if reserve is not None:
        if mode is None:
            errors[CONF_RESERVE] = "reserve_needs_mode"
        elif (reserve_state := hass.states.get(reserve)) is None or (
            reserve_state.attributes.get("unit_of_measurement") != "%"
        ):
            errors[CONF_RESERVE] = "reserve_not_percent"
    try:
        AllowedHours.parse(data.get(CONF_HOURS))
    except ValueError:
        errors[CONF_HOURS] = "bad_hours"
    return errors


def _options(state: State | None) -> list[str]:
    return [str(o) for o in (state.attributes.get("options") or [])] if state else []

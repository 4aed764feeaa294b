"""The subentry flow that declares a controllable on the add-on link (entity selectors by domain)."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
)
import voluptuous as vol

from .control_rules import DEFAULT_MAX_CHANGES_PER_HOUR
from .controllables import (
    CONF_AUTO_OPTION,
    CONF_ENTITY,
    CONF_FEEDBACK,
    CONF_FORCED_OPTION,
    CONF_HOURS,
    CONF_KIND,
    CONF_MAX,
    CONF_MAX_PER_HOUR,
    CONF_MIN,
    CONF_MODE,
    CONF_OVERRIDE,
    CONF_PLAN_KEY,
    CONF_RESERVE,
    CONF_STEP,
    CONF_SWITCH,
    DEFAULT_PLAN_KEY,
    ENTITY_DOMAINS,
    KIND_BATTERY,
    KIND_CAR,
    KINDS,
    NUMBER_DOMAINS,
    SELECT_DOMAINS,
    SUBENTRY_TYPE,
    SWITCH_DOMAINS,
    validate,
)

# The selector's option names (in the translations' selector section).
KIND_SELECTOR = "controllable_kind"
_NUMBER = NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any"))


def _entity(domains: tuple[str, ...]) -> EntitySelector:
    return EntitySelector(EntitySelectorConfig(domain=list(domains)))


def _schema(kind: str, defaults: dict[str, Any]) -> vol.Schema:
    def opt(key: str) -> vol.Optional:
        value = defaults.get(key)
        return (
            vol.Optional(key)
            if value in (None, "")
            else vol.Optional(key, description={"suggested_value": value})
        )

    fields: dict[Any, Any] = {
        vol.Required(
            CONF_PLAN_KEY, default=defaults.get(CONF_PLAN_KEY, DEFAULT_PLAN_KEY.get(kind, ""))
        ): TextSelector(),
    }
    if kind == KIND_CAR:
        fields[opt(CONF_SWITCH)] = _entity(SWITCH_DOMAINS)
        fields[opt(CONF_ENTITY)] = _entity(ENTITY_DOMAINS[kind])
    else:
        fields[vol.Required(CONF_ENTITY, default=defaults.get(CONF_ENTITY, vol.UNDEFINED))] = _entity(
            ENTITY_DOMAINS[kind]
        )
    if kind == KIND_BATTERY:
        fields[opt(CONF_MODE)] = _entity(SELECT_DOMAINS)
        fields[opt(CONF_AUTO_OPTION)] = TextSelector()
        fields[opt(CONF_FORCED_OPTION)] = TextSelector()
        fields[opt(CONF_RESERVE)] = _entity(NUMBER_DOMAINS)
    fields[opt(CONF_FEEDBACK)] = _entity(("sensor", "number", "input_number"))
    if kind != "appliance":
        for key in (CONF_MIN, CONF_MAX, CONF_STEP):
            fields[opt(key)] = _NUMBER
    fields[
        vol.Required(CONF_MAX_PER_HOUR, default=defaults.get(CONF_MAX_PER_HOUR, DEFAULT_MAX_CHANGES_PER_HOUR))
    ] = NumberSelector(NumberSelectorConfig(min=1, max=60, step=1, mode=NumberSelectorMode.BOX))
    fields[opt(CONF_HOURS)] = TextSelector()
    fields[opt(CONF_OVERRIDE)] = NumberSelector(
        NumberSelectorConfig(
            min=5, max=24 * 60, step=5, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
        )
    )
    return vol.Schema(fields)


class ControllableSubentryFlow(ConfigSubentryFlow):
    """Add or change one controllable: first its kind, then its entities and limits."""

    _kind: str = KIND_BATTERY
    _defaults: dict[str, Any]

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        self._defaults = {}
        if user_input is not None:
            self._kind = user_input[CONF_KIND]
            return await self.async_step_entities()
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_KIND): SelectSelector(
                        SelectSelectorConfig(options=list(KINDS), translation_key=KIND_SELECTOR)
                    )
                }
            ),
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        subentry = self._get_reconfigure_subentry()
        self._kind = subentry.data[CONF_KIND]
        self._defaults = dict(subentry.data)
        return await self.async_step_entities()

    async def async_step_entities(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_KIND: self._kind, **user_input}
            data[CONF_PLAN_KEY] = str(data[CONF_PLAN_KEY]).strip()
            errors = validate(self.hass, data)
            if not data[CONF_PLAN_KEY]:
                errors[CONF_PLAN_KEY] = "plan_key_required"
            entry = self._get_entry()
            taken = {
                sub.data.get(CONF_PLAN_KEY)
                for sub in entry.subentries.values()
                if sub.subentry_type == SUBENTRY_TYPE
                and (self.source == "user" or sub.subentry_id != self._get_reconfigure_subentry().subentry_id)
            }
            if data[CONF_PLAN_KEY] in taken:
                errors[CONF_PLAN_KEY] = "plan_key_taken"
            if not errors:
                target = data.get(CONF_ENTITY) or data.get(CONF_SWITCH)
                state = self.hass.states.get(str(target))
                title = f"{data[CONF_PLAN_KEY]}: {state.name if state else target}"
                if self.source == "user":
                    return self.async_create_entry(title=title, data=data)
                return self.async_update_and_abort(
                    entry, self._get_reconfigure_subentry(), title=title, data=data
                )
            self._defaults = data
        return self.async_show_form(
            step_id="entities",
            data_schema=_schema(self._kind, self._defaults),
            errors=errors,
            description_placeholders={"kind": self._kind},
        )

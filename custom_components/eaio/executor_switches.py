"""Per controllable two switches on the add-on link: autopilot (EAIO carries out the plan on it)
and dry run (EAIO logs and announces what it would do, and changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import EntityCategory
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .controllables import Controllable
from .executor import PlanExecutor


class _ControlSwitch(SwitchEntity):
    _attr_has_entity_name = True
    _attr_should_poll = False
    _field = ""

    def __init__(self, link: AddonCoordinator, executor: PlanExecutor, controllable: Controllable) -> None:
        self._executor = executor
        self._key = controllable.plan_key
        entry = link.config_entry
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_{controllable.id}_{self._field}"
        self._attr_translation_key = self._field
        self._attr_translation_placeholders = {"name": controllable.name}
        self._attr_device_info = link.device_info

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._executor.async_add_listener(self.async_write_ha_state))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        state = self._executor.state_of(self._key)
        described = next((d for d in self._executor.describe() if d["plan_key"] == self._key), {})
        return {
            "plan_key": self._key,
            "state": state.status,
            "reason": state.reason,
            "paused_until": described.get("paused_until"),
        }


class AutopilotSwitch(_ControlSwitch):
    _field = "autopilot"

    @property
    def is_on(self) -> bool:
        return bool(self._executor.state_of(self._key).autopilot)

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._executor.async_set_autopilot(self._key, True, "person", self._context)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._executor.async_set_autopilot(self._key, False, "person", self._context)


class DryRunSwitch(_ControlSwitch):
    _attr_entity_category = EntityCategory.CONFIG
    _field = "dry_run"

    @property
    def is_on(self) -> bool:
        return self._executor.state_of(self._key).dry_run

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._executor.async_set_dry_run(self._key, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._executor.async_set_dry_run(self._key, False)


def async_add_control_switches(link: AddonCoordinator, async_add_entities: Callable[..., None]) -> None:
    """Each controllable's switches, under its subentry so they go when it goes."""
    executor = link.executor
    if executor is None:
        return
    add: AddConfigEntryEntitiesCallback = async_add_entities  # type: ignore[assignment]
    for controllable in executor.controllables.values():
        add(
            [AutopilotSwitch(link, executor, controllable), DryRunSwitch(link, executor, controllable)],
            config_subentry_id=controllable.id,
        )

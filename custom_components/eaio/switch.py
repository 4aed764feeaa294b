"""Switches: writable coils and on/off registers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .coordinator import EaioConfigEntry
from .entity import EaioPointEntity, description_kwargs
from .executor_switches import async_add_control_switches

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EaioSwitch(coordinator, point, SwitchEntityDescription(**description_kwargs(point)))  # type: ignore[arg-type]
        for point in coordinator.specs
        if point.platform is Platform.SWITCH
    )
    if isinstance(coordinator, AddonCoordinator):
        async_add_control_switches(coordinator, async_add_entities)


class EaioSwitch(EaioPointEntity, SwitchEntity):
    """A writable enable."""

    @property
    def is_on(self) -> bool | None:
        value = self.point_value
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.coordinator.async_write(self.point.key, True, self._context)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.coordinator.async_write(self.point.key, False, self._context)

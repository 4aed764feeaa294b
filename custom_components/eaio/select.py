"""Selects: writable multi-state points (operating modes)."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import EaioConfigEntry
from .entity import EaioPointEntity, description_kwargs

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EaioSelect(
            coordinator,
            point,
            SelectEntityDescription(**description_kwargs(point), options=list(point.options)),  # type: ignore[arg-type]
        )
        for point in coordinator.specs
        if point.platform is Platform.SELECT
    )


class EaioSelect(EaioPointEntity, SelectEntity):
    """A writable choice of states."""

    @property
    def current_option(self) -> str | None:
        value = self.point_value
        return value if isinstance(value, str) else None

    async def async_select_option(self, option: str) -> None:
        await self.coordinator.async_write(self.point.key, option, self._context)

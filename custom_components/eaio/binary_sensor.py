"""Binary sensors: discrete inputs and read-only coils or flags."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .coordinator import EaioConfigEntry
from .entity import EaioPointEntity, description_kwargs
from .plan_entities import async_setup_plan_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EaioBinarySensor(
            coordinator,
            point,
            BinarySensorEntityDescription(
                **description_kwargs(point),  # type: ignore[arg-type]
                device_class=BinarySensorDeviceClass(point.device_class) if point.device_class else None,
            ),
        )
        for point in coordinator.specs
        if point.platform is Platform.BINARY_SENSOR
    )
    if isinstance(coordinator, AddonCoordinator):
        entry.async_on_unload(
            async_setup_plan_entities(coordinator, coordinator.plans, Platform.BINARY_SENSOR, async_add_entities)
        )


class EaioBinarySensor(EaioPointEntity, BinarySensorEntity):
    """A read-only on/off point."""

    @property
    def is_on(self) -> bool | None:
        value = self.point_value
        return None if value is None else bool(value)

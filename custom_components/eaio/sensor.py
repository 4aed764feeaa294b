"""Sensors: read-only numeric and text points."""

from __future__ import annotations

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .coordinator import EaioConfigEntry
from .entity import EaioPointEntity, description_kwargs
from .entity_spec import EntitySpec
from .plan_entities import async_setup_plan_entities
from .recommendation_sensor import recommendation_sensors

# The coordinator does all I/O; entities only read its data.
PARALLEL_UPDATES = 0


def sensor_description(point: EntitySpec) -> SensorEntityDescription:
    """Build the description from the profile (classes were validated when it loaded)."""
    text = point.text
    return SensorEntityDescription(
        **description_kwargs(point),  # type: ignore[arg-type]
        device_class=SensorDeviceClass(point.device_class) if point.device_class else None,
        state_class=SensorStateClass(point.state_class) if point.state_class and not text else None,
        native_unit_of_measurement=point.unit,
        suggested_display_precision=point.precision,
        entity_category=EntityCategory.DIAGNOSTIC if point.diagnostic else None,
        options=list(point.options) if point.device_class == SensorDeviceClass.ENUM else None,
    )


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EaioSensor(coordinator, point, sensor_description(point))
        for point in coordinator.specs
        if point.platform is Platform.SENSOR
    )
    if isinstance(coordinator, AddonCoordinator):
        async_add_entities(recommendation_sensors(hass, coordinator))
        entry.async_on_unload(
            async_setup_plan_entities(coordinator, coordinator.plans, Platform.SENSOR, async_add_entities)
        )


class EaioSensor(EaioPointEntity, SensorEntity):
    """A read-only point."""

    @property
    def native_value(self) -> float | int | str | None:
        value = self.point_value
        return None if isinstance(value, bool) else value

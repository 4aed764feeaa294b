"""Numbers: writable registers (setpoints), bounded by the profile."""

from __future__ import annotations

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import EaioConfigEntry
from .entity import EaioPointEntity, description_kwargs
from .entity_spec import EntitySpec

# One write at a time per device.
PARALLEL_UPDATES = 1


def number_description(point: EntitySpec) -> NumberEntityDescription:
    return NumberEntityDescription(
        **description_kwargs(point),  # type: ignore[arg-type]
        device_class=NumberDeviceClass(point.device_class) if point.device_class else None,
        native_unit_of_measurement=point.unit,
        native_min_value=float(point.minimum if point.minimum is not None else 0),
        native_max_value=float(point.maximum if point.maximum is not None else 100),
        native_step=float(point.step) if point.step else None,
        mode=NumberMode.BOX,
    )


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EaioNumber(coordinator, point, number_description(point))
        for point in coordinator.specs
        if point.platform is Platform.NUMBER
    )


class EaioNumber(EaioPointEntity, NumberEntity):
    """A writable setpoint."""

    @property
    def native_value(self) -> float | None:
        value = self.point_value
        return None if value is None or isinstance(value, str) else float(value)

    async def async_set_native_value(self, value: float) -> None:
        await self.coordinator.async_write(self.point.key, value, self._context)

"""Base class for entities that show one point of a device."""

from __future__ import annotations

from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .bms.codec import Value
from .coordinator import EaioCoordinator
from .entity_spec import EntitySpec


class EaioPointEntity(CoordinatorEntity[EaioCoordinator]):
    """An entity backed by one point of a device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: EaioCoordinator, point: EntitySpec, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.point = point
        self.entity_description = description
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.unique_id}_{point.key}"
        self._attr_device_info = coordinator.device_info

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_key_listener(self.point.key, self._handle_coordinator_update)
        )

    @property
    def available(self) -> bool:
        """Unavailable when the device is, and when only this point failed."""
        return super().available and self.point.key in self.coordinator.data.values

    @property
    def point_value(self) -> Value | None:
        return self.coordinator.data.values.get(self.point.key)


def description_kwargs(point: EntitySpec) -> dict[str, object]:
    """Fields every entity description shares, taken from the profile."""
    if point.translation_key is not None:
        # EAIO's own entities: name from the translation files, icon from icons.json.
        return {
            "key": point.key,
            "translation_key": point.translation_key,
            "entity_registry_enabled_default": point.enabled_by_default,
        }
    return {
        "key": point.key,
        "name": point.name,
        "icon": point.icon,
        "entity_registry_enabled_default": point.enabled_by_default,
    }

"""Sensors of the recommendations: how many are open, the best one per category, the savings."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .addon_coordinator import AddonCoordinator
from .recommendations import CATEGORIES

MAX_STATE = 255  # Home Assistant's limit for a state string


def recommendation_sensors(hass: HomeAssistant, coordinator: AddonCoordinator) -> list[SensorEntity]:
    currency = hass.config.currency
    return [
        OpenRecommendationsSensor(coordinator),
        SavingsSensor(coordinator, "estimated_savings_energy", "kWh/d", "estimated_savings_kwh_per_day"),
        SavingsSensor(coordinator, "estimated_savings_cost", f"{currency}/d", "estimated_savings_per_day"),
        *(CategorySensor(coordinator, category) for category in CATEGORIES),
    ]


class _RecommendationEntity(CoordinatorEntity[AddonCoordinator], SensorEntity):
    """Recommendations stay readable while the add-on is away: they are stored here."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: AddonCoordinator, key: str) -> None:
        super().__init__(coordinator)
        self._attr_translation_key = key
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_{key}"
        self._attr_device_info = coordinator.device_info

    @property
    def available(self) -> bool:
        return True


class OpenRecommendationsSensor(_RecommendationEntity):
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: AddonCoordinator) -> None:
        super().__init__(coordinator, "open_recommendations")

    @property
    def native_value(self) -> int:
        return len(self.coordinator.book.open)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        ranked = self.coordinator.book.ranked()
        return {
            "top": ranked[0].attributes() if ranked else None,
            "top_title": ranked[0].title if ranked else None,
            "estimated_savings_kwh_per_day": round(sum(r.estimated_savings_kwh_per_day for r in ranked), 3),
            "estimated_savings_per_day": round(sum(r.estimated_savings_per_day for r in ranked), 2),
            "ids": [r.id for r in ranked],
        }


class SavingsSensor(_RecommendationEntity):
    """Sum of what the open recommendations are expected to save per day."""

    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_suggested_display_precision = 2

    def __init__(self, coordinator: AddonCoordinator, key: str, unit: str, field_name: str) -> None:
        super().__init__(coordinator, key)
        self._attr_native_unit_of_measurement = unit
        self._field = field_name

    @property
    def native_value(self) -> float:
        return round(sum(float(getattr(r, self._field)) for r in self.coordinator.book.open.values()), 4)


class CategorySensor(_RecommendationEntity):
    """The best open recommendation of one category; its fields as attributes."""


    def __init__(self, coordinator: AddonCoordinator, category: str) -> None:
        super().__init__(coordinator, f"{category}_recommendation")
        self._category = category

    @property
    def native_value(self) -> str:
        ranked = self.coordinator.book.ranked(self._category)
        return ranked[0].title[:MAX_STATE] if ranked else "none"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        ranked = self.coordinator.book.ranked(self._category)
        top = ranked[0].attributes() if ranked else dict.fromkeys(("id", "title", "action", "target_entity"))
        return {**top, "open": len(ranked), "ids": [r.id for r in ranked]}

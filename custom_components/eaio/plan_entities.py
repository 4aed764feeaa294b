"""The plan as entities: per plan item the current slot's target, with the whole schedule as an
attribute, so automations and dashboards can follow the plan without EAIO acting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import PERCENTAGE, Platform, UnitOfPower, UnitOfTemperature
from homeassistant.core import callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .addon_coordinator import AddonCoordinator
from .plan import PlanBook, PlanItem, Slot

# (field, platform, translation key, unit, device class) per kind of plan item.
FIELDS: dict[str, list[tuple[str, Platform, str, str | None, str | None]]] = {
    "battery": [
        ("value", Platform.SENSOR, "plan_power", UnitOfPower.KILO_WATT, SensorDeviceClass.POWER),
        ("soc", Platform.SENSOR, "plan_soc", PERCENTAGE, SensorDeviceClass.BATTERY),
    ],
    "ev": [("value", Platform.SENSOR, "plan_power", UnitOfPower.KILO_WATT, SensorDeviceClass.POWER)],
    "appliance": [("value", Platform.BINARY_SENSOR, "plan_run", None, BinarySensorDeviceClass.RUNNING)],
    "hvac_zone": [
        ("value", Platform.SENSOR, "plan_setpoint", UnitOfTemperature.CELSIUS, SensorDeviceClass.TEMPERATURE)
    ],
}


def _iso(moment: datetime) -> str:
    # What a person sees is in Home Assistant's time zone.
    return dt_util.as_local(moment).isoformat()


class _PlanEntity(Entity):
    """One field of one plan item; the plan lives in the link, so it stays readable offline."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, coordinator: AddonCoordinator, book: PlanBook, item: PlanItem, field: str, key: str
    ) -> None:
        self._book = book
        self._item_key = item.key
        self._field = field
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_plan_{item.key}_{field}"
        self._attr_translation_key = key
        self._attr_translation_placeholders = {"item": item.name}
        self._attr_device_info = coordinator.device_info

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._book.async_add_listener(self.async_write_ha_state))

    def _slot(self) -> tuple[PlanItem | None, Slot | None]:
        plan = self._book.plan
        if plan is None:
            return None, None
        return plan.items.get(self._item_key), plan.slot_at(self._item_key, dt_util.utcnow())

    def _slot_value(self, slot: Slot) -> Any:
        return slot.soc if self._field == "soc" else slot.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        plan = self._book.plan
        item, slot = self._slot()
        if plan is None or item is None:
            return {"plan_id": None, "schedule": [], "reason": None}
        attrs: dict[str, Any] = {
            "plan_id": plan.plan_id,
            "plan_end": _iso(plan.end),
            "slot_start": _iso(slot.start) if slot else None,
            "reason": slot.reason if slot else None,
            "schedule": [{"start": _iso(s.start), "value": self._slot_value(s)} for s in item.slots],
        }
        if item.run:
            attrs["run_start"], attrs["run_end"] = _iso(item.run[0]), _iso(item.run[1])
        if any(s.reserve is not None for s in item.slots):
            # An automation following the plan without EAIO's autopilot needs the reserve too.
            attrs["reserve"] = slot.reserve if slot else None
        return attrs


class PlanSensor(_PlanEntity, SensorEntity):
    """The current slot's planned power, state of charge or setpoint."""

    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(
        self, coordinator: AddonCoordinator, book: PlanBook, item: PlanItem, spec: tuple[Any, ...]
    ) -> None:
        field, _platform, key, unit, device_class = spec
        super().__init__(coordinator, book, item, field, key)
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class

    @property
    def native_value(self) -> float | None:
        _item, slot = self._slot()
        value = self._slot_value(slot) if slot else None
        return None if value is None or isinstance(value, bool) else float(value)


class PlanRunSensor(_PlanEntity, BinarySensorEntity):
    """Whether an appliance should run now: inside its timed run, or in a slot that says so."""

    _attr_device_class = BinarySensorDeviceClass.RUNNING

    def __init__(
        self, coordinator: AddonCoordinator, book: PlanBook, item: PlanItem, spec: tuple[Any, ...]
    ) -> None:
        super().__init__(coordinator, book, item, spec[0], spec[2])

    @property
    def is_on(self) -> bool | None:
        item, slot = self._slot()
        if item is None:
            return None
        if item.run:
            return item.run[0] <= dt_util.utcnow() < item.run[1]
        return bool(slot.value) if slot else False


@callback
def async_setup_plan_entities(
    coordinator: AddonCoordinator, book: PlanBook, platform: Platform, async_add_entities: AddEntitiesCallback
) -> Callable[[], None]:
    """Add this platform's entities for the plan's items, and for new items when a plan brings them."""
    added: set[str] = set()

    @callback
    def add_new() -> None:
        plan = book.plan
        if plan is None:
            return
        new: list[Entity] = []
        for item in plan.items.values():
            for spec in FIELDS[item.kind]:
                if spec[1] is not platform or f"{item.key}:{spec[0]}" in added:
                    continue
                added.add(f"{item.key}:{spec[0]}")
                cls = PlanRunSensor if platform is Platform.BINARY_SENSOR else PlanSensor
                new.append(cls(coordinator, book, item, spec))
        if new:
            async_add_entities(new)

    add_new()
    return book.async_add_listener(add_new)

"""What an entity needs to know about a point, whichever protocol it comes from."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.const import Platform

from .bms.mqtt import MqttPoint
from .bms.points import DataType, Point
from .platform_map import platform_for


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One point as Home Assistant shows it; built from a Modbus point, BACnet object or topic."""

    key: str
    name: str
    platform: Platform
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    precision: int | None = None
    icon: str | None = None
    enabled_by_default: bool = True
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()
    text: bool = False
    diagnostic: bool = False
    # EAIO's own entities (not a device's points) are named by the translation files and drawn
    # by icons.json under this key; a point's name and icon are the profile's.
    translation_key: str | None = None


def spec_from_modbus(point: Point) -> EntitySpec:
    return EntitySpec(
        key=point.key,
        name=point.name,
        platform=platform_for(point),
        unit=point.unit,
        device_class=point.device_class,
        state_class=point.state_class,
        precision=point.precision,
        icon=point.icon,
        enabled_by_default=point.enabled_by_default,
        minimum=point.minimum,
        maximum=point.maximum,
        step=point.step,
        text=point.data_type is DataType.STRING,
        diagnostic=point.data_type is DataType.STRING,
    )


def spec_from_mqtt(point: MqttPoint) -> EntitySpec:
    return EntitySpec(
        key=point.key,
        name=point.name,
        platform=Platform.BINARY_SENSOR if point.value_type == "bool" else Platform.SENSOR,
        unit=point.unit,
        device_class=point.device_class,
        state_class=point.state_class if point.value_type in ("float", "int") else None,
        precision=point.precision,
        icon=point.icon,
        enabled_by_default=point.enabled_by_default,
        text=point.value_type == "string",
    )


def describe(spec: EntitySpec) -> dict[str, object]:
    """A point as the read service lists it: what a caller needs to read and write it."""
    writable = spec.platform in (Platform.NUMBER, Platform.SWITCH, Platform.SELECT)
    described: dict[str, object] = {"name": spec.name, "unit": spec.unit, "writable": writable}
    if spec.minimum is not None or spec.maximum is not None:
        described.update(min=spec.minimum, max=spec.maximum, step=spec.step)
    if spec.options:
        described["options"] = list(spec.options)
    return described


INVALID_PAYLOADS = EntitySpec(
    key="invalid_payloads",
    name="Invalid payloads",
    platform=Platform.SENSOR,
    state_class="total_increasing",
    diagnostic=True,
    translation_key="invalid_payloads",
)

INVALID_READINGS = EntitySpec(
    key="invalid_readings",
    name="Invalid readings",
    platform=Platform.SENSOR,
    state_class="total_increasing",
    diagnostic=True,
    translation_key="invalid_readings",
)

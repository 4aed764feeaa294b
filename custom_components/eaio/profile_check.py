"""Home Assistant's judgement of a profile point: device class, state class and unit agree."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.number import NumberDeviceClass
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.components.sensor.const import DEVICE_CLASS_STATE_CLASSES, DEVICE_CLASS_UNITS

from .bms.points import DataType, Point
from .platform_map import Platform, platform_for


def check_point(point: Point) -> str | None:
    """Return why Home Assistant could not use this point, or None when it can."""
    platform = platform_for(point)
    if platform is Platform.SENSOR:
        return _check_sensor(point)
    if platform is Platform.BINARY_SENSOR:
        if point.device_class is not None and point.device_class not in {
            c.value for c in BinarySensorDeviceClass
        }:
            return f"unknown binary sensor device class '{point.device_class}'"
        return None
    if (
        platform is Platform.NUMBER
        and point.device_class is not None
        and point.device_class not in {c.value for c in NumberDeviceClass}
    ):
        return f"unknown number device class '{point.device_class}'"
    return None


def _check_sensor(point: Point) -> str | None:
    if point.state_class is not None and point.state_class not in {c.value for c in SensorStateClass}:
        return f"unknown state class '{point.state_class}'"
    if point.device_class is None:
        return None
    try:
        device_class = SensorDeviceClass(point.device_class)
    except ValueError:
        return f"unknown sensor device class '{point.device_class}'"
    if point.data_type is DataType.STRING:
        return "text points cannot have a device class"
    units = DEVICE_CLASS_UNITS.get(device_class)
    if units is not None and point.unit not in units:
        allowed = ", ".join(sorted(str(u) for u in units if u is not None)) or "none"
        return f"unit '{point.unit}' does not fit device class '{device_class.value}' (allowed: {allowed})"
    state_classes = DEVICE_CLASS_STATE_CLASSES.get(device_class)
    if (
        point.state_class is not None
        and state_classes is not None
        and SensorStateClass(point.state_class) not in state_classes
    ):
        return f"state class '{point.state_class}' does not fit device class '{device_class.value}'"
    return None

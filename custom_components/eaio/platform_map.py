"""Which entity platform represents a point."""

from __future__ import annotations

from homeassistant.const import Platform

from .bms.points import DataType, Point, RegisterType


def platform_for(point: Point) -> Platform:
    """Read-only values are sensors; writable ones are controls."""
    if point.register_type is RegisterType.DISCRETE:
        return Platform.BINARY_SENSOR
    if point.register_type is RegisterType.COIL:
        return Platform.SWITCH if point.writable else Platform.BINARY_SENSOR
    if point.data_type is DataType.BOOL:
        return Platform.SWITCH if point.writable else Platform.BINARY_SENSOR
    return Platform.NUMBER if point.writable else Platform.SENSOR


__all__ = ["Platform", "platform_for"]

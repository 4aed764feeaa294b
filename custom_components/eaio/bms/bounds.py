"""Write bounds: every write is checked against the point's profile before it is sent."""

from __future__ import annotations

import math

from .points import DataType, Point


class WriteRefused(ValueError):
    """A write was refused; ``reason`` is a stable key for translations."""

    def __init__(self, reason: str, message: str, **placeholders: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.placeholders = placeholders


def check_write(point: Point, value: object) -> float | int | bool:
    """Return the value to write, or raise WriteRefused saying why not."""
    if not point.writable:
        raise WriteRefused("read_only", f"{point.key} is read-only", point=point.key)
    if point.register_type.is_bit or point.data_type is DataType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("on", "off", "true", "false"):
            return value.lower() in ("on", "true")
        raise WriteRefused(
            "not_boolean", f"{point.key} takes on/off, got {value!r}", point=point.key, value=str(value)
        )
    if isinstance(value, bool):
        raise WriteRefused(
            "not_a_number", f"{point.key} takes a number, got {value!r}", point=point.key, value=str(value)
        )
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise WriteRefused(
            "not_a_number", f"{point.key} takes a number, got {value!r}", point=point.key, value=str(value)
        ) from None
    if not math.isfinite(number):
        raise WriteRefused(
            "not_a_number", f"{point.key} takes a finite number", point=point.key, value=str(value)
        )
    # Profiles refuse writable registers without bounds, so both are set here.
    low = point.minimum if point.minimum is not None else -math.inf
    high = point.maximum if point.maximum is not None else math.inf
    if not low <= number <= high:
        raise WriteRefused(
            "out_of_range",
            f"{point.key}: {number:g} is outside {low:g}..{high:g}",
            point=point.key,
            value=f"{number:g}",
            min=f"{low:g}",
            max=f"{high:g}",
        )
    if point.step:
        base = point.minimum if point.minimum is not None else 0.0
        steps = (number - base) / point.step
        if abs(steps - round(steps)) > 1e-6:
            raise WriteRefused(
                "off_step",
                f"{point.key}: {number:g} is not a multiple of step {point.step:g} from {base:g}",
                point=point.key,
                value=f"{number:g}",
                step=f"{point.step:g}",
            )
    if point.data_type in (DataType.FLOAT32, DataType.FLOAT64):
        return number
    return number if point.scale != 1.0 else round(number)

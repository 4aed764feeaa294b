"""Plausibility of readings: a well-formed frame can still carry nonsense.

A device (or a gateway, or a register map off by one) that answers 3270.4 °C or a meter
that jumps by two hundred million kWh must not reach long-term statistics: once recorded,
such a value poisons every sum and every model learned from it. Each reading is checked
against the point's valid range, and counters (``total_increasing``) also against going
backwards and growing faster than physically possible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
import time

from .points import DataType, Point

# Sane ranges by unit, wide enough for any building and narrow enough to catch nonsense.
DEFAULT_RANGE_BY_UNIT: dict[str, tuple[float, float]] = {
    "°C": (-50.0, 150.0),
    "°F": (-58.0, 302.0),
    "K": (223.15, 423.15),
    "%": (0.0, 100.0),
    "V": (0.0, 100_000.0),
    "mV": (-1e8, 1e8),
    "kV": (0.0, 1_000.0),
    "A": (-100_000.0, 100_000.0),
    "mA": (-1e8, 1e8),
    "W": (-1e8, 1e8),  # 100 MW either way
    "kW": (-1e5, 1e5),
    "MW": (-100.0, 100.0),
    "VA": (-1e8, 1e8),
    "kVA": (-1e5, 1e5),
    "var": (-1e8, 1e8),
    "kvar": (-1e5, 1e5),
    "Hz": (0.0, 1_000.0),
    # Energy: a 1 MW site running flat out for eleven years stays under 1e8 kWh.
    "Wh": (-1e11, 1e11),
    "kWh": (-1e8, 1e8),
    "MWh": (-1e5, 1e5),
    "ppm": (0.0, 100_000.0),
    "lx": (0.0, 200_000.0),
    "Pa": (-200_000.0, 200_000.0),
    "hPa": (0.0, 2_000.0),
    "bar": (-1.0, 1_000.0),
}
# A device class decides where the unit alone cannot (a power factor has no unit).
DEFAULT_RANGE_BY_CLASS: dict[tuple[str, str | None], tuple[float, float]] = {
    ("power_factor", None): (-1.0, 1.0),
    ("power_factor", "%"): (-100.0, 100.0),
    ("humidity", "%"): (0.0, 100.0),
    ("battery", "%"): (0.0, 100.0),
}
MIN_RATE_WINDOW = 60.0  # seconds
# Fastest plausible growth of a counter per hour, by unit: what a 1 MW site could draw
# (energy) or a large building's main supply could pass (volume).
DEFAULT_MAX_RATE_BY_UNIT: dict[str, float] = {
    "Wh": 1e6,
    "kWh": 1e3,
    "MWh": 1.0,
    "MJ": 3.6e3,
    "GJ": 3.6,
    "m³": 1e3,
    "L": 1e6,
    "ft³": 3.6e4,
    "CCF": 360.0,
    "gal": 2.7e5,
}


def default_range(
    unit: str | None,
    device_class: str | None,
    *,
    write_min: float | None = None,
    write_max: float | None = None,
    counter: bool = False,
) -> tuple[float, float] | None:
    """The valid range of a point whose profile does not give one, or None (no check).

    A writable point's own bounds are widened by their span on each side: a device may
    hold a value set locally beyond what EAIO may write (a frost-protection setpoint
    under a comfort range), but not one ten times outside it.
    """
    base = DEFAULT_RANGE_BY_CLASS.get((device_class or "", unit)) or DEFAULT_RANGE_BY_UNIT.get(unit or "")
    if counter and base is not None:
        base = (max(base[0], 0.0), base[1])
    if write_min is None or write_max is None:
        return base
    span = max(write_max - write_min, 1.0)
    widened = (write_min - span, write_max + span)
    if base is None:
        return widened
    low, high = max(widened[0], base[0]), min(widened[1], base[1])
    return (low, high) if low <= high else widened


@dataclass(frozen=True, slots=True)
class Rule:
    """What one point's readings must satisfy."""

    valid_min: float | None = None
    valid_max: float | None = None
    counter: bool = False  # total_increasing: never backwards, never faster than max_rate
    max_rate: float | None = None  # units per hour
    resolution: float = 0.0  # the point's own step (its scale): noise smaller than this is not growth


def make_rule(
    *,
    unit: str | None,
    device_class: str | None,
    state_class: str | None,
    valid_min: float | None = None,
    valid_max: float | None = None,
    max_rate: float | None = None,
    write_min: float | None = None,
    write_max: float | None = None,
    resolution: float = 0.0,
) -> Rule:
    """A point's rule: the profile's own fields where given, defaults by unit and class otherwise."""
    counter = state_class == "total_increasing"
    if valid_min is None or valid_max is None:
        default = default_range(unit, device_class, write_min=write_min, write_max=write_max, counter=counter)
        if default is not None:
            valid_min = default[0] if valid_min is None else valid_min
            valid_max = default[1] if valid_max is None else valid_max
    if counter and max_rate is None:
        max_rate = DEFAULT_MAX_RATE_BY_UNIT.get(unit or "")
    return Rule(valid_min, valid_max, counter, max_rate, abs(resolution))


def rule_for_point(point: Point) -> Rule | None:
    """The rule of a Modbus point; None for on/off and text points."""
    if point.register_type.is_bit or point.data_type in (DataType.BOOL, DataType.STRING):
        return None
    return make_rule(
        unit=point.unit,
        device_class=point.device_class,
        state_class=point.state_class,
        valid_min=point.valid_min,
        valid_max=point.valid_max,
        max_rate=point.max_rate,
        write_min=point.minimum if point.writable else None,
        write_max=point.maximum if point.writable else None,
        resolution=point.scale if point.data_type not in (DataType.FLOAT32, DataType.FLOAT64) else 0.0,
    )


def excerpt(value: object, limit: int = 60) -> str:
    """A short printable piece of a value, for log lines and events."""
    return shorten(repr(value), limit)


def shorten(text: str, limit: int = 120) -> str:
    """At most ``limit`` characters of a text, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class PlausibilityChecker:
    """Checks each reading against its point's rule; remembers counters' last accepted value.

    Readings of points without a rule, and text or on/off readings, pass unchecked.
    """

    def __init__(self, rules: dict[str, Rule], clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = rules
        self._clock = clock
        self._last: dict[str, tuple[float, float]] = {}  # key -> (accepted value, when)

    def check(self, key: str, value: object) -> str | None:
        """None when the reading is plausible (and is then remembered), else why not."""
        rule = self.rules.get(key)
        if rule is None or isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
            return None
        number = float(value)
        if not math.isfinite(number):
            return f"{number} is not a finite number"
        low = rule.valid_min if rule.valid_min is not None else -math.inf
        high = rule.valid_max if rule.valid_max is not None else math.inf
        if not low <= number <= high:
            return f"{number:g} is outside the valid range {low:g}..{high:g}"
        if not rule.counter:
            return None
        now = self._clock()
        last = self._last.get(key)
        if last is not None:
            previous, then = last
            seconds = max(now - then, 0.0)
            # At least a minute's growth: readings arrive with jitter (a retained message, then a
            # fresh one a moment later that carries minutes of growth).
            hours = max(seconds, MIN_RATE_WINDOW) / 3600.0
            growth = rule.max_rate * hours if rule.max_rate is not None else math.inf
            slack = rule.resolution + abs(previous) * 1e-6  # float32 carries about seven digits
            # Growth from zero counts too, so a daily counter's reset at midnight (back to a
            # small value) is a reset, not a step backwards.
            from_zero = (growth if rule.max_rate is not None else 0.0) + rule.resolution
            if number < previous - slack and number > from_zero:
                return f"counter went backwards from {previous:g} to {number:g}"
            if number - previous > growth + slack:
                return (
                    f"counter grew by {number - previous:g} in {seconds:.0f} s, faster than "
                    f"{rule.max_rate:g} per hour"
                )
        self._last[key] = (number, now)
        return None

    def forget(self, key: str | None = None) -> None:
        """Start counters afresh (a meter replaced or reset by its owner): the next reading is the base."""
        if key is None:
            self._last.clear()
        else:
            self._last.pop(key, None)

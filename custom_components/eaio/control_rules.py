"""The pure rules of a command: bounds, step rounding, rate limit, allowed hours.

No Home Assistant imports: the guard and the plan executor use these, and the closed-loop
benchmark of the add-on loads this file by its path to command its emulated battery with
exactly the rules Home Assistant applies.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import time
import math
import re

DEFAULT_MAX_CHANGES_PER_HOUR = 12
HOUR_S = 3600.0
_WINDOW = re.compile(r"(\d\d:\d\d)\s*-\s*(\d\d:\d\d)")


@dataclass(frozen=True, slots=True)
class Limits:
    """The range and step a value must keep (the entity's own, or narrower)."""

    low: float | None = None
    high: float | None = None
    step: float | None = None

    def inside(self, outer: Limits) -> bool:
        """Whether these limits sit inside ``outer`` (and on its step grid)."""
        if outer.low is not None and (self.low is None or self.low < outer.low - 1e-9):
            return False
        if outer.high is not None and (self.high is None or self.high > outer.high + 1e-9):
            return False
        return not (outer.step and self.step and not on_step(self.step, 0.0, outer.step))


def on_step(value: float, origin: float, step: float) -> bool:
    """Whether ``value`` lies on the grid ``origin + k * step`` (to float precision)."""
    if step <= 0:
        return True
    k = (value - origin) / step
    return abs(k - round(k)) < 1e-6


def within(value: float, limits: Limits) -> bool:
    if limits.low is not None and value < limits.low - 1e-9:
        return False
    return not (limits.high is not None and value > limits.high + 1e-9)


def to_command(value: float, limits: Limits) -> float:
    """The value a device is sent: clamped into the limits, then rounded to the nearest step
    from the low end (a step that would round past the high end rounds down instead)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value} is not a finite number")
    result = value
    if limits.low is not None:
        result = max(result, limits.low)
    if limits.high is not None:
        result = min(result, limits.high)
    if limits.step:
        origin = limits.low if limits.low is not None else 0.0
        steps = round((result - origin) / limits.step)
        result = origin + steps * limits.step
        if limits.high is not None and result > limits.high + 1e-9:
            result -= limits.step
        if limits.low is not None and result < limits.low - 1e-9:
            result += limits.step
        # Float noise (0.1 + 2 * 0.1 = 0.30000000000000004) must not reach a device.
        result = round(result, 9)
    return result


@dataclass(slots=True)
class RateLimiter:
    """At most ``max_per_hour`` changes per target in any sliding hour (times in seconds)."""

    max_per_hour: int = DEFAULT_MAX_CHANGES_PER_HOUR
    _times: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, target: str, now: float) -> deque[float]:
        times = self._times.setdefault(target, deque())
        while times and times[0] <= now - HOUR_S:
            times.popleft()
        return times

    def allows(self, target: str, now: float, max_per_hour: int | None = None) -> bool:
        limit = self.max_per_hour if max_per_hour is None else max_per_hour
        return len(self._recent(target, now)) < limit

    def record(self, target: str, now: float) -> None:
        self._recent(target, now).append(now)

    def count(self, target: str, now: float) -> int:
        return len(self._recent(target, now))


@dataclass(frozen=True, slots=True)
class AllowedHours:
    """A daily window of local time in which commands may be sent; start == end means always.
    A window may wrap past midnight (22:00-06:00)."""

    start: time = time(0, 0)
    end: time = time(0, 0)

    @classmethod
    def parse(cls, text: str | None) -> AllowedHours:
        """``"HH:MM-HH:MM"``; empty or None means all day. Raises ValueError with the reason."""
        if not text or not text.strip():
            return cls()
        match = _WINDOW.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a window like 08:00-22:00")
        try:
            return cls(time.fromisoformat(match[1]), time.fromisoformat(match[2]))
        except ValueError:
            raise ValueError(f"{text!r} is not a window like 08:00-22:00") from None

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"


def needs_command(target: float | bool | str, current: float | bool | str | None, step: float | None) -> bool:
    """Whether the entity must be sent ``target``: a repeat of what it holds is not a change
    (and does not count against the rate limit)."""
    if current is None:
        return True
    if (
        isinstance(target, bool)
        or isinstance(current, bool)
        or isinstance(target, str)
        or isinstance(current, str)
    ):
        return target != current
    tolerance = (step / 2) if step else 1e-6
    return abs(float(target) - float(current)) >= tolerance

"""Readings a device answered but that cannot be true: refused, counted, reported once per burst."""

from __future__ import annotations

from collections.abc import Callable
import logging
import time
from typing import TYPE_CHECKING

from .bms.codec import Value
from .bms.mqtt import BurstLimiter
from .bms.plausibility import PlausibilityChecker, excerpt
from .const import EVENT_INVALID_READING
from .entity_spec import INVALID_READINGS

if TYPE_CHECKING:
    from .coordinator import EaioCoordinator

_LOGGER = logging.getLogger(__name__)

LOG_WINDOW = 60.0  # one log line per device per minute of refused readings, plus a count
EVENT_WINDOW = 10.0  # one event per point per burst; automations get the count
IMPLAUSIBLE = "implausible reading"  # the point's error while refused: stable, so logged once


class InvalidReadings:
    """Applies a device's plausibility rules to what it answered."""

    def __init__(
        self,
        coordinator: EaioCoordinator,
        checker: PlausibilityChecker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.coordinator = coordinator
        self.checker = checker
        self.count = 0
        self.by_point: dict[str, int] = {}
        self._log_limiter = BurstLimiter(LOG_WINDOW, clock)
        self._event_limiter = BurstLimiter(EVENT_WINDOW, clock)

    def filter(self, values: dict[str, Value]) -> tuple[dict[str, Value], dict[str, str]]:
        """The plausible values, and an error for each point whose reading was refused.

        The count's own value is added to the plausible ones, so its sensor follows.
        """
        accepted: dict[str, Value] = {}
        refused: dict[str, str] = {}
        problems: list[str] = []
        for key, value in values.items():
            problem = self.checker.check(key, value)
            if problem is None:
                accepted[key] = value
                continue
            refused[key] = IMPLAUSIBLE
            problems.append(f"{key}: {problem}")
            self._refuse(key, value, problem)
        accepted[INVALID_READINGS.key] = self.count
        if problems:
            self._log(problems)
        return accepted, refused

    def _log(self, problems: list[str]) -> None:
        # One line per device per burst: a device answering nonsense answers it for every point.
        report, held_back = self._log_limiter.allow("device")
        if not report:
            return
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        _LOGGER.warning(
            "%s: refused %d implausible reading%s: %s%s",
            self.coordinator.config_entry.title,
            len(problems),
            "" if len(problems) == 1 else "s",
            shown,
            f" ({held_back} polls with refused readings since the last report)" if held_back else "",
        )

    def _refuse(self, key: str, value: Value, problem: str) -> None:
        self.count += 1
        self.by_point[key] = self.by_point.get(key, 0) + 1
        coordinator = self.coordinator
        fire, held_back = self._event_limiter.allow(key)
        if fire:
            coordinator.hass.bus.async_fire(
                EVENT_INVALID_READING,
                {
                    "config_entry_id": coordinator.config_entry.entry_id,
                    "point": key,
                    "value": excerpt(value),
                    "reason": problem,
                    "invalid_since_last_event": held_back,
                    "invalid_total": self.count,
                },
            )


class PointErrorLog:
    """Logs a point's error when it starts or changes, not on every poll.

    Points failing the same way at once (a silent device behind a gateway) make one line,
    not one per point; refused readings are reported by InvalidReadings instead.
    """

    def __init__(self, title: Callable[[], str]) -> None:
        self._title = title
        self._reported: dict[str, str] = {}

    def report(self, errors: dict[str, str]) -> None:
        changed: dict[str, list[str]] = {}
        for key, error in errors.items():
            if self._reported.get(key) != error and error != IMPLAUSIBLE:
                changed.setdefault(error, []).append(key)
        for error, keys in changed.items():
            if len(keys) == 1:
                _LOGGER.warning("%s: point %s failed: %s", self._title(), keys[0], error)
            else:
                _LOGGER.warning(
                    "%s: %d points failed: %s (%s)", self._title(), len(keys), error, ", ".join(keys)
                )
        back = sorted(set(self._reported) - set(errors))
        if back:
            _LOGGER.info("%s: %s answer again", self._title(), ", ".join(back))
        self._reported = dict(errors)

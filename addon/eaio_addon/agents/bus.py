"""An asyncio event bus: publish/subscribe by event type; handlers of one event run concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import logging
import time
from typing import Any

_LOGGER = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None]]


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    ts: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Delivery:
    """What happened to one published event: how many handlers ran, which failed and why."""

    handled: int
    errors: tuple[str, ...]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self.failures = 0

    def subscribe(self, event_type: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event of ``event_type``; returns the unsubscribe function."""
        self._handlers.setdefault(event_type, []).append(handler)

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    async def publish(self, event: Event) -> Delivery:
        """Run every handler of the event's type at once; a failing one is logged, the others finish."""
        handlers = list(self._handlers.get(event.type, ()))
        if not handlers:
            return Delivery(0, ())
        results = await asyncio.gather(*(h(event) for h in handlers), return_exceptions=True)
        errors = []
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self.failures += 1
                name = getattr(handler, "__qualname__", repr(handler))
                errors.append(f"{name}: {type(result).__name__}: {result}")
                _LOGGER.error("Handler %s of event %s failed", name, event.type, exc_info=result)
        return Delivery(len(handlers), tuple(errors))

"""The agent base: a name, a lifecycle (start, stop) and a health report."""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any

from .bus import Event, EventBus


@dataclass
class AgentHealth:
    name: str
    running: bool
    runs: int
    failures: int
    last_error: str | None
    last_run_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Agent:
    """One agent. ``start`` subscribes it to the bus (``subscriptions``), ``stop`` undoes that."""

    name = "agent"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._running = False
        self._unsubscribe: list[Any] = []
        self._runs = 0
        self._failures = 0
        self._last_error: str | None = None
        self._last_run_s: float | None = None

    def subscriptions(self) -> dict[str, Any]:
        """Event type → handler; none by default (most agents are called by the orchestrator)."""
        return {}

    async def start(self) -> None:
        if self._running:
            return
        self._unsubscribe = [self.bus.subscribe(kind, handler) for kind, handler in self.subscriptions().items()]
        self._running = True

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._running = False

    def health(self) -> AgentHealth:
        return AgentHealth(self.name, self._running, self._runs, self._failures, self._last_error, self._last_run_s)

    def record(self, started: float, error: BaseException | None = None) -> None:
        """Note one run (the orchestrator calls this around each step)."""
        self._runs += 1
        self._last_run_s = round(time.monotonic() - started, 4)
        if error is not None:
            self._failures += 1
            self._last_error = f"{type(error).__name__}: {error}"

    async def emit(self, kind: str, **data: Any) -> None:
        await self.bus.publish(Event(kind, data, self.name))

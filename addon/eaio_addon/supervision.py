"""Background work that cannot die silently: restarts with back-off, and troubles that /api/health shows.

A long-running task of the add-on (the outbox sender, the link, the purge, the agents' schedule)
that raises is logged, named in the health answer ("degraded" with the reason) and started again
after a back-off that doubles up to a cap; once it has run for ``healthy_after`` seconds without
failing, the trouble is cleared and the back-off starts over. Parts that catch their own errors
(the collector holding a batch it could not store) report and clear troubles here themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
import logging
import time
from typing import Any

_LOGGER = logging.getLogger(__name__)

REASON_CHARS = 200  # a reason is shown in the health answer: an excerpt, not a whole payload

Work = Coroutine[Any, Any, Any] | Callable[[], Coroutine[Any, Any, Any]]


@dataclass
class Trouble:
    """One part that fails now: why, since when (epoch seconds), how many failures in a row."""

    reason: str
    since: float
    failures: int = 1

    def describe(self, name: str) -> str:
        return f"{name} is failing ({self.reason}); retried {self.failures} time(s) since it began"


def short(exc: BaseException | str) -> str:
    """An error as one short line: its type and the start of its message."""
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


class Supervisor:
    """Runs the add-on's background tasks, restarts the ones that fail, and keeps what fails now."""

    def __init__(self, *, backoff_initial: float = 1.0, backoff_cap: float = 60.0, healthy_after: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.healthy_after = healthy_after
        self._clock = clock
        self.troubles: dict[str, Trouble] = {}
        self.restarts: dict[str, int] = {}
        self._tasks: list[asyncio.Task[Any]] = []

    def report(self, name: str, error: BaseException | str) -> None:
        """``name`` failed; logged in full the first time of a burst, in one line after that."""
        reason = short(error)
        trouble = self.troubles.get(name)
        if trouble is None:
            self.troubles[name] = Trouble(reason, self._clock())
            _LOGGER.error("%s failed: %s", name, reason,
                          exc_info=error if isinstance(error, BaseException) else None)
            return
        trouble.failures += 1
        trouble.reason = reason
        _LOGGER.warning("%s failed again (%d in a row): %s", name, trouble.failures, reason)

    def clear(self, name: str) -> None:
        """``name`` works again."""
        trouble = self.troubles.pop(name, None)
        if trouble is not None:
            _LOGGER.warning("%s works again after %d failure(s) in %.0f s", name, trouble.failures,
                            self._clock() - trouble.since)

    def problems(self) -> list[str]:
        return [trouble.describe(name) for name, trouble in sorted(self.troubles.items())]

    def spawn(self, name: str, work: Work) -> asyncio.Task[Any]:
        """Run ``work`` as a task. A factory (a function making the coroutine) is restarted when it fails;
        a coroutine can run only once, so its failure stays in the troubles until the add-on restarts."""
        task = asyncio.create_task(self._supervise(name, work), name=f"eaio-{name}")
        self._tasks.append(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    async def _supervise(self, name: str, work: Work) -> None:
        delay = self.backoff_initial
        while True:
            inner = asyncio.create_task(work() if callable(work) else work, name=f"eaio-{name}-run")
            try:
                done, _ = await asyncio.wait({inner}, timeout=self.healthy_after)
                if not done:
                    # Ran long enough without failing: whatever failed before is over.
                    self.clear(name)
                    delay = self.backoff_initial
                await inner
                self.clear(name)
                return
            except asyncio.CancelledError:
                inner.cancel()
                await asyncio.gather(inner, return_exceptions=True)
                raise
            except Exception as exc:  # any failure of background work is reported and retried
                self.report(name, exc)
            if not callable(work):
                _LOGGER.error("%s cannot be restarted; restart the add-on", name)
                return
            self.restarts[name] = self.restarts.get(name, 0) + 1
            await asyncio.sleep(delay)
            delay = min(self.backoff_cap, delay * 2)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

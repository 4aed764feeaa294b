"""Delivery of the outbox: every push to Home Assistant, in the order made, at least once.

A push is stored before anything is sent (``StoreDb.enqueue``), so a restart of Home Assistant or
of the add-on loses nothing: the sender delivers the oldest pending push whenever the link is up,
and the next one only after it. Which failures are worth retrying:

- the link is down or drops before the answer: wait for the link; this is no failed attempt
  (if the call had reached Home Assistant, the repeat is harmless: each push carries its ids);
- Home Assistant is not ready for it: the service is not registered yet (``not_found``, right after
  a restart the integration may still be loading), the integration refuses it in its present state
  (``service_validation_error``: for ``submit_recommendations`` that means no add-on link is set up
  or loaded; malformed recommendations are refused in the answer instead), or the token may not
  call it (``unauthorized``): retried with back-off for as long as it takes, the health answer
  says why;
- the call itself is malformed (``invalid_format``): repeating cannot help; the push is marked
  failed (and kept in the store) and the next one goes;
- any other error: retried with back-off, at most ``max_attempts`` times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
import time
from typing import Any

from .ha_link import HaError, HaLink, LinkDown
from .store import OutboxItem, Store, StoreDb

_LOGGER = logging.getLogger(__name__)

PERMANENT = frozenset({"invalid_format"})
WAITING = frozenset({"not_found", "service_validation_error", "unauthorized"})
# An integration older than plans has no eaio.submit_plan: a plan is given up after a few tries (the next
# run makes a new one) instead of holding up every push behind it.
GIVE_UP_NOT_FOUND = frozenset({"submit_plan"})
PLAN_ATTEMPTS = 3


class OutboxSender:
    """Delivers pending pushes one at a time, oldest first."""

    def __init__(self, store: Store, link: HaLink, *, backoff_initial: float = 1.0, backoff_cap: float = 300.0,
                 max_attempts: int = 10, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._link = link
        self._backoff_initial = backoff_initial
        self._backoff_cap = backoff_cap
        self._max_attempts = max_attempts
        self._clock = clock
        self._wake = asyncio.Event()
        self.delivered = 0
        self.listeners: list[Callable[[OutboxItem, Any], None]] = []  # told after each delivery

    def attach(self) -> None:
        self._link.on_connect(self._on_connect)

    def wake(self) -> None:
        """A push was queued: look now."""
        self._wake.set()

    async def _on_connect(self) -> None:
        # Back-offs were counted while Home Assistant was away; on its return everything is due again.
        await self._store.call(StoreDb.outbox_rearm)
        self.wake()

    async def run(self) -> None:
        while True:
            await self._link.wait_connected()
            item = await self._store.call(StoreDb.outbox_head)
            if item is None:
                await self._sleep(None)
                continue
            wait = item.next_attempt_at - self._clock()
            if wait > 0:
                await self._sleep(wait)
                continue
            await self._deliver(item)

    async def _sleep(self, seconds: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            response = await self._link.call_service(item.domain, item.service, item.data,
                                                     return_response=item.return_response)
        except LinkDown as exc:
            # Not an attempt: the call may or may not have arrived; it is repeated once the link is back.
            _LOGGER.info("Push %s (%s.%s) waits for the link: %s", item.push_id, item.domain, item.service, exc)
            await self._store.call(StoreDb.outbox_retry, item.id, str(exc), 0.0, count_attempt=False)
            return
        except HaError as exc:
            await self._failed_attempt(item, exc)
            return
        await self._store.call(StoreDb.outbox_delivered, item.id, response)
        self.delivered += 1
        self._log_response(item, response)
        for listener in self.listeners:
            listener(item, response)

    async def _failed_attempt(self, item: OutboxItem, exc: HaError) -> None:
        attempts = item.attempts + 1
        if exc.code in PERMANENT or (exc.code not in WAITING and attempts >= self._max_attempts) or (
                exc.code == "not_found" and item.service in GIVE_UP_NOT_FOUND and attempts >= PLAN_ATTEMPTS):
            _LOGGER.error("Push %s (%s.%s) refused by Home Assistant after %d attempt(s), dropped from the "
                          "queue (kept in the store as failed): %s", item.push_id, item.domain, item.service,
                          attempts, exc)
            await self._store.call(StoreDb.outbox_failed, item.id, str(exc))
            return
        delay = min(self._backoff_cap, self._backoff_initial * 2 ** (attempts - 1))
        level = logging.INFO if exc.code in WAITING and attempts <= 3 else logging.WARNING
        _LOGGER.log(level, "Push %s (%s.%s) not delivered (%s); retrying in %.0f s", item.push_id, item.domain,
                    item.service, exc, delay)
        await self._store.call(StoreDb.outbox_retry, item.id, str(exc), self._clock() + delay)

    @staticmethod
    def _log_response(item: OutboxItem, response: Any) -> None:
        if not isinstance(response, dict) or "refused" not in response:
            _LOGGER.info("Push %s (%s.%s) delivered", item.push_id, item.domain, item.service)
            return
        accepted = response.get("accepted") or []
        refused = response.get("refused") or []
        _LOGGER.info("Push %s (%s.%s) delivered: %d accepted, %d refused", item.push_id, item.domain,
                     item.service, len(accepted), len(refused))
        for entry in refused:
            if isinstance(entry, dict):
                _LOGGER.warning("Home Assistant refused recommendation %s (index %s): %s", entry.get("id"),
                                entry.get("index"), entry.get("error"))

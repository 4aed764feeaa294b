"""Keep a device's objects current: COV where the device accepts it, polling where it does not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import contextlib
import logging

from ..client import DeviceUnreachable
from .client import BacnetClient, Callback, CovSubscription
from .objects import BacnetError, ObjectId, Value, format_object_id

_LOGGER = logging.getLogger(__name__)

# on_error(object_id or None for the whole device, message); on_error(None, None) when the
# device answers again after an error.
type ErrorCallback = Callable[[ObjectId | None, str | None], None]


def renew_interval(lifetime: int) -> float:
    """Seconds between renewals: well before the device drops the subscription, leaving
    time for a retry (at least 2 s, a fifth of the lifetime for long ones)."""
    return max(1.0, lifetime - max(2.0, lifetime * 0.2))


class CovWatcher:
    """Subscribes to COV for ``object_ids`` of one device and renews before the lifetime
    ends; objects that refuse COV are polled every ``poll_interval`` seconds instead.

    Values reach ``callback(object_id, value)``: every notification, and polled values
    when they change. ``polled`` says which objects refused COV and why. A renewal that
    does not get through (device gone) is retried every ``retry_interval`` seconds; the
    device re-creates the subscription when it is back.
    """

    def __init__(
        self,
        client: BacnetClient,
        address: str,
        object_ids: Iterable[ObjectId],
        callback: Callback,
        *,
        lifetime: int = 300,
        poll_interval: float = 30.0,
        retry_interval: float = 10.0,
        confirmed: bool = False,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.client = client
        self.address = address
        self.object_ids = list(dict.fromkeys(object_ids))
        self.callback = callback
        self.lifetime = lifetime
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self.confirmed = confirmed
        self.on_error = on_error
        self.subscriptions: dict[ObjectId, CovSubscription] = {}
        self.polled: dict[ObjectId, str] = {}
        self._last_polled: dict[ObjectId, Value] = {}
        self._task: asyncio.Task[None] | None = None
        self._device_error: str | None = None

    @property
    def renewals(self) -> int:
        """Renewals that succeeded, over all subscriptions."""
        return sum(sub.renewals for sub in self.subscriptions.values())

    async def start(self) -> None:
        """Subscribe every object (DeviceUnreachable propagates: nothing is watched then)."""
        for object_id in self.object_ids:
            try:
                self.subscriptions[object_id] = await self.client.subscribe_cov(
                    self.address, object_id, self.callback, lifetime=self.lifetime, confirmed=self.confirmed
                )
            except BacnetError as err:
                self._to_polling(object_id, str(err))
            except DeviceUnreachable:
                await self.stop()
                raise
        if self.polled:
            await self._poll()
        self._task = asyncio.create_task(self._run(), name=f"eaio bacnet cov {self.address}")

    async def stop(self) -> None:
        """Stop renewing and polling; cancel the subscriptions at the device."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in list(self.subscriptions.values()):
            await self.client.cancel_cov(subscription)
        self.subscriptions.clear()

    def _to_polling(self, object_id: ObjectId, reason: str) -> None:
        _LOGGER.info("%s %s refuses COV (%s); polling it every %g s",
                     self.address, format_object_id(object_id), reason, self.poll_interval)  # fmt: skip
        self.polled[object_id] = reason
        self.subscriptions.pop(object_id, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_renew = loop.time() + renew_interval(self.lifetime)
        next_poll = loop.time() + self.poll_interval
        while True:
            deadlines = ([next_renew] if self.subscriptions else []) + ([next_poll] if self.polled else [])
            if not deadlines:
                return  # nothing subscribed, nothing to poll
            await asyncio.sleep(max(0.0, min(deadlines) - loop.time()))
            now = loop.time()
            if self.subscriptions and now >= next_renew:
                renewed = await self._renew()
                next_renew = now + (renew_interval(self.lifetime) if renewed else self.retry_interval)
            if self.polled and now >= next_poll:
                await self._poll()
                next_poll = now + self.poll_interval

    async def _renew(self) -> bool:
        """Renew every subscription; False if the device could not be reached."""
        for object_id, subscription in list(self.subscriptions.items()):
            try:
                await self.client.renew_cov(subscription)
            except BacnetError as err:
                await self.client.cancel_cov(subscription)
                self._to_polling(object_id, str(err))
            except DeviceUnreachable as err:
                self._report(None, str(err))
                return False
        self._report(None, None)
        return True

    async def _poll(self) -> None:
        try:
            result = await self.client.read_values(self.address, list(self.polled))
        except DeviceUnreachable as err:
            self._report(None, str(err))
            return
        self._report(None, None)
        for object_id, error in result.errors.items():
            self._report(object_id, error)
        for object_id, value in result.values.items():
            if object_id not in self._last_polled or self._last_polled[object_id] != value:
                self._last_polled[object_id] = value
                self.callback(object_id, value)

    def _report(self, object_id: ObjectId | None, error: str | None) -> None:
        if object_id is None:
            if error == self._device_error:
                return
            self._device_error = error
        if self.on_error is not None:
            self.on_error(object_id, error)
        elif error is not None:
            _LOGGER.warning("%s %s: %s", self.address,
                            format_object_id(object_id) if object_id else "device", error)  # fmt: skip

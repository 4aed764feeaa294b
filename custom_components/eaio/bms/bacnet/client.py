"""BACnet/IP client on the bacpypes3 stack.

One client is one BACnet application bound to one local UDP address (every application
needs its own port). It discovers devices, describes their objects, reads present values
in ReadPropertyMultiple batches (ReadProperty for devices that refuse it), subscribes to
COV, and writes Present_Value at a priority, keeping track of every override so that
``release_all`` (also run by ``stop``) relinquishes them.

The stack has no type information; its objects are ``Any`` at this boundary and turned
into the plain types of ``objects.py`` before they leave this module.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
import contextlib
from dataclasses import dataclass, field
import ipaddress
import logging
import os
import re
import socket
import sys
import time
from typing import Any

from bacpypes3.apdu import (
    AbortPDU,
    ErrorRejectAbortNack,
    SubscribeCOVRequest,
    WhoIsRequest,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier, PropertyReference
from bacpypes3.pdu import Address, GlobalBroadcast
from bacpypes3.primitivedata import Null

from ..bacnet_units import SUPPORTED_OBJECT_TYPES
from ..client import DeviceUnreachable
from .objects import (
    BacnetError,
    DiscoveredDevice,
    ObjectId,
    ObjectListResult,
    ReadResult,
    Value,
    format_object_id,
    to_python,
)
from .wire import (
    Ref,
    build_object,
    cast_present_value,
    check_priority,
    describe_error,
    describe_refs,
    encode_present_value,
    from_identifier,
    group_by_object,
    to_identifier,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 47808
DEFAULT_PRIORITY = 16
DEFAULT_BATCH_SIZE = 20
# Instance of the client's own device object; 4194303 is the wildcard, so the highest usable.
DEFAULT_DEVICE_INSTANCE = 4194302
_VENDOR_ID = 999  # the stack's identifier for applications without a registered vendor
# Answers that mean "this device does not do ReadPropertyMultiple" rather than "not this
# request": fall back to ReadProperty for good.
_RPM_REFUSALS = frozenset(
    {"unrecognized-service", "service-request-denied", "optional-functionality-not-supported"}
)
# Aborts that mean "the answer does not fit": ask for fewer properties at a time.
_TOO_BIG = frozenset({"segmentation-not-supported", "buffer-overflow", "apdu-too-long"})
_IPV4 = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})(?:/(\d{1,2}))?(?::(\d{1,5}))?$")

type Callback = Callable[[ObjectId, Value], None]


def _parse_ipv4(text: str, *, netmask: bool) -> tuple[str, int | None, int]:
    """``host[/prefix][:port]`` with a literal IPv4 host (never a name: no blocking lookups)."""
    match = _IPV4.match(text.strip())
    if not match:
        raise ValueError(f"expected an IPv4 address such as 192.168.1.10:47808, got {text!r}")
    host, prefix, port = match.group(1), match.group(2), match.group(3)
    ipaddress.IPv4Address(host)  # raises ValueError for 300.1.2.3
    if prefix is not None and (not netmask or int(prefix) > 32):
        raise ValueError(f"unexpected netmask in {text!r}")
    port_number = int(port) if port else DEFAULT_PORT
    if not 0 < port_number < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, int(prefix) if prefix else None, port_number


def normalize_address(text: str) -> str:
    """A device's BACnet/IP address as ``a.b.c.d:port`` (the port defaults to 47808)."""
    host, _, port = _parse_ipv4(text, netmask=False)
    return f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Override:
    """A Present_Value this client commanded and has not relinquished yet."""

    address: str
    object_id: ObjectId
    priority: int
    value: Value


@dataclass(eq=False)
class CovSubscription:
    """One SubscribeCOV this client holds; ``renewals`` counts the renewals that succeeded."""

    address: str
    object_id: ObjectId
    process_id: int
    lifetime: int
    confirmed: bool
    callback: Callback
    renewals: int = 0
    notifications: int = 0


@dataclass(eq=False)
class _Peer:
    """What the client knows about one device, and its back-off state."""

    key: str
    address: Any  # the stack's Address
    instance: int | None = None
    vendor_id: int | None = None
    rpm_refused: bool = False
    batch_limit: int | None = None  # learnt from answers too big for the device
    backoff: float = 0.0
    retry_at: float = 0.0
    last_error: str | None = None
    # One request at a time per device: small controllers handle few transactions at once.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _CovContext:
    """Where the stack delivers COV notifications for one subscription (duck-typed to the
    stack's own subscription context: ``monitored_object_identifier`` and ``put``)."""

    def __init__(self, subscription: CovSubscription, peer: _Peer) -> None:
        self.monitored_object_identifier = to_identifier(subscription.object_id)
        self._subscription = subscription
        self._peer = peer

    async def put(self, property_value: Any) -> None:
        if str(property_value.propertyIdentifier) != "present-value":
            return  # status flags come along with every notification
        sub = self._subscription
        try:
            value = cast_present_value(self._peer.vendor_id, sub.object_id, property_value)
        except Exception as err:  # a bad notification must not break the stack
            _LOGGER.warning("%s %s: undecodable COV notification: %s",
                            sub.address, format_object_id(sub.object_id), err)  # fmt: skip
            return
        sub.notifications += 1
        try:
            sub.callback(sub.object_id, value)
        except Exception:
            _LOGGER.exception("COV callback failed for %s %s", sub.address, format_object_id(sub.object_id))


class _ClientApplication(Application):  # type: ignore[misc]
    """The stack's application, also handing every I-Am to the client's listeners."""

    _i_am_listeners: list[Callable[[Any], Awaitable[None]]]

    async def do_IAmRequest(self, apdu: Any) -> None:
        await super().do_IAmRequest(apdu)
        for listener in list(getattr(self, "_i_am_listeners", ())):
            await listener(apdu)


class BacnetClient:
    """A BACnet/IP client bound to ``local_address`` (``a.b.c.d[/prefix][:port]``).

    The prefix gives the broadcast address for Who-Is; with ``foreign_bbmd`` the client
    registers with that BBMD as a foreign device (for ``ttl`` seconds, renewed) and
    broadcasts through it. ``timeout`` bounds one request including ``retries``.
    ``batch_size`` is the most properties one ReadPropertyMultiple asks for (one per
    object when reading present values).
    """

    def __init__(
        self,
        local_address: str,
        *,
        foreign_bbmd: str | None = None,
        ttl: int = 60,
        timeout: float = 3.0,
        retries: int = 1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        default_priority: int = DEFAULT_PRIORITY,
        device_instance: int = DEFAULT_DEVICE_INSTANCE,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.prefix, self.port = _parse_ipv4(local_address, netmask=True)
        self.local_address = local_address
        self.foreign_bbmd = normalize_address(foreign_bbmd) if foreign_bbmd else None
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        check_priority(default_priority)
        self.ttl = ttl
        self.timeout = timeout
        self.retries = max(0, retries)
        self.batch_size = batch_size
        self.default_priority = default_priority
        self.device_instance = device_instance
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._clock = clock
        self._app: Any = None
        self._peers: dict[str, _Peer] = {}
        self._overrides: dict[tuple[str, ObjectId, int], Override] = {}
        self._subscriptions: dict[tuple[str, int], CovSubscription] = {}
        self._next_process_id = 1

    # ----- lifecycle

    @property
    def started(self) -> bool:
        return self._app is not None

    async def start(self) -> None:
        """Bind the local address; raises OSError when it is taken or cannot be bound."""
        if self._app is not None:
            return
        _check_udp_port_free(self.host, self.port)
        bind = (
            f"{self.host}/{self.prefix}:{self.port}"
            if self.prefix is not None
            else f"{self.host}:{self.port}"
        )
        args = argparse.Namespace(
            name="EAIO", instance=self.device_instance, network=0, address=bind,
            vendoridentifier=_VENDOR_ID, foreign=self.foreign_bbmd, ttl=self.ttl, bbmd=None,
        )  # fmt: skip
        app = _ClientApplication.from_args(args)
        app._i_am_listeners = []
        device = app.device_object
        device.vendorName = "EAIO"
        device.modelName = "EAIO BACnet client"
        # The stack's own retry timer, so a silent device ends in an abort (no-response)
        # rather than in a cancelled request with its timer still running.
        device.apduTimeout = max(1, int(self.timeout * 1000 / (self.retries + 1)))
        device.numberOfApduRetries = self.retries
        try:
            # The stack binds in a background task and retries forever on failure.
            async with asyncio.timeout(max(self.timeout, 1.0)):
                for link_layer in app.link_layers.values():
                    await asyncio.gather(*link_layer.server._transport_tasks)
        except TimeoutError as err:
            app.close()
            raise OSError(f"cannot bind BACnet/IP to {self.host}:{self.port}") from err
        self._app = app
        if self.foreign_bbmd:
            await self._wait_registered(self.timeout)
        _LOGGER.debug("BACnet client bound to %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Relinquish every override, cancel COV subscriptions, close the socket."""
        app = self._app
        if app is None:
            return
        errors = await self.release_all()
        for where, error in errors.items():
            _LOGGER.warning("BACnet override left at %s: %s", where, error)
        for subscription in list(self._subscriptions.values()):
            await self.cancel_cov(subscription)
        self._app = None
        before = asyncio.all_tasks()
        for link_layer in app.link_layers.values():
            if hasattr(link_layer, "unregister"):
                link_layer.unregister()  # foreign device: tell the BBMD, stop renewing
        app.close()
        # Stop the stack's transaction timers and let its last tasks finish, so nothing of
        # this client runs after stop().
        for ssm in [*app.asap.clientTransactions, *app.asap.serverTransactions]:
            ssm.stop_timer()
        await asyncio.sleep(0)
        pending = {task for task in asyncio.all_tasks() - before if _is_stack_task(task)}
        if pending:
            await asyncio.wait(pending, timeout=self.timeout)
        self._peers.clear()

    def _require_app(self) -> Any:
        if self._app is None:
            raise RuntimeError("BACnet client not started")
        return self._app

    def _foreign_link(self) -> Any:
        for link_layer in self._require_app().link_layers.values():
            if hasattr(link_layer, "bbmdRegistrationStatus"):
                return link_layer
        return None

    async def _wait_registered(self, wait: float) -> bool:
        link = self._foreign_link()
        if link is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await link._registration_event.wait()
        if link.bbmdRegistrationStatus != 0:
            _LOGGER.warning("BBMD %s has not accepted the foreign-device registration", self.foreign_bbmd)
            return False
        return True

    # ----- peers, back-off, requests

    def _peer(self, address: str) -> _Peer:
        key = normalize_address(address)
        peer = self._peers.get(key)
        if peer is None:
            peer = self._peers[key] = _Peer(key, Address(key))
        return peer

    def refuses_rpm(self, address: str) -> bool:
        """True once the device at ``address`` has refused ReadPropertyMultiple."""
        peer = self._peers.get(normalize_address(address))
        return bool(peer and peer.rpm_refused)

    def _check_backoff(self, peer: _Peer) -> None:
        now = self._clock()
        if now < peer.retry_at:
            raise DeviceUnreachable(
                f"{peer.key} unreachable ({peer.last_error}); next attempt in {peer.retry_at - now:.0f} s"
            )

    def _fail(self, peer: _Peer, error: str) -> DeviceUnreachable:
        peer.last_error = error
        peer.backoff = (
            self._backoff_initial if peer.backoff == 0 else min(peer.backoff * 2, self._backoff_max)
        )
        peer.retry_at = self._clock() + peer.backoff
        return DeviceUnreachable(f"{peer.key}: {error}")

    @staticmethod
    def _succeed(peer: _Peer) -> None:
        peer.backoff = 0.0
        peer.retry_at = 0.0
        peer.last_error = None

    async def _call(self, peer: _Peer, request: Callable[[], Awaitable[Any]]) -> Any:
        """One confirmed request: BacnetError for an error/reject/abort answer,
        DeviceUnreachable when the device does not answer (then back off)."""
        self._require_app()
        self._check_backoff(peer)
        async with peer.lock:
            try:
                # The stack aborts with no-response first; this is only a backstop.
                async with asyncio.timeout(self.timeout + 2.0):
                    result = await request()
            except TimeoutError as err:
                raise self._fail(peer, f"no response within {self.timeout:g} s") from err
            except ErrorRejectAbortNack as err:
                if isinstance(err, AbortPDU) and str(err.apduAbortRejectReason) == "no-response":
                    raise self._fail(peer, f"no response within {self.timeout:g} s") from None
                self._succeed(peer)
                raise describe_error(err) from None
        self._succeed(peer)
        if isinstance(result, ErrorRejectAbortNack):
            raise describe_error(result)
        return result

    async def _known(self, address: str) -> _Peer:
        """The peer, after a directed Who-Is if its instance is not known yet."""
        peer = self._peer(address)
        if peer.instance is None:
            self._check_backoff(peer)
            await self._who_is_at(peer, self.timeout)
        return peer

    # ----- discovery

    async def _collect_i_ams(
        self,
        destination: Any,
        low_limit: int | None,
        high_limit: int | None,
        wait: float,
        done: Callable[[dict[int, Any]], bool],
    ) -> dict[int, Any]:
        """Send Who-Is to ``destination``; I-Am answers by instance until ``done`` or ``wait`` s."""
        app = self._require_app()
        found: dict[int, Any] = {}
        complete = asyncio.Event()

        async def listener(apdu: Any) -> None:
            instance = int(apdu.iAmDeviceIdentifier[1])
            if low_limit is not None and high_limit is not None and not low_limit <= instance <= high_limit:
                return
            try:
                normalize_address(str(apdu.pduSource))
            except ValueError:
                _LOGGER.debug(
                    "I-Am from %s (device %s): routed devices are not supported", apdu.pduSource, instance
                )
                return
            if not destination.is_localstation or apdu.pduSource == destination:
                # Feeds the stack's device cache: vendor (for decoding) and APDU limits.
                await app.device_info_cache.set_device_info(apdu)
                found[instance] = apdu
                if done(found):
                    complete.set()

        request = WhoIsRequest(destination=destination)
        if low_limit is not None and high_limit is not None:
            request.deviceInstanceRangeLowLimit = low_limit
            request.deviceInstanceRangeHighLimit = high_limit
        app._i_am_listeners.append(listener)
        try:
            await app.request(request)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await complete.wait()
        finally:
            app._i_am_listeners.remove(listener)
        return found

    def _remember(self, apdu: Any) -> _Peer:
        peer = self._peer(str(apdu.pduSource))
        peer.instance = int(apdu.iAmDeviceIdentifier[1])
        peer.vendor_id = int(apdu.vendorID)
        return peer

    async def _who_is_at(self, peer: _Peer, wait: float) -> Any:
        found = await self._collect_i_ams(peer.address, None, None, wait, lambda found: bool(found))
        if not found:
            raise self._fail(peer, f"no I-Am answer within {wait:g} s")
        self._succeed(peer)
        return self._remember(next(iter(found.values())))

    async def discover(
        self,
        low_limit: int | None = None,
        high_limit: int | None = None,
        *,
        wait: float | None = None,
        expected: int | None = None,
    ) -> list[DiscoveredDevice]:
        """Broadcast Who-Is and describe every device that answers.

        Without instance limits a Who-Is has no natural end: it listens ``wait`` seconds
        (default: the client's timeout). With limits it ends as soon as every instance in
        the range answered (or ``expected`` devices did): a narrow range returns within
        milliseconds. Devices behind BACnet routers (remote stations) are skipped.

        """
        if (low_limit is None) != (high_limit is None):
            raise ValueError("give both instance limits or neither")
        if low_limit is not None and high_limit is not None and not 0 <= low_limit <= high_limit <= 4194303:
            raise ValueError("instance limits must satisfy 0 <= low <= high <= 4194303")
        wait = self.timeout if wait is None else wait
        await self._check_broadcast()

        def done(found: dict[int, Any]) -> bool:
            if expected is not None and len(found) >= expected:
                return True
            return low_limit is not None and high_limit is not None and len(found) > high_limit - low_limit

        found = await self._collect_i_ams(GlobalBroadcast(), low_limit, high_limit, wait, done)
        peers = [self._remember(apdu) for _, apdu in sorted(found.items())]
        return list(await asyncio.gather(*(self._describe_device(peer) for peer in peers)))

    async def _check_broadcast(self) -> None:
        if self.foreign_bbmd:
            if not await self._wait_registered(self.timeout):
                raise DeviceUnreachable(f"not registered with BBMD {self.foreign_bbmd}")
            return
        for link_layer in self._require_app().link_layers.values():
            if link_layer.server.broadcast_address is None:
                raise ValueError(
                    f"no broadcast address for {self.local_address}: give a netmask "
                    "(e.g. 192.168.1.10/24:47808), register with a BBMD, or use a directed Who-Is"
                )

    async def discover_at(self, address: str, *, wait: float | None = None) -> DiscoveredDevice:
        """Directed Who-Is to one address (for networks where broadcasts do not arrive);
        DeviceUnreachable when no I-Am arrives within ``wait`` seconds."""
        peer = self._peer(address)
        await self._who_is_at(peer, self.timeout if wait is None else wait)
        return await self._describe_device(peer)

    async def read_device(self, address: str) -> DiscoveredDevice:
        """What the device object at ``address`` says about itself."""
        return await self._describe_device(await self._known(address))

    async def _describe_device(self, peer: _Peer) -> DiscoveredDevice:
        assert peer.instance is not None
        device: ObjectId = ("device", peer.instance)
        props = ("objectName", "vendorName", "vendorIdentifier", "modelName", "description",
                 "maxApduLengthAccepted")  # fmt: skip
        try:
            values, _ = await self._read_refs(peer, [(device, prop, None) for prop in props])
        except DeviceUnreachable as err:
            _LOGGER.debug("device %s answered I-Am but not ReadProperty: %s", peer.key, err)
            values = {}

        def text(prop: str) -> Any:
            value = values.get((device, prop, None))
            return None if value is None or isinstance(value, BacnetError) else to_python(value)

        vendor_id = text("vendorIdentifier")
        max_apdu = text("maxApduLengthAccepted")
        return DiscoveredDevice(
            instance=peer.instance,
            address=peer.key,
            name=text("objectName"),
            vendor_id=int(vendor_id) if isinstance(vendor_id, int) else peer.vendor_id,
            vendor_name=text("vendorName"),
            model_name=text("modelName"),
            description=text("description"),
            max_apdu=int(max_apdu) if isinstance(max_apdu, int) else None,
        )

    # ----- reading

    async def read_property(
        self, address: str, object_id: ObjectId, prop: str, index: int | None = None
    ) -> Any:
        """One property as the stack decodes it (BacnetError, DeviceUnreachable)."""
        peer = await self._known(address)
        return await self._rp(peer, (object_id, prop, index))

    async def _rp(self, peer: _Peer, ref: Ref) -> Any:
        app = self._require_app()
        object_id, prop, index = ref
        return await self._call(
            peer,
            lambda: app.read_property(
                peer.address, to_identifier(object_id), PropertyIdentifier(prop), index
            ),
        )

    async def _rpm(self, peer: _Peer, refs: Sequence[Ref]) -> dict[Ref, Any]:
        """One ReadPropertyMultiple; per-property errors come back as BacnetError values."""
        app = self._require_app()
        parameters: list[Any] = []
        for object_id, group in group_by_object(refs):
            parameters.append(to_identifier(object_id))
            parameters.append(
                [PropertyReference(propertyIdentifier=PropertyIdentifier(prop), propertyArrayIndex=index)
                 if index is not None else PropertyIdentifier(prop) for _, prop, index in group]
            )  # fmt: skip
        answer = await self._call(peer, lambda: app.read_property_multiple(peer.address, parameters))
        if answer is None:
            raise BacnetError("invalid ReadPropertyMultiple answer", kind="decode")
        results: dict[Ref, Any] = {}
        for identifier, property_identifier, index, value in answer:
            ref = (
                from_identifier(identifier),
                str(property_identifier.attr),
                None if index is None else int(index),
            )
            if value is None:
                results[ref] = BacnetError(f"cannot decode {ref[1]}", kind="decode")
            elif type(value).__name__ == "ErrorType":
                results[ref] = describe_error(value)
            else:
                results[ref] = value
        return results

    async def _read_refs(
        self, peer: _Peer, refs: Sequence[Ref], batch_size: int | None = None
    ) -> tuple[dict[Ref, Any], int]:
        """Every property of ``refs``: value or BacnetError each, and the requests it took.

        ReadPropertyMultiple in batches of ``batch_size`` (default: the client's). A batch
        the device refuses as a whole is split in halves: an answer too big for the device
        teaches the peer a smaller batch for next time; a batch failed by one bad object is
        split until that property stands alone and gets ReadProperty and its own error. A
        device that does not do ReadPropertyMultiple at all gets ReadProperty from then on.
        DeviceUnreachable propagates: nothing was read.
        """
        results: dict[Ref, Any] = {}
        requests = 0
        size = max(1, min(batch_size or self.batch_size, peer.batch_limit or sys.maxsize))
        pending = [list(refs[i : i + size]) for i in range(0, len(refs), size)]
        while pending:
            batch = pending.pop(0)
            if peer.rpm_refused or len(batch) == 1:
                for ref in batch:
                    requests += 1
                    try:
                        results[ref] = await self._rp(peer, ref)
                    except BacnetError as err:
                        results[ref] = err
                continue
            requests += 1
            try:
                answer = await self._rpm(peer, batch)
            except BacnetError as err:
                if err.code in _RPM_REFUSALS:
                    _LOGGER.info("%s refuses ReadPropertyMultiple (%s); using ReadProperty", peer.key, err)
                    peer.rpm_refused = True
                    pending.insert(0, batch)
                else:
                    half = len(batch) // 2
                    if err.code in _TOO_BIG:
                        peer.batch_limit = half
                        _LOGGER.debug(
                            "%s: %s for %d properties; batches of %d", peer.key, err, len(batch), half
                        )
                    pending[0:0] = [batch[:half], batch[half:]]
                continue
            for ref in batch:
                results[ref] = answer.get(ref, BacnetError("missing from the answer", kind="decode"))
        return results, requests

    async def read_values(
        self, address: str, object_ids: Iterable[ObjectId], *, batch_size: int | None = None
    ) -> ReadResult:
        """Present_Value of each object; an object's error does not affect the others."""
        peer = await self._known(address)
        ids = list(dict.fromkeys(object_ids))
        refs: list[Ref] = [(oid, "presentValue", None) for oid in ids]
        raw, requests = await self._read_refs(peer, refs, batch_size)
        result = ReadResult(requests=requests)
        for oid in ids:
            value = raw[(oid, "presentValue", None)]
            if isinstance(value, BacnetError):
                result.errors[oid] = str(value)
            else:
                result.values[oid] = to_python(value)
        return result

    async def read_object_list(self, address: str) -> list[ObjectId]:
        """The device's object list; element by element when the device cannot send it whole."""
        peer = await self._known(address)
        assert peer.instance is not None
        device: ObjectId = ("device", peer.instance)
        try:
            whole = await self._rp(peer, (device, "objectList", None))
            return [from_identifier(identifier) for identifier in whole]
        except BacnetError as err:
            _LOGGER.debug("%s: object list not readable whole (%s); reading it by index", peer.key, err)
        count = int(await self._rp(peer, (device, "objectList", 0)))
        refs: list[Ref] = [(device, "objectList", index) for index in range(1, count + 1)]
        values, _ = await self._read_refs(peer, refs)
        object_ids: list[ObjectId] = []
        for ref in refs:
            value = values[ref]
            if isinstance(value, BacnetError):
                raise BacnetError(f"object list element {ref[2]}: {value}", kind=value.kind, code=value.code)
            object_ids.append(from_identifier(value))
        return object_ids

    async def read_objects(
        self, address: str, object_ids: Iterable[ObjectId] | None = None
    ) -> ObjectListResult:
        """Describe objects (default: every object of a type EAIO maps) for entity mapping.

        An object whose name or present value cannot be read is reported in ``errors``;
        a missing optional property (description, units, texts) is just None.
        """
        peer = await self._known(address)
        if object_ids is None:
            ids = [oid for oid in await self.read_object_list(address) if oid[0] in SUPPORTED_OBJECT_TYPES]
        else:
            ids = list(dict.fromkeys(object_ids))
        refs = [ref for oid in ids for ref in describe_refs(oid)]
        values, requests = await self._read_refs(peer, refs)
        result = ObjectListResult(requests=requests)
        for oid in ids:
            try:
                result.objects.append(build_object(oid, values))
            except BacnetError as err:
                result.errors[oid] = str(err)
        return result

    async def read_priority_array(self, address: str, object_id: ObjectId) -> list[Value]:
        """The 16 slots of a commandable object's priority array (None where empty)."""
        raw = await self.read_property(address, object_id, "priorityArray")
        return [to_python(getattr(slot, slot._choice)) for slot in raw]

    # ----- writing

    @property
    def overrides(self) -> list[Override]:
        """Present values this client commanded and has not relinquished."""
        return list(self._overrides.values())

    async def write(
        self, address: str, object_id: ObjectId, value: Value, *, priority: int | None = None
    ) -> None:
        """Command Present_Value at ``priority`` (default: the client's, normally 16).

        The override is remembered until ``relinquish``/``release_all``, also when the
        device did not answer (it may have applied the write all the same).
        """
        priority = self.default_priority if priority is None else priority
        check_priority(priority)
        encoded = encode_present_value(object_id[0], value)
        peer = await self._known(address)
        app = self._require_app()
        key = (peer.key, object_id, priority)
        self._check_backoff(peer)  # then it is not sent at all: nothing to remember
        try:
            await self._call(
                peer,
                lambda: app.write_property(
                    peer.address, to_identifier(object_id), PropertyIdentifier("presentValue"),
                    encoded, None, priority,
                ),
            )  # fmt: skip
        except DeviceUnreachable:
            self._overrides[key] = Override(peer.key, object_id, priority, value)
            raise
        self._overrides[key] = Override(peer.key, object_id, priority, value)

    async def relinquish(self, address: str, object_id: ObjectId, *, priority: int | None = None) -> None:
        """Write null at ``priority``: give the object back to lower priorities."""
        priority = self.default_priority if priority is None else priority
        check_priority(priority)
        peer = await self._known(address)
        app = self._require_app()
        key = (peer.key, object_id, priority)
        try:
            await self._call(
                peer,
                lambda: app.write_property(
                    peer.address, to_identifier(object_id), PropertyIdentifier("presentValue"),
                    Null(()), None, priority,
                ),
            )  # fmt: skip
        except BacnetError as err:
            if err.code != "unknown-object":  # a deleted object holds no override
                raise
        self._overrides.pop(key, None)

    async def release_all(self) -> dict[str, str]:
        """Relinquish every override; what could not be relinquished stays tracked and is
        returned as ``{"address TYPE:INSTANCE @priority": error}``."""
        errors: dict[str, str] = {}
        for override in list(self._overrides.values()):
            try:
                await self.relinquish(override.address, override.object_id, priority=override.priority)
            except (BacnetError, DeviceUnreachable) as err:
                where = f"{override.address} {format_object_id(override.object_id)} @{override.priority}"
                errors[where] = str(err)
        return errors

    # ----- change of value

    async def subscribe_cov(
        self,
        address: str,
        object_id: ObjectId,
        callback: Callback,
        *,
        lifetime: int = 300,
        confirmed: bool = False,
    ) -> CovSubscription:
        """SubscribeCOV for Present_Value; ``callback(object_id, value)`` on each notification.

        Raises BacnetError when the object refuses COV. The subscription ends after
        ``lifetime`` seconds unless renewed (``renew_cov``; CovWatcher does it).
        """
        if lifetime <= 0:
            raise ValueError("lifetime must be positive (an unlimited subscription would outlive us)")
        peer = await self._known(address)
        app = self._require_app()
        subscription = CovSubscription(
            peer.key, object_id, self._next_process_id, lifetime, confirmed, callback
        )
        self._next_process_id = self._next_process_id % 4194303 + 1
        context_key = (peer.address, subscription.process_id)
        # Registered before subscribing: the device sends the current value right away.
        app._cov_contexts[context_key] = _CovContext(subscription, peer)
        try:
            await self._send_subscribe(peer, subscription)
        except BaseException:
            app._cov_contexts.pop(context_key, None)
            raise
        self._subscriptions[(peer.key, subscription.process_id)] = subscription
        return subscription

    async def renew_cov(self, subscription: CovSubscription) -> None:
        """Subscribe again with the same process id: the device extends the lifetime."""
        await self._send_subscribe(self._peer(subscription.address), subscription)
        subscription.renewals += 1

    async def _send_subscribe(self, peer: _Peer, subscription: CovSubscription) -> None:
        app = self._require_app()
        await self._call(
            peer,
            lambda: app.request(
                SubscribeCOVRequest(
                    subscriberProcessIdentifier=subscription.process_id,
                    monitoredObjectIdentifier=to_identifier(subscription.object_id),
                    issueConfirmedNotifications=subscription.confirmed,
                    lifetime=subscription.lifetime,
                    destination=peer.address,
                )
            ),
        )

    async def cancel_cov(self, subscription: CovSubscription) -> None:
        """Stop delivering notifications and cancel at the device (best effort)."""
        peer = self._peer(subscription.address)
        self._subscriptions.pop((peer.key, subscription.process_id), None)
        app = self._app
        if app is None:
            return
        app._cov_contexts.pop((peer.address, subscription.process_id), None)
        request = SubscribeCOVRequest(
            subscriberProcessIdentifier=subscription.process_id,
            monitoredObjectIdentifier=to_identifier(subscription.object_id),
            destination=peer.address,
        )
        try:
            await self._call(peer, lambda: app.request(request))
        except (BacnetError, DeviceUnreachable) as err:
            _LOGGER.debug("cancelling COV %s %s: %s", peer.key, format_object_id(subscription.object_id), err)


def _is_stack_task(task: asyncio.Task[Any]) -> bool:
    """A task the BACnet stack started (its coroutines live in its package)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and f"{os.sep}bacpypes3{os.sep}" in code.co_filename


def _check_udp_port_free(host: str, port: int) -> None:
    """The stack binds with SO_REUSEPORT, so a second binding would silently share the port
    (and half its packets): make sure nobody holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise OSError(err.errno, f"cannot bind BACnet/IP to {host}:{port}: {err.strerror}") from err

"""Modbus TCP client wrapper: timeouts, reconnect with back-off, planned reads, bounded writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import inspect
import logging
import time
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from .codec import Value, decode_bit, decode_registers, encode_value
from .planner import ReadBlock, split_block
from .points import Point, RegisterType

_LOGGER = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}

# pymodbus 3.10 renamed the unit keyword from ``slave`` to ``device_id``; Home Assistant
# pins different releases over time, so ask the installed one which it takes.
_UNIT_KW = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    else "slave"
)


# A gateway answers these for the device behind it, not for the registers asked: splitting
# the block only repeats the gateway's own timeout once per point.
GATEWAY_EXCEPTIONS = frozenset({10, 11})


class DeviceUnreachable(ConnectionError):
    """The device cannot be reached (connect failed, timed out, or backing off)."""


class ExceptionResponse(Exception):
    """The device answered a Modbus exception."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception code {code} ({EXCEPTION_NAMES.get(code, 'unknown')})")


@dataclass(slots=True)
class ReadResult:
    """Decoded values, per-point errors, and the plan refined by any block splits."""

    values: dict[str, Value] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    plan: list[ReadBlock] = field(default_factory=list)
    requests: int = 0
    gateway_failed: bool = False  # a gateway said the device behind it did not answer


class ModbusDeviceClient:
    """One Modbus TCP device (host, port, unit id)."""

    def __init__(
        self,
        host: str,
        port: int,
        unit_id: int,
        *,
        timeout: float = 3.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.timeout = timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = 0.0
        self._retry_at = 0.0
        self._clock = clock
        self._client: AsyncModbusTcpClient | None = None
        # One request at a time per device: many devices handle a single transaction only.
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def _ensure_connected(self) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        now = self._clock()
        if now < self._retry_at:
            raise DeviceUnreachable(
                f"{self.host}:{self.port} unreachable ({self.last_error}); "
                f"next attempt in {self._retry_at - now:.0f} s"
            )
        await self._drop()
        # reconnect_delay=0: pymodbus must not reconnect on its own; this class decides when.
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )
        try:
            async with asyncio.timeout(self.timeout + 1):
                ok = await client.connect()
        except (TimeoutError, OSError, ModbusException) as err:
            ok = False
            self.last_error = str(err) or type(err).__name__
        if not ok:
            client.close()
            self.last_error = self.last_error or "connection refused or timed out"
            self._fail()
            raise DeviceUnreachable(f"cannot connect to {self.host}:{self.port}: {self.last_error}")
        self._client = client
        return client

    def _fail(self) -> None:
        self._backoff = (
            self._backoff_initial if self._backoff == 0 else min(self._backoff * 2, self._backoff_max)
        )
        self._retry_at = self._clock() + self._backoff

    def _succeed(self) -> None:
        self._backoff = 0.0
        self._retry_at = 0.0
        self.last_error = None

    async def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        client = await self._ensure_connected()
        kwargs[_UNIT_KW] = self.unit_id
        try:
            async with asyncio.timeout(self.timeout * 2):
                response = await getattr(client, method)(*args, **kwargs)
        except (TimeoutError, ModbusException, OSError) as err:
            self.last_error = str(err) or type(err).__name__
            await self._drop()
            self._fail()
            raise DeviceUnreachable(f"{self.host}:{self.port}: {self.last_error}") from err
        self._succeed()
        if response.isError():
            raise ExceptionResponse(int(getattr(response, "exception_code", 0)))
        return response

    async def read_block(self, block: ReadBlock) -> list[int] | list[bool]:
        """Read one block; raises ExceptionResponse or DeviceUnreachable."""
        method = {
            RegisterType.HOLDING: "read_holding_registers",
            RegisterType.INPUT: "read_input_registers",
            RegisterType.COIL: "read_coils",
            RegisterType.DISCRETE: "read_discrete_inputs",
        }[block.register_type]
        async with self._lock:
            response = await self._call(method, block.start, count=block.count)
        if block.register_type.is_bit:
            return list(response.bits[: block.count])
        return list(response.registers)

    async def read(self, plan: Sequence[ReadBlock]) -> ReadResult:
        """Read every block of ``plan``.

        A block the device refuses is split and retried until only the points that really
        fail are left; those get an error, the rest are decoded. ``result.plan`` is the plan
        with those splits, to reuse on the next poll. DeviceUnreachable propagates: a
        device that cannot be reached has no values at all.

        A gateway exception (the device behind a gateway did not answer) fails this block
        and every block after it at once, unsplit: asking again point by point would only
        wait out the gateway's timeout once per point.
        """
        result = ReadResult()
        pending = list(plan)
        while pending:
            block = pending.pop(0)
            result.requests += 1
            try:
                raw = await self.read_block(block)
            except ExceptionResponse as err:
                if err.code in GATEWAY_EXCEPTIONS:
                    for failed in (block, *pending):
                        result.plan.append(failed)
                        for point in failed.points:
                            result.errors[point.key] = str(err)
                    pending.clear()
                    result.gateway_failed = True
                    continue
                if len(block.points) > 1:
                    _LOGGER.debug(
                        "%s:%s refused %s@%s+%s (%s); splitting",
                        self.host,
                        self.port,
                        block.register_type,
                        block.start,
                        block.count,
                        err,
                    )
                    pending[0:0] = split_block(block)
                    continue
                result.plan.append(block)
                result.errors[block.points[0].key] = str(err)
                continue
            result.plan.append(block)
            for point in block.points:
                offset = point.address - block.start
                try:
                    if block.register_type.is_bit:
                        result.values[point.key] = decode_bit(point, bool(raw[offset]))
                    else:
                        words = [int(w) for w in raw[offset : offset + point.register_count]]
                        result.values[point.key] = decode_registers(point, words)
                except (ValueError, IndexError) as err:
                    result.errors[point.key] = f"cannot decode: {err}"
        return result

    async def write(self, point: Point, value: float | int | bool) -> None:
        """Write an already bounds-checked value (see bounds.check_write)."""
        async with self._lock:
            if point.register_type is RegisterType.COIL:
                await self._call("write_coil", point.address, bool(value))
                return
            registers = encode_value(point, value)
            if len(registers) == 1:
                await self._call("write_register", point.address, registers[0])
            else:
                await self._call("write_registers", point.address, registers)

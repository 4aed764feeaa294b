"""A real pymodbus TCP server serving one or more profiles, each on its own unit id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
import logging
import time

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType, SimData, SimDevice

from custom_components.eaio.bms.points import DataType, Order, Point, RegisterType
from custom_components.eaio.bms.profiles import Profile

from .building import BuildingModel

_LOGGER = logging.getLogger(__name__)
_CONVERT = ModbusClientMixin.DATATYPE
_TYPES = {
    DataType.INT16: _CONVERT.INT16, DataType.UINT16: _CONVERT.UINT16,
    DataType.INT32: _CONVERT.INT32, DataType.UINT32: _CONVERT.UINT32,
    DataType.FLOAT32: _CONVERT.FLOAT32, DataType.FLOAT64: _CONVERT.FLOAT64,
}  # fmt: skip
# Function codes that touch each table.
_TABLE = {1: RegisterType.COIL, 5: RegisterType.COIL, 15: RegisterType.COIL,
          2: RegisterType.DISCRETE, 3: RegisterType.HOLDING, 6: RegisterType.HOLDING,
          16: RegisterType.HOLDING, 4: RegisterType.INPUT}  # fmt: skip


def encode(point: Point, value: float | int | bool | str) -> list[int]:
    """Registers for ``value`` using the server library's converters."""
    if point.data_type is DataType.STRING:
        raw = str(value).encode("ascii")[: point.length * 2].ljust(point.length * 2, b"\x00")
        return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if point.data_type is DataType.BOOL:
        return [1 if value else 0]
    raw_value = (float(value) - point.offset) / point.scale
    if point.data_type not in (DataType.FLOAT32, DataType.FLOAT64):
        raw_value = round(raw_value)
    words = ModbusClientMixin.convert_to_registers(
        raw_value, _TYPES[point.data_type], word_order=point.word_order.value
    )
    if point.byte_order is Order.LITTLE:
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


def decode(point: Point, words: list[int]) -> float:
    """Engineering value of written registers (for setpoints the model follows)."""
    if point.byte_order is Order.LITTLE:
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    raw = ModbusClientMixin.convert_from_registers(
        words, _TYPES[point.data_type], word_order=point.word_order.value
    )
    return float(raw) * point.scale + point.offset  # type: ignore[arg-type]


@dataclass
class SimulatedDevice:
    unit_id: int
    profile: Profile
    holes: frozenset[tuple[RegisterType, int]] = frozenset()
    fill_gaps: bool = True


class ModbusBuilding:
    """Serves devices; values come from a BuildingModel and are refreshed on every read."""

    def __init__(self, devices: Iterable[SimulatedDevice], model: BuildingModel) -> None:
        self.devices = list(devices)
        self.model = model
        self._t0 = time.monotonic()
        self.server: ModbusTcpServer | None = None

    def _registers(self, device: SimulatedDevice, table: RegisterType) -> list[SimData]:
        points = [p for p in device.profile.points if p.register_type is table]
        values = self.model.values(0.0)
        simdata: list[SimData] = []
        if table.is_bit:
            bits = [False] * (max((p.address for p in points), default=0) + 1)
            for point in points:
                bits[point.address] = bool(values.get(point.key, False))
            return [SimData(0, values=bits, datatype=SimType.BITS)]
        end = max((p.end for p in points), default=1)
        words = [0] * end
        mapped = [False] * end
        for point in points:
            words[point.address : point.end] = encode(point, values.get(point.key, 0))
            mapped[point.address : point.end] = [True] * point.register_count
        for address in range(end):
            if (table, address) in device.holes or not (mapped[address] or device.fill_gaps):
                continue
            simdata.append(SimData(address, values=words[address], datatype=SimType.UINT16))
        # A table the profile does not use answers "illegal data address" everywhere.
        return simdata or [SimData(0, datatype=SimType.INVALID)]

    def _action(self, device: SimulatedDevice) -> Callable[..., Awaitable[None]]:
        by_table: dict[RegisterType, list[Point]] = {}
        for point in device.profile.points:
            by_table.setdefault(point.register_type, []).append(point)

        async def action(function_code: int, start_address: int, address: int, count: int,
                         registers: list[int], set_values: list[int] | list[bool] | None) -> None:
            table = _TABLE.get(function_code)
            if table is None:
                return None
            if set_values is not None:
                self._follow_write(by_table.get(table, []), table, address, list(set_values))
                return None
            values = self.model.values(time.monotonic() - self._t0)
            for point in by_table.get(table, []):
                if point.key not in values or (table, point.address) in device.holes:
                    continue
                if table.is_bit:
                    # Bits sit 16 to a register, lowest address in the lowest bit.
                    register, bit = divmod(point.address, 16)
                    index = register - start_address
                    if 0 <= index < len(registers):
                        mask = 1 << bit
                        registers[index] = (registers[index] | mask) if values[point.key] else (registers[index] & ~mask)
                    continue
                offset = point.address - start_address
                if offset >= 0 and offset + point.register_count <= len(registers):
                    registers[offset : offset + point.register_count] = encode(point, values[point.key])
            return None

        return action

    def _follow_write(self, points: list[Point], table: RegisterType, address: int,
                      set_values: list[int] | list[bool]) -> None:
        for point in points:
            if table.is_bit:
                if point.address - address in range(len(set_values)) and point.key in self.model.switches:
                    self.model.switches[point.key] = bool(set_values[point.address - address])
                    _LOGGER.info("write %s = %s", point.key, self.model.switches[point.key])
                continue
            offset = point.address - address
            if offset >= 0 and offset + point.register_count <= len(set_values) and point.key in self.model.setpoints:
                words = [int(v) for v in set_values[offset : offset + point.register_count]]
                self.model.setpoints[point.key] = decode(point, words)
                _LOGGER.info("write %s = %s", point.key, self.model.setpoints[point.key])

    def sim_devices(self) -> list[SimDevice]:
        return [
            SimDevice(
                device.unit_id,
                simdata=(
                    self._registers(device, RegisterType.COIL),
                    self._registers(device, RegisterType.DISCRETE),
                    self._registers(device, RegisterType.HOLDING),
                    self._registers(device, RegisterType.INPUT),
                ),
                # pymodbus 3.16 declares the action as returning ExcCodes | None; ours returns None.
                action=self._action(device),  # type: ignore[arg-type]
            )
            for device in self.devices
        ]

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port) and return the port; serving goes on."""
        self.server = ModbusTcpServer(self.sim_devices(), address=(host, port))
        await self.server.serve_forever(background=True)
        transport = self.server.transport
        assert transport is not None
        return int(transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]

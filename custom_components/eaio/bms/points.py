"""The point model: one value a field device exposes, and how to read and write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class RegisterType(StrEnum):
    """Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bit(self) -> bool:
        return self in (RegisterType.COIL, RegisterType.DISCRETE)

    @property
    def is_writable_table(self) -> bool:
        return self in (RegisterType.HOLDING, RegisterType.COIL)


class DataType(StrEnum):
    """How the registers of a point are interpreted."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"


# Registers taken by each numeric type; strings say their own length.
REGISTER_WIDTH: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}


class Order(StrEnum):
    """Word or byte order: big-endian is Modbus' own order, little swaps."""

    BIG = "big"
    LITTLE = "little"


@dataclass(frozen=True, slots=True)
class Point:
    """One readable (and maybe writable) value of a device.

    ``scale`` and ``offset`` turn the raw number into engineering units:
    ``value = raw * scale + offset``. Writes apply the inverse.
    """

    key: str
    name: str
    register_type: RegisterType
    address: int
    data_type: DataType = DataType.UINT16
    word_order: Order = Order.BIG
    byte_order: Order = Order.BIG
    length: int = 0  # registers, strings only
    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = None
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    writable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    # What a reading may be (bms/plausibility.py); None: a default by unit and device class.
    valid_min: float | None = None
    valid_max: float | None = None
    max_rate: float | None = None  # a counter's fastest growth, units per hour
    enabled_by_default: bool = True
    icon: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def register_count(self) -> int:
        """Registers (or bits) this point spans."""
        if self.register_type.is_bit:
            return 1
        if self.data_type is DataType.STRING:
            return self.length
        return REGISTER_WIDTH[self.data_type]

    @property
    def end(self) -> int:
        """First address after this point."""
        return self.address + self.register_count

"""Exact conversion between Modbus registers and engineering values."""

from __future__ import annotations

import math
import struct

from .points import DataType, Order, Point

_STRUCT: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}

Value = float | int | str | bool


class EncodeError(ValueError):
    """A value cannot be written to a point."""


def _registers_to_bytes(point: Point, registers: list[int]) -> bytes:
    words = list(registers)
    if point.word_order is Order.LITTLE:
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if point.byte_order is Order.LITTLE:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


def _bytes_to_registers(point: Point, raw: bytes) -> list[int]:
    if point.byte_order is Order.LITTLE:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if point.word_order is Order.LITTLE:
        words.reverse()
    return words


def _decimals(number: float) -> int:
    text = repr(float(number))
    if "e" in text:
        return 15
    return len(text.split(".")[1].rstrip("0"))


def _scaled(point: Point, raw: float) -> float | int:
    """Apply scale and offset without losing or inventing digits.

    An integer register scaled by 0.1 has exactly one decimal; rounding to the decimals of
    scale and offset removes binary noise (0.1 * 2345 = 234.50000000000003) and nothing else.
    Floats read from the device are returned as they are.
    """
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    value = raw * point.scale + point.offset
    if isinstance(raw, int):
        return round(value, max(_decimals(point.scale), _decimals(point.offset)))
    return value


def decode_registers(point: Point, registers: list[int]) -> Value:
    """Decode the registers read for ``point`` (exactly ``point.register_count`` words)."""
    if len(registers) != point.register_count:
        raise ValueError(f"{point.key}: expected {point.register_count} registers, got {len(registers)}")
    raw = _registers_to_bytes(point, registers)
    if point.data_type is DataType.STRING:
        return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()
    if point.data_type is DataType.BOOL:
        return registers[0] != 0
    (number,) = struct.unpack(_STRUCT[point.data_type], raw)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{point.key}: register value is not a finite number")
    if point.data_type is DataType.FLOAT32:
        number = _shortest_float32(number, raw)
    return _scaled(point, number)


def _shortest_float32(number: float, raw: bytes) -> float:
    """The shortest decimal that is the same float32: 230.1, not 230.10000610351562.

    Nothing is lost: the result packs to exactly the bytes the device sent.
    """
    for digits in range(6, 10):
        candidate = float(f"{number:.{digits}g}")
        if struct.pack(">f", candidate) == raw:
            return candidate
    return number


def decode_bit(point: Point, bit: bool) -> bool:
    """Coils and discrete inputs are plain booleans."""
    return bool(bit)


def encode_value(point: Point, value: float | int | bool) -> list[int]:
    """Encode an engineering value into the registers of ``point``.

    Raises EncodeError when the value does not fit the point's data type.
    """
    if point.data_type is DataType.STRING:
        raise EncodeError(f"{point.key}: string points cannot be written")
    if point.data_type is DataType.BOOL:
        return [1 if value else 0]
    raw_float = (float(value) - point.offset) / point.scale
    fmt = _STRUCT[point.data_type]
    if point.data_type in (DataType.FLOAT32, DataType.FLOAT64):
        raw: float | int = raw_float
    else:
        raw = round(raw_float)
    try:
        packed = struct.pack(fmt, raw)
    except struct.error as err:
        raise EncodeError(f"{point.key}: {value} does not fit {point.data_type.value}") from err
    return _bytes_to_registers(point, packed)

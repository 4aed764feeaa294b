"""Decoding is checked against the server library's own register converters."""

from __future__ import annotations

import itertools

from pymodbus.client.mixin import ModbusClientMixin
import pytest

from custom_components.eaio.bms.codec import EncodeError, decode_registers, encode_value
from custom_components.eaio.bms.points import DataType, Order, Point, RegisterType
from eaio_sim.modbus import encode as reference_encode

CASES = [
    (DataType.INT16, -1234),
    (DataType.INT16, 32767),
    (DataType.UINT16, 65535),
    (DataType.INT32, -2_000_000_000),
    (DataType.UINT32, 4_000_000_000),
    (DataType.FLOAT32, 230.5),
    (DataType.FLOAT64, -12345.678901234),
]


def _point(data_type: DataType, word: Order, byte: Order, **kw: object) -> Point:
    return Point("p", "P", RegisterType.HOLDING, 0, data_type, word, byte, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("data_type", "value"), CASES)
@pytest.mark.parametrize(("word", "byte"), list(itertools.product(Order, Order)))
def test_decode_matches_reference(data_type: DataType, value: float, word: Order, byte: Order) -> None:
    point = _point(data_type, word, byte)
    registers = reference_encode(point, value)
    assert decode_registers(point, registers) == pytest.approx(value, rel=1e-7)
    assert encode_value(point, value) == registers


def test_word_order_is_what_the_library_calls_little() -> None:
    point = _point(DataType.UINT32, Order.LITTLE, Order.BIG)
    registers = ModbusClientMixin.convert_to_registers(
        0x12345678, ModbusClientMixin.DATATYPE.UINT32, word_order="little"
    )
    assert registers == [0x5678, 0x1234]
    assert decode_registers(point, registers) == 0x12345678


def test_scale_offset_and_precision() -> None:
    point = _point(DataType.INT16, Order.BIG, Order.BIG, scale=0.1, offset=-40.0)
    assert decode_registers(point, [652]) == pytest.approx(25.2)
    assert encode_value(point, 25.2) == [652]
    # Display precision is Home Assistant's business: decoding keeps every digit.
    hundredths = _point(DataType.UINT16, Order.BIG, Order.BIG, scale=0.01, precision=1)
    assert decode_registers(hundredths, [12345]) == 123.45
    exact = _point(DataType.FLOAT64, Order.BIG, Order.BIG)
    assert decode_registers(exact, reference_encode(exact, 123456789.123456789)) == 123456789.123456789


def test_string_and_bool() -> None:
    text = _point(DataType.STRING, Order.BIG, Order.BIG, length=4)
    assert decode_registers(text, reference_encode(text, "AB12")) == "AB12"
    assert decode_registers(text, [0x4142, 0, 0, 0]) == "AB"
    flag = _point(DataType.BOOL, Order.BIG, Order.BIG)
    assert decode_registers(flag, [0]) is False
    assert decode_registers(flag, [7]) is True


def test_wrong_register_count_and_nan_are_errors() -> None:
    point = _point(DataType.FLOAT32, Order.BIG, Order.BIG)
    with pytest.raises(ValueError, match="expected 2 registers"):
        decode_registers(point, [1])
    with pytest.raises(ValueError, match="not a finite number"):
        decode_registers(point, [0x7FC0, 0])


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(EncodeError, match="does not fit int16"):
        encode_value(_point(DataType.INT16, Order.BIG, Order.BIG), 40000)
    with pytest.raises(EncodeError, match="cannot be written"):
        encode_value(_point(DataType.STRING, Order.BIG, Order.BIG, length=2), 1)


def test_float32_reads_as_its_shortest_decimal_without_loss() -> None:
    point = _point(DataType.FLOAT32, Order.BIG, Order.BIG)
    registers = reference_encode(point, 230.1)
    value = decode_registers(point, registers)
    assert value == 230.1  # not 230.10000610351562
    assert encode_value(point, value) == registers  # the very same float32

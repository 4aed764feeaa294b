"""The read planner: fewest requests within Modbus limits."""

from __future__ import annotations

from custom_components.eaio.bms.planner import (
    MAX_BITS,
    MAX_REGISTERS,
    plan_reads,
    single_point_blocks,
    split_block,
)
from custom_components.eaio.bms.points import DataType, Point, RegisterType


def _reg(
    key: str, address: int, data_type: DataType = DataType.UINT16, table: RegisterType = RegisterType.HOLDING
) -> Point:
    return Point(key, key, table, address, data_type)


def test_adjacent_and_small_gaps_merge_large_gaps_split() -> None:
    points = [_reg("a", 0), _reg("b", 1, DataType.FLOAT32), _reg("c", 10), _reg("d", 30)]
    blocks = plan_reads(points, max_gap=8)
    assert [(b.start, b.count, [p.key for p in b.points]) for b in blocks] == [
        (0, 11, ["a", "b", "c"]),
        (30, 1, ["d"]),
    ]
    assert [(b.start, b.count) for b in plan_reads(points, max_gap=0)] == [(0, 3), (10, 1), (30, 1)]


def test_tables_never_mix() -> None:
    points = [_reg("h", 0), _reg("i", 0, table=RegisterType.INPUT), _reg("h2", 1)]
    blocks = plan_reads(points)
    assert sorted((b.register_type.value, b.count) for b in blocks) == [("holding", 2), ("input", 1)]


def test_register_limit_is_respected_and_points_are_not_cut() -> None:
    points = [_reg(f"p{i}", i * 2, DataType.FLOAT32) for i in range(200)]  # 400 registers
    blocks = plan_reads(points, max_gap=0)
    assert all(b.count <= MAX_REGISTERS for b in blocks)
    assert len(blocks) == 4  # ceil(400 / 124): a float32 never straddles two requests
    covered = [p.key for b in blocks for p in b.points]
    assert covered == [p.key for p in points]
    for block in blocks:
        assert all(block.start <= p.address and p.end <= block.end for p in block.points)


def test_bit_limit() -> None:
    coils = [Point(f"c{i}", "c", RegisterType.COIL, i * 10, DataType.BOOL) for i in range(500)]
    blocks = plan_reads(coils, max_gap=1)  # bit tables bridge 16x the register gap
    assert all(b.count <= MAX_BITS for b in blocks)
    assert len(blocks) == 3


def test_split_block_halves_points_and_trims_range() -> None:
    points = [_reg("a", 0), _reg("b", 5), _reg("c", 40), _reg("d", 41)]
    (block,) = plan_reads(points, max_gap=50)
    first, second = split_block(block)
    assert (first.start, first.count, second.start, second.count) == (0, 6, 40, 2)
    assert split_block(plan_reads([_reg("x", 3)])[0])[0].count == 1


def test_single_point_baseline() -> None:
    points = [_reg("a", 0), _reg("b", 1, DataType.INT32)]
    assert [(b.start, b.count) for b in single_point_blocks(points)] == [(0, 1), (1, 2)]

"""Read planning: coalesce points into the fewest Modbus requests within protocol limits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .points import Point, RegisterType

# Modbus application protocol limits per request (function codes 1-4).
MAX_REGISTERS = 125
MAX_BITS = 2000
# A request costs a round trip; a bridged register costs two bytes. Bridging 32 unused
# registers is cheaper than a second request on every link measured (benchmarks/README.md),
# and a device that refuses the bridged range costs one split, remembered in the plan.
DEFAULT_MAX_GAP = 32


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: a contiguous address range of one table and the points inside."""

    register_type: RegisterType
    start: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        return self.start + self.count


def _limit(register_type: RegisterType) -> int:
    return MAX_BITS if register_type.is_bit else MAX_REGISTERS


def plan_reads(points: Iterable[Point], max_gap: int = DEFAULT_MAX_GAP) -> list[ReadBlock]:
    """Group points into blocks.

    Points of one table are merged while the block stays within the request limit and the
    unread gap between neighbours is at most ``max_gap`` registers (bits are cheap: a bit
    table bridges up to 16 times the gap). ``max_gap=0`` still merges adjacent points.
    """
    by_table: dict[RegisterType, list[Point]] = {}
    for point in points:
        by_table.setdefault(point.register_type, []).append(point)
    blocks: list[ReadBlock] = []
    for register_type in RegisterType:
        table = sorted(by_table.get(register_type, ()), key=lambda p: (p.address, p.end))
        if not table:
            continue
        limit = _limit(register_type)
        gap = max_gap * 16 if register_type.is_bit else max_gap
        current: list[Point] = [table[0]]
        start, end = table[0].address, table[0].end
        for point in table[1:]:
            new_end = max(end, point.end)
            if point.address - end <= gap and new_end - start <= limit:
                current.append(point)
                end = new_end
                continue
            blocks.append(ReadBlock(register_type, start, end - start, tuple(current)))
            current, start, end = [point], point.address, point.end
        blocks.append(ReadBlock(register_type, start, end - start, tuple(current)))
    return blocks


def split_block(block: ReadBlock) -> list[ReadBlock]:
    """Split a refused block in two halves of its points, each trimmed to what it needs.

    Used when a device answers an exception for a block: the halves are retried so that only
    the points that really fail are lost. A single-point block cannot be split.
    """
    if len(block.points) < 2:
        return [block]
    middle = len(block.points) // 2
    halves = (block.points[:middle], block.points[middle:])
    result = []
    for half in halves:
        start = min(p.address for p in half)
        end = max(p.end for p in half)
        result.append(ReadBlock(block.register_type, start, end - start, half))
    return result


def single_point_blocks(points: Iterable[Point]) -> list[ReadBlock]:
    """One request per point: how a per-entity poller reads (the benchmark's baseline)."""
    return [
        ReadBlock(p.register_type, p.address, p.register_count, (p,))
        for p in sorted(points, key=lambda p: (p.register_type.value, p.address))
    ]

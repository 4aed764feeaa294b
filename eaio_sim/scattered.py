"""A reproducible register map scattered the way real devices lay theirs out, with known values.

``python -m eaio_sim.scattered --points 1000 --seed 2026`` serves it on loopback. The benchmark
builds the same map from the same seed in its own process, so it knows what every point must
decode to without asking the server.

Points come in groups (one block of related values: adjacent, with a few reserved registers
between them), groups lie far apart across each table. Registers inside a group's span are
served (reserved ones as 0); registers between groups answer "illegal data address", as on
most devices. Bit tables are served as one contiguous range (the server library keeps bits
in a single block per table), so there the space between groups reads as False.

Unlike ModbusBuilding, values are encoded once and served without a per-request action: the
server's work per request does not grow with the number of points, so a poll's time measures
the client and the protocol, not the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, replace
import logging
import random
import signal
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType, SimData, SimDevice

from custom_components.eaio.bms.points import REGISTER_WIDTH, DataType, Order, RegisterType
from custom_components.eaio.bms.profiles import Profile, parse_profile

from .modbus import encode

DEFAULT_SEED = 2026
# Each table's groups are spread over addresses 0..ADDRESS_SPACE.
ADDRESS_SPACE = 20_000
# Wider than the largest gap the benchmark lets a plan bridge (32), so no plan reads across
# the unmapped space between two register groups.
MIN_GROUP_SEPARATION = 64

# Groups per table (weights): most points are registers, a few are coils and discrete inputs.
_TABLE_WEIGHTS = {
    RegisterType.HOLDING: 4,
    RegisterType.INPUT: 4,
    RegisterType.COIL: 1,
    RegisterType.DISCRETE: 1,
}
# Points per group: a block of measurements or settings; bit blocks are smaller.
_REGISTER_GROUP_SIZE = (4, 32)
_BIT_GROUP_SIZE = (2, 12)
# A block of measurements tends to share one type: each group picks a dominant type, and
# _OWN_TYPE of its points use it (the rest any type).
_TYPE_WEIGHTS = {
    DataType.INT16: 20, DataType.UINT16: 25, DataType.INT32: 10,
    DataType.UINT32: 15, DataType.FLOAT32: 22, DataType.FLOAT64: 8,
}  # fmt: skip
_OWN_TYPE = 0.7
# Unused addresses before the next point of a group, as (probability, least, most): mostly
# adjacent, some reserved registers, a few holes wider than the default gap of 8.
_REGISTER_GAPS = ((0.65, 0, 0), (0.20, 1, 2), (0.10, 3, 8), (0.05, 9, 16))
_BIT_GAPS = ((0.6, 0, 0), (0.3, 1, 7), (0.1, 8, 40))
# Share of register groups that send the low word first, or swap the bytes of each word.
_LITTLE_WORD_ORDER = 0.25
_LITTLE_BYTE_ORDER = 0.05
# Share of integer points with a decimal scale, and the scales used (with their decimals).
_SCALED = 0.3
_SCALES: tuple[tuple[float, int], ...] = ((0.1, 1), (0.01, 2))
_INT_RANGE = {
    DataType.INT16: (-(2**15), 2**15 - 1), DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1), DataType.UINT32: (0, 2**32 - 1),
}  # fmt: skip

Raw = int | float | bool


@dataclass(frozen=True, slots=True)
class ScatteredMap:
    """The points, what the server encodes for each (before scale), and what must decode."""

    profile: Profile
    raw: dict[str, Raw]
    expected: dict[str, Raw]


@dataclass(slots=True)
class _Spec:
    """One point of a group before placement: its offset in the group and its value."""

    offset: int
    fields: dict[str, Any]
    raw: Raw
    expected: Raw


def _pick_gap(rng: random.Random, table: RegisterType) -> int:
    roll = rng.random()
    for probability, least, most in _BIT_GAPS if table.is_bit else _REGISTER_GAPS:
        if roll < probability:
            return rng.randint(least, most)
        roll -= probability
    return 0


def _value(rng: random.Random, data_type: DataType) -> tuple[Raw, float]:
    """A raw value and the scale to apply (1.0: none).

    float32 values are exactly representable, so decoding must give back the same float32;
    float64 values must come back unchanged.
    """
    if data_type is DataType.FLOAT32:
        return rng.randint(-(2**23), 2**23) / 2 ** rng.randint(0, 4), 1.0
    if data_type is DataType.FLOAT64:
        return rng.randint(-(10**11), 10**11) / 1000, 1.0
    least, most = _INT_RANGE[data_type]
    scale = rng.choice(_SCALES)[0] if rng.random() < _SCALED else 1.0
    return rng.randint(least, most), scale


def _expected(raw: Raw, scale: float) -> Raw:
    """The engineering value, computed by division so it does not repeat the codec's sum."""
    if scale == 1.0:
        return raw
    decimals = dict(_SCALES)[scale]
    return raw / 10.0**decimals


def _group(rng: random.Random, table: RegisterType, size: int) -> tuple[list[_Spec], int]:
    """One group of ``size`` points with offsets from its start, and its span."""
    specs: list[_Spec] = []
    if table.is_bit:
        offset = 0
        for _ in range(size):
            bit = rng.random() < 0.5
            specs.append(_Spec(offset, {}, bit, bit))
            offset += 1 + _pick_gap(rng, table)
        return specs, specs[-1].offset + 1
    types, weights = list(_TYPE_WEIGHTS), list(_TYPE_WEIGHTS.values())
    own = rng.choices(types, weights)[0]
    orders = {
        "word_order": (Order.LITTLE if rng.random() < _LITTLE_WORD_ORDER else Order.BIG).value,
        "byte_order": (Order.LITTLE if rng.random() < _LITTLE_BYTE_ORDER else Order.BIG).value,
    }
    offset = 0
    end = 0
    for _ in range(size):
        data_type = own if rng.random() < _OWN_TYPE else rng.choices(types, weights)[0]
        raw, scale = _value(rng, data_type)
        fields = {"type": data_type.value, "scale": scale, **orders}
        specs.append(_Spec(offset, fields, raw, _expected(raw, scale)))
        end = offset + REGISTER_WIDTH[data_type]
        offset = end + _pick_gap(rng, table)
    return specs, end


def _place(rng: random.Random, spans: list[int]) -> list[int]:
    """Start addresses for groups of these spans, in order, spread over the address space.

    Random cuts of the slack keep at least MIN_GROUP_SEPARATION between groups and the last
    group inside ADDRESS_SPACE.
    """
    slack = ADDRESS_SPACE - sum(spans) - MIN_GROUP_SEPARATION * (len(spans) - 1)
    if slack < 0:
        raise ValueError(f"{sum(spans)} addresses do not fit in {ADDRESS_SPACE} with gaps between groups")
    cuts = sorted(rng.randint(0, slack) for _ in spans)
    starts = []
    used = 0
    for index, (span, cut) in enumerate(zip(spans, cuts, strict=True)):
        starts.append(cut + used + index * MIN_GROUP_SEPARATION)
        used += span
    return starts


def generate(count: int, seed: int = DEFAULT_SEED) -> ScatteredMap:
    """``count`` points in groups over the four tables; the same seed gives the same map."""
    if count < 1:
        raise ValueError("at least one point")
    rng = random.Random(seed)
    tables, table_weights = list(_TABLE_WEIGHTS), list(_TABLE_WEIGHTS.values())
    groups: dict[RegisterType, list[tuple[list[_Spec], int]]] = {table: [] for table in tables}
    remaining, made = count, 0
    while remaining:
        # The first groups visit every table once, so each table has points to serve.
        table = tables[made] if made < len(tables) else rng.choices(tables, table_weights)[0]
        least, most = _BIT_GROUP_SIZE if table.is_bit else _REGISTER_GROUP_SIZE
        size = min(remaining, rng.randint(least, most))
        groups[table].append(_group(rng, table, size))
        remaining -= size
        made += 1
    points: list[dict[str, Any]] = []
    raw: dict[str, Raw] = {}
    expected: dict[str, Raw] = {}
    for table, table_groups in groups.items():
        starts = _place(rng, [span for _, span in table_groups])
        for (specs, _), start in zip(table_groups, starts, strict=True):
            for spec in specs:
                key = f"{table.value}_{start + spec.offset}"
                points.append(
                    {"key": key, "register": table.value, "address": start + spec.offset, **spec.fields}
                )
                raw[key] = spec.raw
                expected[key] = spec.expected
    data = {"name": f"Scattered map, {count} points, seed {seed}", "points": points}
    profile = parse_profile(data, f"scattered seed {seed}", f"scattered_{count}")
    return ScatteredMap(profile, raw, expected)


def _register_simdata(scattered: ScatteredMap, table: RegisterType) -> list[SimData]:
    """One served range per group, reserved registers inside it as 0; the rest unmapped."""
    points = sorted(
        (p for p in scattered.profile.points if p.register_type is table), key=lambda p: p.address
    )
    ranges: list[tuple[int, list[int]]] = []
    for point in points:
        # Encoded by the server library's converters, not by the codec under test.
        words = encode(replace(point, scale=1.0, offset=0.0), scattered.raw[point.key])
        if ranges and point.address - (ranges[-1][0] + len(ranges[-1][1])) < MIN_GROUP_SEPARATION:
            start, served = ranges[-1]
            served.extend([0] * (point.address - start - len(served)))
            served.extend(words)
        else:
            ranges.append((point.address, list(words)))
    simdata = [SimData(start, values=served, datatype=SimType.UINT16) for start, served in ranges]
    return simdata or [SimData(0, datatype=SimType.INVALID)]


def _bit_simdata(scattered: ScatteredMap, table: RegisterType) -> list[SimData]:
    points = [p for p in scattered.profile.points if p.register_type is table]
    if not points:
        return [SimData(0, values=[False], datatype=SimType.BITS)]
    start = min(p.address for p in points)
    bits = [False] * (max(p.address for p in points) - start + 1)
    for point in points:
        bits[point.address - start] = bool(scattered.raw[point.key])
    return [SimData(start, values=bits, datatype=SimType.BITS)]


def sim_device(scattered: ScatteredMap, unit_id: int = 1) -> SimDevice:
    """The map as a server device (separate tables, bits addressed one by one)."""
    return SimDevice(
        unit_id,
        simdata=(
            _bit_simdata(scattered, RegisterType.COIL),
            _bit_simdata(scattered, RegisterType.DISCRETE),
            _register_simdata(scattered, RegisterType.HOLDING),
            _register_simdata(scattered, RegisterType.INPUT),
        ),
    )


async def _serve(host: str, port: int, device: SimDevice) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ModbusTcpServer([device], address=(host, port))
    await server.serve_forever(background=True)
    transport = server.transport
    assert transport is not None
    bound = int(transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    # The benchmark waits for this line (the same one the building simulator prints).
    print(f"READY modbus {host} {bound}", flush=True)
    await stop.wait()
    await server.shutdown()  # type: ignore[no-untyped-call]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m eaio_sim.scattered", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--unit", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    device = sim_device(generate(args.points, args.seed), args.unit)
    asyncio.run(_serve(args.host, args.port, device))


if __name__ == "__main__":
    main()

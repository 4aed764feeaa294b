"""Poll cycle benchmark: coalesced read plans against one request per point, on a real server.

From the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/modbus_poll.py [--points 100 1000] [--polls 30]

For each point count, a pymodbus server in its own process (``python -m eaio_sim.scattered``)
serves a reproducible scattered map with known values; this process polls it with
``ModbusDeviceClient.read`` using each plan and checks every decoded value. Prints a
Markdown table and a verdict against the target: coalesced reads need at most a tenth of the
requests of per-point reads, with identical values. Exit status: 0 pass, 1 a value differs or
a point failed, 3 the values are right but the default plan misses the request target.
See benchmarks/README.md for the recorded results.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
import itertools
import math
import os
from pathlib import Path
import platform
import select
import statistics
import struct
import subprocess
import sys
import time

from custom_components.eaio.bms.client import ModbusDeviceClient, ReadResult
from custom_components.eaio.bms.codec import Value
from custom_components.eaio.bms.planner import DEFAULT_MAX_GAP, ReadBlock, plan_reads, single_point_blocks
from custom_components.eaio.bms.points import DataType, RegisterType
from eaio_sim.scattered import DEFAULT_SEED, MIN_GROUP_SEPARATION, ScatteredMap, generate

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
UNIT_ID = 1
DEFAULT_GAP = DEFAULT_MAX_GAP
GAPS = tuple(sorted({0, 8, DEFAULT_GAP}))
TARGET_RATIO = 10  # coalesced requests * 10 <= per-point requests
EXIT_MISMATCH = 1
EXIT_TARGET_MISSED = 3


@dataclass(frozen=True, slots=True)
class Config:
    """One way to read the map: a plan, and what the report says about it."""

    name: str
    plan: list[ReadBlock]
    baseline: bool = False
    default: bool = False


@dataclass(slots=True)
class Samples:
    """What the measured polls of one configuration gave."""

    seconds: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    registers: int = 0
    bits: int = 0
    wrong_served: int = 0  # readings that differ from the served value (or are missing)
    wrong_reference: int = 0  # readings that differ from the per-point read of the same round


@contextmanager
def server_process(points: int, seed: int, timeout: float = 30.0) -> Iterator[tuple[int, int]]:
    """Serve the scattered map in a child process; yields (pid, port).

    A separate process keeps the server off this event loop and off this process' CPU time,
    so the client's poll time and CPU are its own.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "eaio_sim.scattered", "--host", HOST, "--points", str(points),
               "--seed", str(seed), "--unit", str(UNIT_ID)]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        yield proc.pid, _wait_ready(proc, timeout)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> int:
    """The port from the server's READY line."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        line = proc.stdout.readline() if ready else ""
        if line.startswith("READY"):
            return int(line.split()[-1])
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
    raise TimeoutError("server did not start")


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of ``pid`` (ns-resolution scheduler counters; Linux only)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        total_ns = 0
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total_ns += int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total_ns / 1e9


def configurations(scattered: ScatteredMap) -> list[Config]:
    """Per-point first: each round's coalesced reads are compared with its values."""
    points = scattered.profile.points
    configs = [Config("one request per point", single_point_blocks(points), baseline=True)]
    for gap in GAPS:
        name = f"coalesced, max_gap {gap}" + (" (default)" if gap == DEFAULT_GAP else "")
        configs.append(Config(name, plan_reads(points, gap), default=gap == DEFAULT_GAP))
    return configs


def describe(scattered: ScatteredMap) -> str:
    """Points and groups per table: a plan that never reads unmapped space needs a request per group."""
    parts = []
    for table in RegisterType:
        points = sorted(
            (p for p in scattered.profile.points if p.register_type is table), key=lambda p: p.address
        )
        groups = len(points) and 1 + sum(
            after.address - before.end >= MIN_GROUP_SEPARATION for before, after in itertools.pairwise(points)
        )
        parts.append(f"{len(points)} {table.value} in {groups} groups")
    highest = max(p.end for p in scattered.profile.points) - 1
    return f"{len(scattered.profile.points)} points: {', '.join(parts)}; highest address {highest}"


def _identical(got: Value | None, want: Value, data_type: DataType) -> bool:
    # Same type too: an int where a float is due (or True for 1) is a decoding difference.
    if type(got) is not type(want):
        return False
    if data_type is DataType.FLOAT32:
        # The codec gives a float32 as its shortest decimal (230.1, not 230.10000610351562):
        # identical means the very same float32 bits.
        return struct.pack(">f", got) == struct.pack(">f", want)
    return got == want


def check(
    result: ReadResult, scattered: ScatteredMap, reference: dict[str, Value] | None, samples: Samples
) -> None:
    """Count readings that differ from the served values and from the per-point read."""
    types = {p.key: p.data_type for p in scattered.profile.points}
    for key, want in scattered.expected.items():
        got = result.values.get(key)
        samples.wrong_served += not _identical(got, want, types[key])
        if reference is not None:
            samples.wrong_reference += key not in reference or not _identical(got, reference[key], types[key])


async def poll_rounds(
    client: ModbusDeviceClient,
    configs: Sequence[Config],
    scattered: ScatteredMap,
    server_pid: int,
    polls: int,
    warmup: int,
) -> dict[str, Samples]:
    """Poll every configuration once per round, so drift in the machine hits them alike."""
    samples = {config.name: Samples() for config in configs}
    for round_index in range(warmup + polls):
        reference: dict[str, Value] | None = None
        for config in configs:
            measured = samples[config.name]
            # Reading the server's counters stays outside the client's clocks.
            server_before = server_cpu_seconds(server_pid)
            cpu_before, started = time.process_time(), time.perf_counter()
            result = await client.read(config.plan)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
            server_after = server_cpu_seconds(server_pid)
            # Values are checked on warm-up polls too: a wrong value is wrong whenever it shows.
            check(result, scattered, None if config.baseline else reference, measured)
            if config.baseline:
                reference = result.values
            if round_index < warmup:
                continue
            measured.seconds.append(elapsed)
            measured.client_cpu.append(cpu)
            if server_before is not None and server_after is not None:
                measured.server_cpu.append(server_after - server_before)
            measured.requests.append(result.requests)
            # result.plan includes any splits after a refused block: that is what was read.
            measured.registers = sum(b.count for b in result.plan if not b.register_type.is_bit)
            measured.bits = sum(b.count for b in result.plan if b.register_type.is_bit)
    return samples


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with 30 polls: the second slowest)."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Row:
    points: int
    config: Config
    samples: Samples
    baseline_requests: int
    needed_registers: int
    needed_bits: int

    @property
    def requests(self) -> int:
        return max(self.samples.requests)

    @property
    def meets_target(self) -> bool:
        return self.requests * TARGET_RATIO <= self.baseline_requests

    def cells(self) -> list[str]:
        s = self.samples
        ms = [v * 1000 for v in s.seconds]
        low, high = min(s.requests), max(s.requests)
        server = f"{statistics.mean(s.server_cpu) * 1000:.2f}" if s.server_cpu else "n/a"
        return [
            str(self.points),
            self.config.name,
            str(low) if low == high else f"{low}-{high}",
            f"1/{self.baseline_requests / self.requests:.1f}",
            f"{statistics.median(ms):.2f}",
            f"{p95(ms):.2f}",
            f"{statistics.mean(s.client_cpu) * 1000:.2f}",
            server,
            f"{s.registers} ({_overhead(s.registers, self.needed_registers)})",
            f"{s.bits} ({_overhead(s.bits, self.needed_bits)})",
            str(s.wrong_served),
            "-" if self.config.baseline else str(s.wrong_reference),
            "-" if self.config.baseline else ("PASS" if self.meets_target else "FAIL"),
        ]


HEADER = ["points", "plan", "requests/poll", "vs per-point", "median ms", "p95 ms", "client CPU ms/poll",
          "server CPU ms/poll", "registers read (gap overhead)", "bits read (gap overhead)",
          "values != served", "values != per-point", "<= 1/10 requests"]  # fmt: skip


def _overhead(read: int, needed: int) -> str:
    return f"+{(read - needed) / needed * 100:.0f}%" if needed else "-"


def markdown(rows: Sequence[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


async def bench_map(points: int, seed: int, polls: int, warmup: int) -> list[Row]:
    scattered = generate(points, seed)
    print(describe(scattered))
    configs = configurations(scattered)
    register_points = [p for p in scattered.profile.points if not p.register_type.is_bit]
    needed_registers = sum(p.register_count for p in register_points)
    needed_bits = len(scattered.profile.points) - len(register_points)
    with server_process(points, seed) as (pid, port):
        client = ModbusDeviceClient(HOST, port, UNIT_ID)
        try:
            samples = await poll_rounds(client, configs, scattered, pid, polls, warmup)
        finally:
            await client.close()
    baseline = max(samples[configs[0].name].requests)
    return [Row(points, c, samples[c.name], baseline, needed_registers, needed_bits) for c in configs]


def verdict(rows: Sequence[Row]) -> int:
    """Print the verdict against the target; return the exit status."""
    print(f"\nTarget: coalesced reads need at most 1/{TARGET_RATIO} of the per-point requests, "
          "with identical decoded values.")  # fmt: skip
    target_met = True
    for row in rows:
        if row.config.default:
            ok = row.meets_target
            target_met &= ok
            print(f"  {row.points} points, {row.config.name}: {row.requests} requests vs "
                  f"{row.baseline_requests} per point (1/{row.baseline_requests / row.requests:.1f}): "
                  f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    wrong_served = sum(row.samples.wrong_served for row in rows)
    wrong_reference = sum(row.samples.wrong_reference for row in rows)
    values_ok = wrong_served == 0 and wrong_reference == 0
    print(f"  values: {wrong_served} readings differ from the served values, {wrong_reference} "
          f"coalesced readings differ from the per-point read: {'PASS' if values_ok else 'FAIL'}")  # fmt: skip
    passed = target_met and values_ok
    print(f"Overall: {'PASS' if passed else 'FAIL'}")
    if not values_ok:
        return EXIT_MISMATCH
    return 0 if target_met else EXIT_TARGET_MISSED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--polls", type=int, default=30, help="measured polls per plan")
    parser.add_argument("--warmup", type=int, default=3, help="polls per plan before measuring")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the scattered map")
    args = parser.parse_args()
    if args.polls < 1 or args.warmup < 0 or min(args.points) < 1:
        parser.error("--points and --polls must be positive, --warmup not negative")
    print(f"Python {platform.python_version()}, pymodbus {version('pymodbus')}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}; seed {args.seed}, {args.warmup} warm-up + {args.polls} "
          "measured polls per plan, plans interleaved round by round")  # fmt: skip
    rows: list[Row] = []
    for points in args.points:
        rows += asyncio.run(bench_map(points, args.seed, args.polls, args.warmup))
    print()
    print(markdown([HEADER, *(row.cells() for row in rows)]))
    return verdict(rows)


if __name__ == "__main__":
    sys.exit(main())

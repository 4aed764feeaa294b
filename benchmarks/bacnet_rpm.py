"""BACnet read cycle benchmark: ReadPropertyMultiple batches against one ReadProperty per object.

From the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/bacnet_rpm.py [--objects 200] [--cycles 20]

A simulated BACnet/IP device (``python -m eaio_sim.bacnet --static --objects N``) runs in
its own process on loopback and serves N analog inputs with known values; this process
reads all of their present values with ``BacnetClient.read_values`` once per cycle, with
each batch size (1 = one ReadProperty per object), and checks every value. A second
device refuses ReadPropertyMultiple, to show what the fallback costs. Prints a Markdown
table and a verdict: the default batch (20) needs at most a tenth of the requests of
per-object reads, with identical values. Exit status: 0 pass, 1 a value differs or an
object failed, 3 values right but the request target missed. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
import math
import os
import platform
import statistics
import sys
import time

from custom_components.eaio.bms.bacnet import DEFAULT_BATCH_SIZE, BacnetClient, ObjectId, Value
from eaio_sim.bacnet import EXTRA_BASE, SimProcess, extra_value, free_udp_port

HOST = "127.0.0.1"
BATCHES = (1, 20, 50, 100)
TARGET_RATIO = 10
EXIT_MISMATCH = 1
EXIT_TARGET_MISSED = 3


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    batch_size: int
    refuses_rpm: bool = False


@dataclass(slots=True)
class Samples:
    seconds: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    wrong: int = 0  # values that differ from the served ones, or objects that failed


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of ``pid`` (scheduler counters; Linux only)."""
    try:
        total_ns = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total_ns += int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total_ns / 1e9


def p95(values: Sequence[float]) -> float:
    """Nearest rank: with 20 samples the 19th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def configurations() -> list[Config]:
    configs = [Config("ReadProperty per object", 1)]
    configs += [
        Config(
            f"ReadPropertyMultiple, batch {size}" + (" (default)" if size == DEFAULT_BATCH_SIZE else ""), size
        )
        for size in BATCHES
        if size > 1
    ]
    configs.append(
        Config(f"device refusing RPM, batch {DEFAULT_BATCH_SIZE}", DEFAULT_BATCH_SIZE, refuses_rpm=True)
    )
    return configs


async def measure(
    client: BacnetClient, sim: SimProcess, config: Config, ids: list[ObjectId], samples: Samples | None
) -> None:
    assert sim.proc is not None
    expected: dict[ObjectId, Value] = {oid: extra_value(oid[1] - EXTRA_BASE) for oid in ids}
    server_before = server_cpu_seconds(sim.proc.pid)
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = await client.read_values(sim.address, ids, batch_size=config.batch_size)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    server_after = server_cpu_seconds(sim.proc.pid)
    if samples is None:
        return
    samples.seconds.append(elapsed)
    samples.client_cpu.append(cpu)
    if server_before is not None and server_after is not None:
        samples.server_cpu.append(server_after - server_before)
    samples.requests.append(result.requests)
    samples.wrong += len(result.errors) + sum(
        result.values.get(oid) != value for oid, value in expected.items()
    )


async def bench(objects: int, cycles: int, warmup: int) -> dict[Config, Samples]:
    ids: list[ObjectId] = [("analogInput", EXTRA_BASE + i) for i in range(objects)]
    configs = configurations()
    results = {config: Samples() for config in configs}
    sim = SimProcess("--static", "--objects", str(objects)).start()
    no_rpm = SimProcess("--static", "--no-rpm", "--objects", str(objects), instance=1002).start()
    client = BacnetClient(f"{HOST}:{free_udp_port(HOST)}", timeout=5.0)
    await client.start()
    try:
        for cycle in range(warmup + cycles):
            # Interleaved round by round: any drift of the machine hits every config alike.
            for config in configs:
                target = no_rpm if config.refuses_rpm else sim
                await measure(client, target, config, ids, results[config] if cycle >= warmup else None)
    finally:
        await client.stop()
        sim.stop()
        no_rpm.stop()
    return results


HEADER = ["objects", "read", "requests/cycle", "vs per-object", "median ms", "p95 ms",
          "client CPU ms/cycle", "server CPU ms/cycle", "values wrong"]  # fmt: skip


def rows(objects: int, results: dict[Config, Samples]) -> list[list[str]]:
    baseline = statistics.median(next(iter(results.values())).requests)
    out = []
    for config, samples in results.items():
        requests = statistics.median(samples.requests)
        server = f"{statistics.mean(samples.server_cpu) * 1000:.2f}" if samples.server_cpu else "-"
        out.append([
            str(objects), config.name, f"{requests:g}", f"1/{baseline / requests:.1f}",
            f"{statistics.median(samples.seconds) * 1000:.2f}", f"{p95(samples.seconds) * 1000:.2f}",
            f"{statistics.mean(samples.client_cpu) * 1000:.2f}", server, str(samples.wrong),
        ])  # fmt: skip
    return out


def markdown(table: Sequence[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(results: dict[Config, Samples]) -> int:
    configs = list(results)
    baseline = statistics.median(results[configs[0]].requests)
    default = next(c for c in configs if c.batch_size == DEFAULT_BATCH_SIZE and not c.refuses_rpm)
    requests = statistics.median(results[default].requests)
    target_met = requests * TARGET_RATIO <= baseline
    wrong = sum(samples.wrong for samples in results.values())
    print(f"Target: batch {DEFAULT_BATCH_SIZE} needs at most 1/{TARGET_RATIO} of the per-object requests, "
          "with identical values.")  # fmt: skip
    print(f"  {requests:g} requests vs {baseline:g} per object: {'PASS' if target_met else 'FAIL'}")
    print(
        f"  values: {wrong} readings differ from the served values or failed: {'PASS' if not wrong else 'FAIL'}"
    )
    print(f"Overall: {'PASS' if target_met and not wrong else 'FAIL'}")
    if wrong:
        return EXIT_MISMATCH
    return 0 if target_met else EXIT_TARGET_MISSED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=20, help="measured cycles per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="cycles per configuration before measuring")
    args = parser.parse_args()
    if args.objects < 1 or args.cycles < 1 or args.warmup < 0:
        parser.error("--objects and --cycles must be positive, --warmup not negative")
    print(f"Python {platform.python_version()}, bacpypes3 {version('bacpypes3')}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}; {args.objects} objects, {args.warmup} warm-up + {args.cycles} "
          "measured cycles per configuration, interleaved cycle by cycle")  # fmt: skip
    results = asyncio.run(bench(args.objects, args.cycles, args.warmup))
    print()
    print(markdown([HEADER, *rows(args.objects, results)]))
    print()
    return verdict(results)


if __name__ == "__main__":
    sys.exit(main())

"""Field-bus faults: how long a poll takes while a device misbehaves, and how soon it recovers.

From the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/fault_suite.py [--timeout 3] [--gateway-delay 1]

Real peers on loopback: a pymodbus server that misbehaves on demand (tests/bms/fault_modbus.py,
serving the HVAC unit profile: 15 points in 4 planned requests) and the simulated BACnet
controller (eaio_sim.bacnet). The protocol library is driven as the integration drives it: one
poll after another at a 1 s interval, the client's reconnect back-off included. Per fault:
what one poll costs (requests, seconds), what reached the caller (values, refused readings),
and the time from the device answering normally again to the first complete poll.

The gateway row is measured twice: as EAIO reads now, and with the gateway exceptions treated
like any other exception (the read plan split down to single points, the behaviour the fault
report measured at 29 s a poll).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import logging
from pathlib import Path
import tempfile
import time

from custom_components.eaio.bms import client as modbus_client
from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.bms.client import DeviceUnreachable, ModbusDeviceClient, ReadResult
from custom_components.eaio.bms.planner import plan_reads
from custom_components.eaio.bms.plausibility import PlausibilityChecker, rule_for_point
from custom_components.eaio.bms.profiles import load_catalog
from eaio_sim.bacnet import SimProcess, free_udp_port
from tests.bms.fault_modbus import FaultDevice

PROFILE = load_catalog(None).profiles["hvac_unit"]
PLAN = plan_reads(PROFILE.points, PROFILE.max_gap)
POLL_INTERVAL = 1.0


@dataclass
class Row:
    fault: str
    poll_s: float
    requests: int
    values: int
    refused: int
    unavailable: bool
    recovery_s: float | None


async def poll(client: ModbusDeviceClient, plan: list) -> tuple[ReadResult | None, float]:  # type: ignore[type-arg]
    started = time.perf_counter()
    try:
        result = await client.read(plan)
    except DeviceUnreachable:
        result = None
    return result, time.perf_counter() - started


async def recover(read: Callable[[], Awaitable[bool]], limit: float = 120.0) -> float:
    """Seconds until a poll (one a second, as the integration polls) reads everything again."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if await read():
            return time.perf_counter() - started
        await asyncio.sleep(POLL_INTERVAL)
    return float("nan")


async def modbus_fault(workdir: Path, fault: str, request_timeout: float, gateway_delay: float) -> Row:
    device = FaultDevice(workdir)
    device.start()
    client = ModbusDeviceClient("127.0.0.1", device.port, 1, timeout=request_timeout)
    checker = PlausibilityChecker({p.key: r for p in PROFILE.points if (r := rule_for_point(p))})
    plan = list(PLAN)
    garbage: FaultDevice | None = None
    try:
        first, _ = await poll(client, plan)
        assert first is not None and not first.errors
        for key, value in first.values.items():
            checker.check(key, value)
        if fault == "killed":
            device.kill()
        elif fault == "silent":
            device.set(mode="silent")
        elif fault == "garbage":
            device.kill()
            garbage = FaultDevice(workdir, garbage=True)
            garbage.port = device.port
            garbage.start()
        elif fault == "exceptions":
            device.set(mode="exception", code=4)
        elif fault.startswith("gateway"):
            device.set(mode="exception", code=11, delay=gateway_delay)
        elif fault == "absurd":
            device.set(mode="absurd")
        await asyncio.sleep(POLL_INTERVAL)  # the next poll comes after the fault, as it would
        result, seconds = await poll(client, plan)
        refused = 0
        if result is not None:
            plan = result.plan
            refused = sum(1 for k, v in result.values.items() if checker.check(k, v) is not None)
        values = len(result.values) - refused if result is not None else 0
        row = Row(fault, seconds, result.requests if result else 0, values, refused, values == 0, None)
        if garbage is not None:
            garbage.kill()
        if fault in ("killed", "garbage"):
            device.start()
        device.set(mode="ok")
        back_at = time.perf_counter()

        async def complete() -> bool:
            nonlocal plan
            result, _ = await poll(client, plan)
            if result is None:
                return False
            plan = result.plan
            return not result.errors and all(checker.check(k, v) is None for k, v in result.values.items())

        await recover(complete)
        row.recovery_s = time.perf_counter() - back_at
        return row
    finally:
        await client.close()
        if garbage is not None:
            garbage.kill()
        device.kill()


async def bacnet_vanishes(request_timeout: float) -> Row:
    sim = SimProcess("--static").start()
    client = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=request_timeout)
    await client.start()
    objects = [("analogInput", 1), ("analogValue", 1), ("analogInput", 2)]
    try:
        assert not (await client.read_values(sim.address, objects)).errors
        sim.stop()
        await asyncio.sleep(POLL_INTERVAL)
        started = time.perf_counter()
        try:
            await client.read_values(sim.address, objects)
            unavailable = False
        except DeviceUnreachable:
            unavailable = True
        seconds = time.perf_counter() - started
        sim.start()
        back_at = time.perf_counter()

        async def complete() -> bool:
            try:
                return not (await client.read_values(sim.address, objects)).errors
            except DeviceUnreachable:
                return False

        await recover(complete)
        return Row("BACnet device vanishes", seconds, 0, 0, 0, unavailable, time.perf_counter() - back_at)
    finally:
        await client.stop()
        sim.stop()


async def run(args: argparse.Namespace) -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eaio-faults-") as tmp:
        workdir = Path(tmp)
        for fault in ("killed", "silent", "garbage", "exceptions", "absurd", "gateway"):
            rows.append(await modbus_fault(workdir, fault, args.timeout, args.gateway_delay))
        saved = modbus_client.GATEWAY_EXCEPTIONS
        modbus_client.GATEWAY_EXCEPTIONS = frozenset()  # as before: split like any other exception
        try:
            before = await modbus_fault(workdir, "gateway (split per point, as before)", args.timeout,
                                        args.gateway_delay)  # fmt: skip
        finally:
            modbus_client.GATEWAY_EXCEPTIONS = saved
        rows.append(before)
    rows.append(await bacnet_vanishes(args.timeout))
    print(f"\nRequest timeout {args.timeout:g} s, gateway answers after {args.gateway_delay:g} s; "
          f"HVAC unit profile, {len(PROFILE.points)} points in {len(PLAN)} planned requests.\n")  # fmt: skip
    print("| fault | one poll, s | requests | values passed | readings refused | device unavailable "
          "| back to a complete poll after, s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.fault} | {r.poll_s:.2f} | {r.requests} | {r.values} | {r.refused} "
              f"| {'yes' if r.unavailable else 'no'} | {r.recovery_s:.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/fault_suite.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3.0,
                        help="request timeout, s (default 3, the integration's)")  # fmt: skip
    parser.add_argument("--gateway-delay", type=float, default=1.0,
                        help="how long the gateway waits before answering exception 11, s (default 1)")  # fmt: skip
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its frame dumps are not the result
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

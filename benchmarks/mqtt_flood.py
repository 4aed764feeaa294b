"""MQTT flood: 20,000 messages at 1,000 msg/s, half of them invalid, into a real Home Assistant.

From the repository root, with the Python of a virtual environment that has Home Assistant, its
frontend package and paho-mqtt (the one ``./scripts/demo`` creates)::

    PYTHONPATH=. .venv/bin/python benchmarks/mqtt_flood.py [--count 20000] [--rate 1000]
        [--invalid-every 2] [--qos 1]

The same peers as ``mqtt_throughput.py`` (its setup is reused): mosquitto on loopback with a
password, a real Home Assistant process, Home Assistant's MQTT integration and an EAIO MQTT device
(profile ``single_values``). A paced publisher in its own process sends on ``<base>/power``: every
``--invalid-every``-th message is invalid (in turn: text, an infinite number, a value above the
point's range, JSON nested 10,000 deep, an empty payload), the others are strictly increasing
valid values.

Measured: valid values that did not become the entity's state (must be 0), invalid messages not
counted by the device's *Invalid payloads* sensor (must be 0), and the event loop's lag while the
flood runs: a second websocket sends ``ping`` every 20 ms and times the ``pong``; Home Assistant
answers it on its event loop, so the round trip bounds how long the loop was held. Target: p99
under 50 ms. Exit status: 0 pass, 1 target missed, 2 the setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
from pathlib import Path
import shutil
import sys
import tempfile
import time
from typing import Any

import aiohttp

from benchmarks.mqtt_throughput import (
    BASE_TOPIC,
    BROKER_PASSWORD,
    BROKER_USER,
    DRAIN_IDLE,
    POINT,
    POINT_MAX,
    TARGET_P99_MS,
    Bench,
    SetupError,
    Websocket,
    environment,
    percentile,
)
from eaio_sim.hass_process import LOOPBACK, HassProcessError, _die_with_parent
from eaio_sim.mqtt_bench import PASSWORD_ENV

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(__file__).resolve())
INVALID = ("warm", "1e999", str(POINT_MAX * 10), "[" * 10_000 + "]" * 10_000, "")
PING_EVERY = 0.02
EXIT_FAIL = 1
EXIT_ERROR = 2


def run_publisher(args: argparse.Namespace) -> None:
    """The paced publisher (its own process): due = start + i / rate, so overshoot never adds up."""
    from eaio_sim.mqtt_sensors import connect

    client = connect(LOOPBACK, args.port, BROKER_USER, os.environ.get(PASSWORD_ENV, ""),
                     name="eaio-flood", max_inflight=100_000)  # fmt: skip
    try:
        print("READY", flush=True)
        sys.stdin.readline()
        topic, value, invalid, infos = f"{BASE_TOPIC}/{POINT}", args.first, 0, []
        start = time.perf_counter() + 0.02
        for i in range(args.count):
            if (wait := start + i / args.rate - time.perf_counter()) > 0:
                time.sleep(wait)
            if (i + 1) % args.invalid_every == 0:
                payload, invalid = INVALID[invalid % len(INVALID)], invalid + 1
            else:
                payload, value = str(value), value + 1
            infos.append(client.publish(topic, payload, qos=args.qos))
        seconds = time.perf_counter() - start
        for info in infos:
            info.wait_for_publish(30)
        print(json.dumps({"valid": value - args.first, "invalid": invalid, "seconds": seconds,
                          "unacked": sum(1 for info in infos if not info.is_published())}), flush=True)  # fmt: skip
    finally:
        client.disconnect()
        client.loop_stop()


async def publish(port: int, first: int, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "publish", "--port", str(port), "--first", str(first),
        "--count", str(args.count), "--rate", str(args.rate), "--invalid-every", str(args.invalid_every),
        "--qos", str(args.qos), cwd=ROOT, env={**os.environ, PASSWORD_ENV: BROKER_PASSWORD, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if (await proc.stdout.readline()).strip() != b"READY":
            raise SetupError("the publisher did not connect to the broker")
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        line = await proc.stdout.readline()
        if await proc.wait() != 0 or not line:
            raise SetupError(f"the publisher failed (exit {proc.returncode})")
        result: dict[str, Any] = json.loads(line)
        return result
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def ping_lag(ws: Websocket, stop: asyncio.Event, lags: list[float], at: list[float]) -> None:
    """Round trips of websocket pings (ms): Home Assistant answers them on its event loop."""
    while not stop.is_set():
        command_id = ws.next_id()
        at.append(time.time())
        sent = time.perf_counter()
        await ws.ws.send_json({"id": command_id, "type": "ping"})
        while True:
            answer = await ws.ws.receive_json()
            items = answer if isinstance(answer, list) else [answer]
            if any(item.get("id") == command_id for item in items):
                break
        lags.append((time.perf_counter() - sent) * 1000)
        await asyncio.sleep(PING_EVERY)


async def invalid_count(ws: Websocket) -> int:
    for state in await ws.command({"type": "get_states"}):
        if state["entity_id"].startswith("sensor.") and state["entity_id"].endswith("_invalid_payloads"):
            return int(float(state["state"]))
    raise SetupError("no Invalid payloads sensor")


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="eaio-mqtt-flood-"))
    bench = Bench(workdir, None)
    status = 0
    try:
        print(f"Starting mosquitto and Home Assistant in {workdir} ...", flush=True)
        await bench.start()
        await bench.warm_up()
        assert bench.session is not None and bench.observer is not None and bench.api is not None
        probe = await Websocket.connect(bench.session, bench.api)
        counted_before = await invalid_count(probe)
        first = bench.next_value
        stop, lags, at = asyncio.Event(), list[float](), list[float]()
        pinger = asyncio.create_task(ping_lag(probe, stop, lags, at))
        print(f"  {args.count:,} messages at {args.rate:,.0f} msg/s, every {args.invalid_every} invalid ...",
              flush=True)  # fmt: skip
        sent = await publish(bench.broker_port, first, args)
        last = first + sent["valid"] - 1
        await bench.observer.wait_for(last, DRAIN_IDLE)
        stop.set()
        await pinger
        counted = await invalid_count(probe) - counted_before
        worst = max(range(len(lags)), key=lags.__getitem__) if lags else None
        worst_window = (at[worst], at[worst] + lags[worst] / 1000) if worst is not None else None
        flood_window = (at[0], at[-1]) if at else None
        reached = sum(1 for v in range(first, last + 1) if v in bench.observer.seen)
        lags.sort()
        lost, uncounted = sent["valid"] - reached, sent["invalid"] - counted
        p99 = percentile(lags, 99)
        passed = lost == 0 and uncounted == 0 and p99 < TARGET_P99_MS
        print(f"\n| messages | msg/s offered (sent) | valid sent | valid reached state | lost | invalid sent "
              f"| invalid counted | loop lag p50 / p99 / max ms (pings) | target |\n|---|---|---|---|---|---|---|---|---|\n"
              f"| {args.count:,} | {args.rate:,.0f} ({(args.count - 1) / sent['seconds']:,.0f}) | {sent['valid']:,} "
              f"| {reached:,} | {lost} | {sent['invalid']:,} | {counted:,} "
              f"| {percentile(lags, 50):.1f} / {p99:.1f} / {lags[-1] if lags else math.nan:.1f} ({len(lags)}) "
              f"| {'PASS' if passed else 'FAIL'} |")  # fmt: skip
        await probe.ws.close()
        await bench.stop()  # Home Assistant writes its garbage-collection log as it exits
        if flood_window is not None and worst_window is not None:
            pauses = [p for p in bench.gc_pauses() if p.overlaps(*flood_window)]
            over = [p for p in pauses if p.overlaps(*worst_window)]
            longest = max(pauses, key=lambda p: p.seconds, default=None)
            print(f"\nWorst ping {max(lags):.1f} ms at {worst_window[0] - flood_window[0]:.1f} s into the flood; "
                  f"garbage collections overlapping it: {len(over)} ({sum(p.seconds for p in over) * 1000:.1f} ms); "
                  f"during the flood {len(pauses)} collections, the longest "
                  f"{longest.seconds * 1000 if longest else 0:.1f} ms.")  # fmt: skip
        print(f"\nMachine: {environment()}")
        status = 0 if passed else EXIT_FAIL
    except (SetupError, HassProcessError, aiohttp.ClientError, TimeoutError) as exc:
        print(f"\nerror: {exc or type(exc).__name__}", file=sys.stderr)
        status = EXIT_ERROR
    finally:
        with contextlib.suppress(Exception):
            await bench.stop()
    if status != EXIT_ERROR:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/mqtt_flood.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command")
    pub = sub.add_parser("publish", help="(internal) the paced publisher")
    pub.add_argument("--port", type=int, required=True)
    pub.add_argument("--first", type=int, required=True)
    for p in (parser, pub):
        p.add_argument("--count", type=int, default=20_000)
        p.add_argument("--rate", type=float, default=1_000.0)
        p.add_argument("--invalid-every", type=int, default=2)
        p.add_argument("--qos", type=int, choices=(0, 1), default=1)
    args = parser.parse_args()
    if args.command == "publish":
        run_publisher(args)
        return
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

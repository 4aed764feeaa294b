"""Helpers of the MQTT throughput benchmark (``benchmarks/mqtt_throughput.py``), each its own process.

``python -m eaio_sim.mqtt_bench publish ...``: a paced publisher. Publishes ``count`` strictly
increasing integer values (``first``, ``first + 1``, ...) on one topic at ``rate`` messages per
second and records the wall-clock time each was handed to the client, so the benchmark can match
every value to the entity state it became. Its own process, so that the benchmark's websocket
reader never delays a send. Prints ``READY`` once connected, waits for one line on stdin (the start
signal), publishes, waits until the broker has acknowledged every QoS 1 message, then prints one
JSON line ``{"sent": [...], "seconds", "late_ms_p99", "late_ms_max", "unacked", "cpu_seconds"}``.
The password comes from the environment (``EAIO_MQTT_PASSWORD``), not the command line.

``python -m eaio_sim.mqtt_bench hass --gc-log FILE [--profile FILE] -- <hass arguments>``: Home
Assistant's own entry point (what the ``hass`` command runs), with a recorder of the interpreter's
garbage-collection pauses and, optionally, cProfile on the main thread (the event loop). Both are
written when Home Assistant exits.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import cProfile
import gc
import json
import math
import os
from pathlib import Path
import sys
import time
from typing import Any

import paho.mqtt.client as mqtt

from eaio_sim.mqtt_sensors import connect

PASSWORD_ENV = "EAIO_MQTT_PASSWORD"
ACK_TIMEOUT = 30.0
START_DELAY = 0.02  # the first due time, after the start signal: the loop is warm by then
# Far above what 1,000 msg/s on loopback keeps in flight: the publisher must never be what throttles.
MAX_INFLIGHT = 10_000
REPO_ROOT = Path(__file__).resolve().parent.parent


# The publisher ------------------------------------------------------------------------------


def _connect(host: str, port: int, username: str, password: str) -> mqtt.Client:
    return connect(host, port, username, password, name="eaio-bench", max_inflight=MAX_INFLIGHT)


def _percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest rank, as the benchmark reports its own percentiles."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)]


def publish_paced(client: mqtt.Client, topic: str, first: int, count: int, rate: float,
                  qos: int) -> dict[str, Any]:
    """Send on an absolute schedule (due = start + i / rate), so sleep overshoot never accumulates."""
    sent: list[float] = []
    late: list[float] = []
    cpu_start = time.process_time()
    infos: list[mqtt.MQTTMessageInfo] = []
    start = time.perf_counter() + START_DELAY
    for i in range(count):
        due = start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        late.append(time.perf_counter() - due)
        # The wall clock, because the benchmark compares it with Home Assistant's last_updated.
        sent.append(time.time())
        infos.append(client.publish(topic, str(first + i), qos=qos))
    seconds = time.perf_counter() - start
    deadline = time.monotonic() + ACK_TIMEOUT
    for info in infos:  # QoS 0 infos count as published once written to the socket
        info.wait_for_publish(max(0.0, deadline - time.monotonic()))
    unacked = sum(1 for info in infos if not info.is_published())
    late.sort()
    return {
        "sent": sent,
        "seconds": seconds,
        "late_ms_p99": _percentile(late, 99) * 1000,
        "late_ms_max": late[-1] * 1000 if late else math.nan,
        "unacked": unacked,
        # So the benchmark can tell the load it generates itself from other jobs on the machine.
        "cpu_seconds": time.process_time() - cpu_start,
    }


def run_publisher(args: argparse.Namespace) -> None:
    client = _connect(args.host, args.port, args.username, os.environ.get(PASSWORD_ENV, ""))
    try:
        print("READY", flush=True)
        sys.stdin.readline()
        result = publish_paced(client, args.topic, args.first, args.count, args.rate, args.qos)
        print(json.dumps(result), flush=True)
    finally:
        client.disconnect()
        client.loop_stop()


# Home Assistant with a GC pause recorder ----------------------------------------------------


def gc_recorder(pauses: list[tuple[float, int, float, float, int]]) -> Callable[[str, dict[str, int]], None]:
    """A gc callback appending (wall-clock end, generation, pause seconds, CPU seconds, objects collected).

    Why: a collection stops the event loop; the benchmark matches late messages against these. The
    thread's CPU time tells the collector's own work from time the thread spent without a CPU.
    """
    started = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter(), time.thread_time()]
        else:
            pauses.append((time.time(), info["generation"], time.perf_counter() - started[0],
                           time.thread_time() - started[1], info["collected"]))

    return on_gc


def run_hass(args: argparse.Namespace) -> int:
    # "-m" put the repository first on sys.path for this module; Home Assistant must find custom
    # integrations only in its config dir, not the repository's custom_components as well.
    sys.path[:] = [p for p in sys.path if p not in ("", str(REPO_ROOT))]
    from homeassistant.__main__ import main as hass_main  # only after the path fix

    sys.argv = ["hass", *args.hass_args]
    pauses: list[tuple[float, int, float, float, int]] = []
    gc.callbacks.append(gc_recorder(pauses))
    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler is not None:
            profiler.enable()  # this thread only: the one that runs the event loop
        return hass_main()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        Path(args.gc_log).write_text(json.dumps(pauses))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eaio_sim.mqtt_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish", help="paced publisher")
    pub.add_argument("--host", default="127.0.0.1")
    pub.add_argument("--port", type=int, required=True)
    pub.add_argument("--username", required=True)
    pub.add_argument("--topic", required=True)
    pub.add_argument("--first", type=int, required=True, help="the first value; each next is one more")
    pub.add_argument("--count", type=int, required=True)
    pub.add_argument("--rate", type=float, required=True, help="messages per second")
    pub.add_argument("--qos", type=int, choices=(0, 1), default=1)
    hass = commands.add_parser("hass", help="Home Assistant with a GC pause recorder (and cProfile)")
    hass.add_argument("--gc-log", required=True, help="JSON file of the GC pauses, written at exit")
    hass.add_argument("--profile", help="cProfile output of the main thread, written at exit")
    hass.add_argument("hass_args", nargs=argparse.REMAINDER, help="after --: Home Assistant's arguments")
    args = parser.parse_args(argv)
    if args.command == "publish":
        run_publisher(args)
        return
    if args.hass_args[:1] == ["--"]:
        args.hass_args = args.hass_args[1:]
    sys.exit(run_hass(args))


if __name__ == "__main__":
    main()

"""MQTT throughput: messages from a real broker to Home Assistant entity states, through EAIO.

From the repository root, with the Python of a virtual environment that has Home Assistant, its
frontend package and paho-mqtt (the one ``./scripts/demo`` creates)::

    PYTHONPATH=. .venv/bin/python benchmarks/mqtt_throughput.py [--seconds 10]
        [--rates 100 1000] [--qos 1 0] [--profile] [--keep]

Starts mosquitto (password, loopback, a free port) and a real Home Assistant process with a
minimal configuration (api, config, onboarding, websocket_api; no default_config, no recorder;
Home Assistant adds its default integrations, the frontend among them), onboards it, sets up
Home Assistant's MQTT integration through its config flow (birth message off through the
options flow) and adds an EAIO MQTT device (profile ``single_values``) through EAIO's flow.
Then a paced publisher in its own process offers strictly increasing values on ``<base>/power``
at each rate and QoS, and a websocket subscription to ``state_changed`` records when Home
Assistant wrote each value into the power entity's state. Latency is the state's
``last_updated`` minus the send time (one machine, one clock).

Home Assistant runs through its own entry point with a recorder of garbage-collection pauses
(``python -m eaio_sim.mqtt_bench hass``), so that late messages can be matched against them.
``--profile`` adds cProfile on its event loop thread and prints where a message's time goes
(latencies of such a run include the profiler's overhead).

Target (issue 3): none lost and p99 < 50 ms at 1,000 msg/s; every row is held to it.
Exit status: 0 pass, 1 target missed, 2 the setup failed, 130 interrupted (Ctrl-C, SIGTERM).
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
import importlib.util
import json
import math
import os
from pathlib import Path
import platform
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

from eaio_sim.hass_process import (
    LOOPBACK,
    Child,
    HassApi,
    HassProcessError,
    _die_with_parent,
    authenticate,
    hass_log,
    link_integration,
    pick_port,
    seed_onboarding,
    spawn,
    stop as stop_child,
    tail as log_tail,
    wait_until_running,
    write_config,
)
from eaio_sim.mqtt_bench import PASSWORD_ENV
from eaio_sim.mqtt_broker import BrokerLogin, add_eaio_mqtt_device, setup_mqtt, start_broker

ROOT = Path(__file__).resolve().parent.parent
HASS_USER = ("bench", "bench-eaio", "Benchmark")  # username, password, display name
BROKER_USER = "eaio-bench"
BROKER_PASSWORD = "eaio-bench-secret"
BROKER_LOGIN = BrokerLogin(BROKER_USER, BROKER_PASSWORD)
BASE_TOPIC = "eaio-bench/meter"
DEVICE_NAME = "Bench meter"
PROFILE = "single_values"
POINT = "power"
POINT_MAX = 100_000  # the profile's valid range for power: every value sent must stay inside it
TARGET_P99_MS = 50.0
WARMUP_COUNT = 200  # at 100 msg/s: code paths, caches and the entity's first state before measuring
WARMUP_RATE = 100.0
DRAIN_IDLE = 5.0  # after the last send: how long without a new state counts as "nothing more comes"
START_TIMEOUT = 120.0
PUBLISHER_LINE_LIMIT = 64 * 1024 * 1024  # its one result line holds every send time
GC_PAUSE_NOTABLE = 0.005  # seconds: shorter collections cannot explain a 50 ms stall
EXIT_FAIL = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Where Home Assistant's event loop spends time per message, from the cProfile of a --profile run:
# (label, path fragment of the defining file, function name). Indentation shows what calls what.
PROFILE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("MQTT client: socket read, paho parse, dispatch (all below)", "mqtt/client.py", "_async_reader_callback"),
    ("  paho: packet parse", "paho/mqtt/client.py", "_handle_publish"),
    ("  EAIO MqttCoordinator._on_message (all below)", "eaio/mqtt_coordinator.py", "_on_message"),
    ("    TopicParser.parse", "eaio/bms/mqtt.py", "parse"),
    ("    EaioCoordinator.merge_values (all below)", "eaio/coordinator.py", "merge_values"),
    ("      DataUpdateCoordinator.async_update_listeners", "helpers/update_coordinator.py",
     "async_update_listeners"),
    ("        Entity.async_write_ha_state", "helpers/entity.py", "async_write_ha_state"),
    ("          StateMachine.async_set_internal", "homeassistant/core.py", "async_set_internal"),
    ("            EventBus.async_fire_internal", "homeassistant/core.py", "async_fire_internal"),
    ("              websocket: state_changed to the observer", "websocket_api/commands.py",
     "_forward_events_check_permissions"),
    ("MQTT client: PUBACK writes", "mqtt/client.py", "_async_writer_callback"),
)
PROFILE_PER_MESSAGE = ("eaio/mqtt_coordinator.py", "_on_message")  # one call per message received


class SetupError(Exception):
    """The benchmark could not bring up its peers; ``log`` names the file that says why."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One measured run: this many messages at this rate and QoS."""

    qos: int
    rate: float
    count: int


@dataclass(slots=True)
class CpuSample:
    """Cumulative CPU seconds of the processes that matter, and of the whole machine."""

    wall: float
    hass: float
    hass_wait: float  # seconds the event loop's thread was ready to run but had no CPU
    broker: float
    observer: float  # this process: the websocket reader
    machine_busy: float  # core-seconds, all cores
    hass_rss_mb: float  # growth across runs would mean something keeps every message


@dataclass(frozen=True, slots=True)
class Stall:
    """Consecutive messages later than the target: one hold-up delays every message behind it."""

    start: float  # send time of the first late message (Unix seconds)
    end: float  # state time of the last late message
    messages: int
    peak_ms: float


@dataclass(frozen=True, slots=True)
class GcPause:
    end: float  # Unix seconds
    generation: int
    seconds: float  # wall time: the event loop stood still this long
    cpu_seconds: float  # the collector's own work; the rest the thread waited for a CPU

    def overlaps(self, start: float, end: float) -> bool:
        return self.end >= start and self.end - self.seconds <= end


@dataclass(slots=True)
class RunResult:
    spec: RunSpec
    latencies_ms: list[float]  # sorted, one per value that reached the entity state
    lost: int
    achieved_rate: float  # values in states per second, first send to last state write
    send_rate: float  # what the publisher managed to offer
    send_late_p99_ms: float
    send_late_max_ms: float
    unacked: int
    hass_cpu_pct: float  # of one core
    hass_wait_ms: float  # run-queue wait of hass's event loop thread during the run
    broker_cpu_pct: float
    others_cpu_pct: float  # of one core: every process outside this benchmark
    hass_rss_mb: tuple[float, float]  # before, after
    stalls: list[Stall]
    window: tuple[float, float]  # first send, last state write
    gc_pauses: list[GcPause] = field(default_factory=list)  # filled in once hass has exited

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.unacked == 0 and percentile(self.latencies_ms, 99) < TARGET_P99_MS


# Measurement helpers ------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest rank: a latency some message really had."""
    if not sorted_values:
        return math.inf
    return sorted_values[max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)]


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of a process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run_queue_wait_seconds(pid: int) -> float:
    """How long the process' main thread (hass: the event loop) waited for a CPU while runnable.

    Second field of /proc/<pid>/schedstat, in nanoseconds: the direct measure of contention.
    """
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def machine_busy_seconds() -> float:
    """Busy CPU seconds of all cores since boot: how loaded the shared machine is."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK


def sample_cpu(hass_pid: int, broker_pid: int) -> CpuSample:
    return CpuSample(time.monotonic(), process_cpu_seconds(hass_pid), run_queue_wait_seconds(hass_pid),
                     process_cpu_seconds(broker_pid), time.process_time(), machine_busy_seconds(),
                     resident_mb(hass_pid))


def _pct(used: float, wall: float) -> float:
    return 100 * used / wall if wall > 0 else math.nan


# Home Assistant -----------------------------------------------------------------------------


def write_hass_config(config: Path, http_port: int) -> None:
    """Only what the benchmark uses: REST, websocket, config flows, onboarding. No recorder either,
    so no database write competes with the state writes being measured."""
    write_config(config, http_port, name="EAIO MQTT benchmark", written_by="benchmarks/mqtt_throughput.py",
                 components=("api", "config", "onboarding", "websocket_api"))


def prepare_config_dir(config: Path, http_port: int, integration_dir: Path | None) -> None:
    write_hass_config(config, http_port)
    if integration_dir is None:
        link_integration(config)  # the repository's integration
    else:
        link = config / "custom_components" / "eaio"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(integration_dir.resolve(), target_is_directory=True)
    seed_onboarding(config)


def check_frontend_installed() -> None:
    """Home Assistant 2025.4 sets up its frontend whatever the configuration says (a default
    integration) and starts in recovery mode, without the APIs used here, when it cannot."""
    if importlib.util.find_spec("hass_frontend") is None:
        raise SetupError("home-assistant-frontend is not installed in this venv; Home Assistant would start "
                         "in recovery mode. Use the venv of ./scripts/demo (requirements_demo.txt).")


def hass_argv(config: Path, gc_log: Path, profile_out: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "eaio_sim.mqtt_bench", "hass", "--gc-log", str(gc_log)]
    if profile_out is not None:
        argv += ["--profile", str(profile_out)]
    return [*argv, "--", "-c", str(config), "--skip-pip"]


async def wait_until_answering(api: HassApi, hass: Child) -> None:
    """Onboarding's endpoint answers 200 before onboarding and 404 after: either means serving."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while await api.status("/api/onboarding") is None:
        if hass.proc.returncode is not None:
            raise SetupError(f"Home Assistant exited with code {hass.proc.returncode}", hass_log(hass))
        if loop.time() > deadline:
            raise SetupError(f"Home Assistant did not answer within {START_TIMEOUT:.0f} s", hass_log(hass))
        await asyncio.sleep(0.25)


# The websocket observer ---------------------------------------------------------------------


class Websocket:
    """Home Assistant's websocket API: authenticated, with numbered commands."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._last_id = 0

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, api: HassApi) -> Websocket:
        ws = await session.ws_connect(f"{api.base_url}/api/websocket", max_msg_size=0)
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": api.token})
        answer = await ws.receive_json()
        if answer.get("type") != "auth_ok":
            raise SetupError(f"websocket authentication failed: {answer}")
        client = cls(ws)
        # Lets Home Assistant join queued messages into one JSON array when this reader lags.
        await client.command({"type": "supported_features", "features": {"coalesce_messages": 1}})
        return client

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    async def command(self, message: dict[str, Any]) -> Any:
        """Send a command and return its result (only before a subscription streams events)."""
        command_id = self.next_id()
        await self.ws.send_json({**message, "id": command_id})
        while True:
            for answer in _messages(await self.ws.receive_json()):
                if answer.get("id") == command_id and answer.get("type") == "result":
                    if not answer.get("success"):
                        raise SetupError(f"websocket {message['type']}: {answer.get('error')}")
                    return answer.get("result")


def _messages(payload: Any) -> list[dict[str, Any]]:
    return payload if isinstance(payload, list) else [payload]


async def power_entity_id(ws: Websocket) -> str:
    """The registry knows the entity by the unique id EAIO gives it (f"mqtt_<base>_<point>")."""
    unique_id = f"mqtt_{BASE_TOPIC}_{POINT}"
    for entity in await ws.command({"type": "config/entity_registry/list"}):
        if entity.get("platform") == "eaio" and entity.get("unique_id") == unique_id:
            entity_id: str = entity["entity_id"]
            return entity_id
    raise SetupError(f"no EAIO entity with unique id {unique_id}")


@dataclass(slots=True)
class StateObserver:
    """When each value became the entity's state, from Home Assistant's state_changed events."""

    ws: Websocket
    entity_id: str
    seen: dict[int, float] = field(default_factory=dict)  # value -> last_updated, Unix seconds
    duplicates: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ws.command({"type": "subscribe_events", "event_type": "state_changed"})
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            for item in _messages(json.loads(message.data)):
                if item.get("type") == "event":
                    self._record(item["event"]["data"])
        raise SetupError("the websocket to Home Assistant closed")

    def _record(self, data: dict[str, Any]) -> None:
        new_state = data.get("new_state")
        if data.get("entity_id") != self.entity_id or not new_state:
            return
        try:
            value = int(float(new_state["state"]))
        except ValueError:  # unknown / unavailable
            return
        if value in self.seen:
            self.duplicates += 1
            return
        self.seen[value] = datetime.fromisoformat(new_state["last_updated"]).timestamp()
        self._changed.set()

    async def wait_for(self, value: int, idle: float) -> bool:
        """True once ``value`` is a state; False after ``idle`` seconds without any new value."""
        while value not in self.seen:
            if self._reader is not None and self._reader.done():
                self._reader.result()  # raises why it stopped
            self._changed.clear()
            try:
                async with asyncio.timeout(idle):
                    await self._changed.wait()
            except TimeoutError:
                return False
        return True

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, SetupError):
                await self._reader
        await self.ws.ws.close()


# The publisher ------------------------------------------------------------------------------


async def publish(broker_port: int, first: int, count: int, rate: float, qos: int) -> dict[str, Any]:
    """Run the paced publisher in its own process; returns its send times and pacing figures."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eaio_sim.mqtt_bench", "publish", "--host", LOOPBACK,
        "--port", str(broker_port), "--username", BROKER_USER, "--topic", f"{BASE_TOPIC}/{POINT}",
        "--first", str(first), "--count", str(count), "--rate", str(rate), "--qos", str(qos),
        cwd=ROOT, env={**os.environ, PASSWORD_ENV: BROKER_PASSWORD},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=PUBLISHER_LINE_LIMIT,
        start_new_session=True, preexec_fn=_die_with_parent)  # fmt: skip
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


# The benchmark ------------------------------------------------------------------------------


@dataclass(slots=True)
class Bench:
    """The processes and connections of one benchmark run, and the next value to send."""

    workdir: Path
    profile_out: Path | None
    integration_dir: Path | None = None  # another copy of custom_components/eaio, to compare a change
    broker: Child | None = None
    broker_port: int = 0
    hass: Child | None = None
    session: aiohttp.ClientSession | None = None
    observer: StateObserver | None = None
    api: HassApi | None = None  # for another websocket (the flood benchmark's loop-lag probe)
    next_value: int = 1

    @property
    def gc_log(self) -> Path:
        return self.workdir / "gc_pauses.json"

    async def start(self) -> None:
        check_frontend_installed()
        self.broker, self.broker_port = await start_broker(self.workdir, BROKER_LOGIN)
        config = self.workdir / "hass"
        http_port = pick_port()
        prepare_config_dir(config, http_port, self.integration_dir)
        self.hass = await spawn("Home Assistant", hass_argv(config, self.gc_log, self.profile_out),
                                 config / "hass_console.log")
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        api = self.api = HassApi(self.session, f"http://{LOOPBACK}:{http_port}")
        await wait_until_answering(api, self.hass)
        await authenticate(api, *HASS_USER)
        await wait_until_running(api)
        await setup_mqtt(api, self.broker_port, BROKER_LOGIN, birth=False)
        if await add_eaio_mqtt_device(api, DEVICE_NAME, BASE_TOPIC, PROFILE) is None:
            raise SetupError(f"an EAIO device on {BASE_TOPIC} exists already in a fresh config dir")
        ws = await Websocket.connect(self.session, api)
        self.observer = StateObserver(ws, await power_entity_id(ws))
        await self.observer.start()

    async def warm_up(self) -> None:
        """First messages build caches and the entity's first state; they are not measured."""
        assert self.observer is not None
        first = self.next_value
        await publish(self.broker_port, first, WARMUP_COUNT, WARMUP_RATE, 1)
        self.next_value += WARMUP_COUNT
        if not await self.observer.wait_for(first + WARMUP_COUNT - 1, DRAIN_IDLE):
            raise SetupError("warm-up messages did not reach the entity state",
                             hass_log(self.hass) if self.hass else None)

    async def measure(self, spec: RunSpec) -> RunResult:
        assert self.observer is not None and self.hass is not None and self.broker is not None
        first, last = self.next_value, self.next_value + spec.count - 1
        if last > POINT_MAX:
            raise SetupError(f"value {last} would exceed the point's range ({POINT_MAX}); send fewer")
        self.next_value = last + 1
        before = sample_cpu(self.hass.proc.pid, self.broker.proc.pid)
        sent = await publish(self.broker_port, first, spec.count, spec.rate, spec.qos)
        await self.observer.wait_for(last, DRAIN_IDLE)
        after = sample_cpu(self.hass.proc.pid, self.broker.proc.pid)
        return summarize(spec, first, sent, self.observer.seen, before, after)

    async def stop(self) -> None:
        """Observer, then Home Assistant (it would log the broker vanishing), then the broker."""
        if self.observer is not None:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):  # hass may be gone already
                await self.observer.stop()
        for child in (self.hass, self.broker):
            if child is not None:
                await stop_child(child)
        if self.session is not None:
            await self.session.close()

    def gc_pauses(self) -> list[GcPause]:
        """The collections Home Assistant recorded; written when it exits (empty if it was killed)."""
        try:
            raw = json.loads(self.gc_log.read_text())
        except (OSError, ValueError):
            return []
        return [GcPause(end, gen, seconds, cpu) for end, gen, seconds, cpu, _collected in raw]


def summarize(spec: RunSpec, first: int, sent: dict[str, Any], seen: dict[int, float],
              before: CpuSample, after: CpuSample) -> RunResult:
    send_times: list[float] = sent["sent"]
    pairs = [(at, seen[first + i]) for i, at in enumerate(send_times) if first + i in seen]
    latencies = sorted((written - at) * 1000 for at, written in pairs)
    last_write = max((written for _, written in pairs), default=math.nan)
    span = last_write - send_times[0]
    wall = after.wall - before.wall
    ours = (after.hass - before.hass) + (after.broker - before.broker) + (after.observer - before.observer)
    others = (after.machine_busy - before.machine_busy) - ours - sent["cpu_seconds"]
    return RunResult(
        spec=spec,
        latencies_ms=latencies,
        lost=spec.count - len(latencies),
        achieved_rate=len(latencies) / span if span > 0 else math.nan,
        send_rate=(spec.count - 1) / sent["seconds"] if sent["seconds"] > 0 else math.nan,
        send_late_p99_ms=sent["late_ms_p99"],
        send_late_max_ms=sent["late_ms_max"],
        unacked=sent["unacked"],
        hass_cpu_pct=_pct(after.hass - before.hass, wall),
        hass_wait_ms=(after.hass_wait - before.hass_wait) * 1000,
        broker_cpu_pct=_pct(after.broker - before.broker, wall),
        # /proc/stat sums all cores: core-seconds, so this is "% of one core" like the others (max 200).
        others_cpu_pct=_pct(max(0.0, others), wall),
        hass_rss_mb=(before.hass_rss_mb, after.hass_rss_mb),
        stalls=find_stalls(pairs),
        window=(send_times[0], last_write),
    )


def find_stalls(pairs: Sequence[tuple[float, float]]) -> list[Stall]:
    """Runs of consecutive late messages, in send order, from (send time, state time) pairs."""
    stalls: list[Stall] = []
    run: list[tuple[float, float]] = []
    for pair in [*pairs, (0.0, 0.0)]:  # the sentinel closes a run at the end
        if (pair[1] - pair[0]) * 1000 >= TARGET_P99_MS:
            run.append(pair)
        elif run:
            peak = max(written - at for at, written in run) * 1000
            stalls.append(Stall(run[0][0], run[-1][1], len(run), peak))
            run = []
    return stalls


# Report -------------------------------------------------------------------------------------


def _separator(header: str) -> str:
    return "|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|"


def _longest(pauses: Sequence[GcPause]) -> GcPause | None:
    return max(pauses, key=lambda p: p.seconds, default=None)


def _pause_text(pause: GcPause | None) -> str:
    if pause is None:
        return "-"
    return f"{pause.seconds * 1000:.1f} (gen {pause.generation}, CPU {pause.cpu_seconds * 1000:.1f})"


def results_table(results: Sequence[RunResult]) -> str:
    header = ("| QoS | offered msg/s | sent | publisher msg/s (p99 / max send lag ms) | reached state | lost "
              "| achieved msg/s | p50 ms | p95 ms | p99 ms | max ms | stalls >= 50 ms | hass CPU % "
              "| hass waiting for a CPU, ms | longest GC pause ms | hass RSS MB | broker CPU % "
              "| other jobs' CPU % | target |")
    lines = [header, _separator(header)]
    for r in results:
        lat = r.latencies_ms
        lines.append(
            f"| {r.spec.qos} | {r.spec.rate:,.0f} | {r.spec.count:,} "
            f"| {r.send_rate:,.1f} ({r.send_late_p99_ms:.2f} / {r.send_late_max_ms:.2f}) "
            f"| {len(lat):,} | {r.lost} | {r.achieved_rate:,.1f} "
            f"| {percentile(lat, 50):.2f} | {percentile(lat, 95):.2f} | {percentile(lat, 99):.2f} "
            f"| {lat[-1] if lat else math.inf:.2f} | {len(r.stalls)} | {r.hass_cpu_pct:.0f} "
            f"| {r.hass_wait_ms:,.0f} | {_pause_text(_longest(r.gc_pauses))} "
            f"| {r.hass_rss_mb[0]:.0f} → {r.hass_rss_mb[1]:.0f} | {r.broker_cpu_pct:.0f} "
            f"| {r.others_cpu_pct:.0f} | {'PASS' if r.passed else 'FAIL'} |"
        )
    return "\n".join(lines)


def stalls_table(results: Sequence[RunResult]) -> str:
    """Each hold-up, and whether a garbage collection in Home Assistant overlapped it."""
    header = ("| QoS | offered msg/s | at s | late messages | peak latency ms "
              "| longest GC pause overlapping, ms |")
    lines = [header, _separator(header)]
    for r in results:
        for stall in r.stalls:
            overlapping = [p for p in r.gc_pauses if p.overlaps(stall.start, stall.end)]
            lines.append(
                f"| {r.spec.qos} | {r.spec.rate:,.0f} | {stall.start - r.window[0]:.2f} | {stall.messages} "
                f"| {stall.peak_ms:.1f} | {_pause_text(_longest(overlapping))} |"
            )
    return "\n".join(lines)


def environment() -> str:
    mosquitto = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
    match = re.search(r"mosquitto version (\S+)", mosquitto)
    return (f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()} {platform.machine()}; "
            f"Python {platform.python_version()}, homeassistant {version('homeassistant')}, "
            f"paho-mqtt {version('paho-mqtt')}, mosquitto {match.group(1) if match else '?'}; "
            f"load average at the end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


def _profile_totals(stats: dict[Any, Any], file_part: str, func: str) -> tuple[int, float]:
    """Calls and cumulative seconds of a function, summed over every definition that matches."""
    calls, cumulative = 0, 0.0
    for (filename, _line, name), (_cc, ncalls, _tt, ct, _callers) in stats.items():
        if name == func and filename.replace(os.sep, "/").endswith(file_part):
            calls += ncalls
            cumulative += ct
    return calls, cumulative


def profile_report(path: Path) -> str:
    """Time per message in the functions a message passes through, from Home Assistant's cProfile."""
    stats: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    messages, _ = _profile_totals(stats, *PROFILE_PER_MESSAGE)
    rows = [f"{messages:,} messages handled by EAIO (cumulative time: each row includes the rows "
            "indented below it)", "", "| where (event loop thread) | calls | calls/message | µs/message |",
            "|---|---|---|---|"]
    for label, file_part, func in PROFILE_ROWS:
        calls, cumulative = _profile_totals(stats, file_part, func)
        per_msg = f"{calls / messages:.2f}" if messages else "-"
        micros = f"{cumulative / messages * 1e6:.0f}" if messages else "-"
        rows.append(f"| {label} | {calls:,} | {per_msg} | {micros} |")
    return "\n".join(rows)


def top_functions(path: Path, limit: int = 25) -> str:
    """The functions with the most own time: what a fix should look at first."""
    stats: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    lines = ["own s    calls     function"]
    for (filename, line, name), (_cc, ncalls, tt, _ct, _callers) in ranked:
        short = "/".join(Path(filename).parts[-3:])
        lines.append(f"{tt:7.3f}  {ncalls:8,}  {name} ({short}:{line})")
    return "\n".join(lines)


def print_report(results: Sequence[RunResult], bench: Bench, args: argparse.Namespace) -> None:
    print(f"\n{results_table(results)}\n")
    if any(r.stalls for r in results):
        print(f"Stalls (consecutive messages >= {TARGET_P99_MS:.0f} ms late):\n{stalls_table(results)}\n")
    for r in results:
        notable = [p for p in r.gc_pauses if p.seconds >= GC_PAUSE_NOTABLE]
        by_gen = {g: sum(1 for p in r.gc_pauses if p.generation == g) for g in (0, 1, 2)}
        print(f"GC in hass, QoS {r.spec.qos} at {r.spec.rate:,.0f} msg/s: collections by generation "
              f"{by_gen[0]}/{by_gen[1]}/{by_gen[2]}, {sum(p.seconds for p in r.gc_pauses) * 1000:.0f} ms "
              f"in total, {len(notable)} of >= {GC_PAUSE_NOTABLE * 1000:.0f} ms")
    observer = bench.observer
    if observer is not None and observer.duplicates:
        print(f"Note: {observer.duplicates} state_changed events repeated a value already seen.")
    verdict = "PASS" if all(r.passed for r in results) else "FAIL"
    print(f"\nTarget: none lost and p99 < {TARGET_P99_MS:.0f} ms at every rate and QoS offered "
          f"({args.seconds:g} s each): {verdict}"
          + ("  [under cProfile: latencies include the profiler's overhead]" if args.profile else ""))
    print(f"Machine: {environment()}")


async def run_specs(bench: Bench, specs: Sequence[RunSpec], results: list[RunResult]) -> None:
    """Bring everything up, warm up, then measure each run (results grow as runs finish)."""
    print(f"Starting mosquitto and Home Assistant in {bench.workdir} ...", flush=True)
    await bench.start()
    await bench.warm_up()
    for spec in specs:
        print(f"  QoS {spec.qos}, {spec.rate:,.0f} msg/s, {spec.count:,} messages ...", flush=True)
        results.append(await bench.measure(spec))


def report_setup_error(exc: Exception, bench: Bench) -> None:
    print(f"\nerror: {exc or type(exc).__name__}", file=sys.stderr)
    log = getattr(exc, "log", None) or (hass_log(bench.hass) if bench.hass is not None else None)
    if log is not None and (text := log_tail(log)):
        print(f"--- last lines of {log} ---\n{text}\n---", file=sys.stderr)


async def run(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM as Ctrl-C: cancel, so that the finally below stops the broker and Home Assistant.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="eaio-mqtt-bench-"))
    profile_out = workdir / "hass.prof" if args.profile else None
    bench = Bench(workdir, profile_out, args.integration_dir)
    specs = [RunSpec(qos, rate, round(rate * args.seconds)) for qos in args.qos for rate in args.rates]
    results: list[RunResult] = []
    status = 0
    try:
        await run_specs(bench, specs, results)
    except asyncio.CancelledError:
        status = EXIT_INTERRUPTED
        print("\nInterrupted: stopping the broker and Home Assistant.", file=sys.stderr)
    except (SetupError, HassProcessError, aiohttp.ClientError, TimeoutError) as exc:
        status = EXIT_ERROR
        report_setup_error(exc, bench)
    finally:
        await bench.stop()  # whatever happened: no broker or Home Assistant is left behind
    pauses = bench.gc_pauses()
    for result in results:
        result.gc_pauses = [p for p in pauses if p.overlaps(*result.window)]
    if results:
        print_report(results, bench, args)
    if profile_out is not None and profile_out.exists() and results:
        print(f"\nWhere Home Assistant's event loop spends time (cProfile; profiler overhead included):\n"
              f"{profile_report(profile_out)}\n\n{top_functions(profile_out)}")
    if args.keep or status == EXIT_ERROR or profile_out is not None:
        print(f"\nWork directory (logs, configuration, GC log, profile) kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if status == 0 and not all(r.passed for r in results):
        status = EXIT_FAIL
    return status


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/mqtt_throughput.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run (default 10)")
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 1000.0],
                        help="offered messages per second (default 100 1000)")
    parser.add_argument("--qos", type=int, nargs="+", choices=(0, 1), default=[1, 0],
                        help="publish QoS, each with every rate (default 1 0)")
    parser.add_argument("--profile", action="store_true",
                        help="run Home Assistant under cProfile and print where a message's time goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary config and logs")
    parser.add_argument("--integration-dir", type=Path, metavar="DIR",
                        help="use this copy of custom_components/eaio instead of the repository's "
                             "(to measure a change against the same run of the original)")
    try:
        sys.exit(asyncio.run(run(parser.parse_args())))
    except KeyboardInterrupt:  # Ctrl-C: run() has stopped everything before this arrives
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()

"""The add-on's runtime cost: resident memory idle and during a backfill, and live latency.

Against a real Home Assistant (``hass`` from its own environment) whose recorder holds synthetic
history: ``--entities`` sensors with one state every ``--interval`` seconds over ``--days`` days,
written into the recorder's SQLite database (its own schema, as the recorder writes rows) while
Home Assistant is stopped, so they are ordinary recorder history when it starts again. The add-on
runs as its own process (``python -m eaio_addon``, standalone, with a long-lived token):

1. idle: the add-on connected and subscribed, with nothing to fetch (``backfill_days: 0``);
   resident memory (VmRSS) sampled for ``--idle-seconds``;
2. backfill: a fresh add-on fetches the whole history; its peak resident memory (VmHWM, the
   kernel's high-water mark) and the time until ``/api/health`` reports the backfill done; the
   readings in its store are counted against the states written;
3. latency: ``--changes`` state changes of one entity through Home Assistant's REST API, one at a
   time; for each, the time from Home Assistant's ``last_updated`` to the moment the reading is
   visible in the add-on's store (read by this process from the SQLite file, polled every
   millisecond, so the figures include up to 1 ms of polling).

Run from the repository root with the add-on's environment (the add-on's package on the path) and
Home Assistant's environment for ``hass`` (with its frontend: requirements_demo.txt):

    PYTHONPATH=addon:. .venv-addon/bin/python benchmarks/addon_runtime.py --ha-venv .venv
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import datetime
import json
import math
import os
from pathlib import Path
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eaio_sim.hass_process import (  # noqa: E402 - the repository on the path first
    LOOPBACK,
    Child,
    HassApi,
    authenticate,
    long_lived_token,
    pick_port,
    seed_onboarding,
    spawn,
    start_hass,
    stop,
    wait_until_running,
    wait_until_serving,
    write_config,
)

LIVE = "sensor.bench_live"
STORE_FILE = "eaio.db"


@dataclass
class AddonProcess:
    child: Child
    data: Path
    port: int
    token: str

    def memory_kib(self) -> tuple[int, int]:
        """VmRSS and VmHWM (peak) of the add-on process, in KiB."""
        fields = {}
        for line in Path(f"/proc/{self.child.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]

    async def health(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(f"http://{LOOPBACK}:{self.port}/api/health",
                               headers={"Authorization": f"Bearer {self.token}"}) as resp:
            result: dict[str, Any] = await resp.json()
            return result


def _entities(n: int) -> list[str]:
    return [f"sensor.bench_power_{i:02d}" for i in range(1, n + 1)]


def write_history(db_path: Path, entities: list[str], days: float, interval: float, end: float) -> int:
    """Synthetic recorder history: power-like values with a daily shape and noise; returns the states written."""
    rng = random.Random(2026)
    start = end - days * 86400 + 900  # a quarter of an hour inside the add-on's window when it starts
    con = sqlite3.connect(db_path)
    try:
        next_meta = con.execute("SELECT coalesce(max(metadata_id), 0) + 1 FROM states_meta").fetchone()[0]
        written = 0
        for offset, entity_id in enumerate(entities):
            metadata_id = next_meta + offset
            con.execute("INSERT INTO states_meta (metadata_id, entity_id) VALUES (?, ?)", (metadata_id, entity_id))
            rows = []
            ts, base, last = start + rng.uniform(0, interval), rng.uniform(200, 2000), ""
            while ts < end:
                day = (ts % 86400) / 86400
                value = base * (1 + 0.4 * math.sin(2 * math.pi * (day - 0.3))) + rng.gauss(0, base * 0.02)
                state = f"{value:.2f}"
                if state == last:  # the recorder writes a row only when the state changes
                    state = f"{value + 0.01:.2f}"
                # As the recorder writes a state: last_changed_ts only when it differs from last_updated_ts.
                rows.append((state, ts, metadata_id))
                last = state
                ts += interval
            con.executemany("INSERT INTO states (state, last_updated_ts, last_changed_ts, origin_idx, metadata_id)"
                            " VALUES (?, ?, NULL, 0, ?)", rows)
            written += len(rows)
        con.commit()
    finally:
        con.close()
    return written


def _write_options(data: Path, entities: list[str], backfill_days: int) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    options = data / "options.json"
    options.write_text(json.dumps({"entities": [*entities, LIVE], "backfill_days": backfill_days,
                                   "raw_retention_days": max(backfill_days, 30)}))
    return options


async def start_addon(ha_url: str, token: str, data: Path, entities: list[str], backfill_days: int) -> AddonProcess:
    options = _write_options(data, entities, backfill_days)
    port = pick_port()
    child = await spawn("the add-on", [sys.executable, "-m", "eaio_addon", "--ha-url", ha_url, "--data-dir", str(data),
                                       "--options", str(options), "--port", str(port)],
                        data / "addon.log", cwd=ROOT / "addon",
                        env={**os.environ, "EAIO_HA_TOKEN": token, "PYTHONPATH": str(ROOT / "addon")})
    deadline = time.monotonic() + 60
    while not (data / "api_token").exists():
        if child.proc.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the add-on did not start; see {data / 'addon.log'}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    return AddonProcess(child, data, port, (data / "api_token").read_text().strip())


async def wait_health(addon: AddonProcess, session: aiohttp.ClientSession, *, state: str,
                      limit_s: float) -> tuple[dict[str, Any], float]:
    """Poll /api/health until the link is connected and the backfill in ``state``; returns it and the seconds."""
    started = time.monotonic()
    while True:
        try:
            health = await addon.health(session)
            if health["ha_link"] == "connected" and health["backfill"]["state"] == state:
                return health, time.monotonic() - started
        except (aiohttp.ClientError, ValueError):
            pass
        if time.monotonic() - started > limit_s or addon.child.proc.returncode is not None:
            raise RuntimeError(f"no backfill '{state}' within {limit_s:.0f} s; see {addon.data / 'addon.log'}")
        await asyncio.sleep(0.25)


async def sample_rss(addon: AddonProcess, seconds: float) -> list[int]:
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(addon.memory_kib()[0])
        await asyncio.sleep(0.2)
    return samples


async def measure_latency(api: HassApi, store: Path, changes: int) -> list[float]:
    """Seconds from Home Assistant's last_updated to the reading visible in the add-on's store."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, isolation_level=None)
    key = None
    latencies = []
    try:
        for i in range(changes):
            answer = await api.call("POST", f"/api/states/{LIVE}", json_body={"state": str(1000 + i)})
            changed = round(datetime.fromisoformat(answer["last_updated"]).timestamp(), 6)
            deadline = time.monotonic() + 10
            while True:
                if key is None:
                    row = con.execute("SELECT id FROM entities WHERE entity_id = ?", (LIVE,)).fetchone()
                    key = row[0] if row else None
                if key is not None and con.execute("SELECT 1 FROM readings WHERE entity = ? AND ts = ?",
                                                   (key, changed)).fetchone():
                    latencies.append(time.time() - changed)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"change {i} did not reach the store within 10 s")
                await asyncio.sleep(0.001)
    finally:
        con.close()
    return latencies


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="eaio-addon-bench-"))
    config = work / "config"
    hass_bin = args.ha_venv / "bin" / "hass"
    port = pick_port()
    write_config(config, port, name="EAIO add-on benchmark", written_by="benchmarks/addon_runtime.py",
                 components=("api", "config", "history"),
                 extra="recorder:\n  commit_interval: 1\n  purge_keep_days: 60\n  auto_purge: false\n")
    seed_onboarding(config)
    entities = _entities(args.entities)
    result: dict[str, Any] = {"entities": args.entities, "days": args.days, "interval_s": args.interval}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        api = HassApi(session, f"http://{LOOPBACK}:{port}")
        print(f"Home Assistant: first start (onboarding, token) in {config}", flush=True)
        hass = await start_hass(hass_bin, config)
        try:
            await wait_until_serving(api, hass)
            await authenticate(api, "bench", "bench-password-1", "Benchmark")
            await wait_until_running(api)
            token = await long_lived_token(api, "EAIO add-on benchmark")
        finally:
            await stop(hass)
        started = time.monotonic()
        written = write_history(config / "home-assistant_v2.db", entities, args.days, args.interval, time.time())
        result["states_written"] = written
        print(f"Wrote {written:,} states into the recorder in {time.monotonic() - started:.1f} s", flush=True)
        hass = await start_hass(hass_bin, config)
        try:
            await wait_until_serving(api, hass)
            await wait_until_running(api)
            # The sensors exist now, too (their current states are one more reading each).
            for entity_id in (*entities, LIVE):
                await api.call("POST", f"/api/states/{entity_id}", json_body={"state": "0.5"})

            print("Add-on idle (nothing to fetch) ...", flush=True)
            idle = await start_addon(api.base_url, token, work / "addon-idle", entities, 0)
            try:
                await wait_health(idle, session, state="done", limit_s=120)
                await asyncio.sleep(args.settle)
                samples = await sample_rss(idle, args.idle_seconds)
                result["idle_rss_mib"] = statistics.median(samples) / 1024
                result["idle_peak_mib"] = idle.memory_kib()[1] / 1024
            finally:
                await stop(idle.child)

            print(f"Add-on backfill of {args.days:g} days x {args.entities} entities ...", flush=True)
            addon = await start_addon(api.base_url, token, work / "addon-backfill", entities, int(args.days))
            try:
                health, seconds = await wait_health(addon, session, state="done", limit_s=args.timeout)
                rss, peak = addon.memory_kib()
                result["backfill_s"] = seconds
                result["backfill_peak_mib"] = peak / 1024
                result["after_backfill_rss_mib"] = rss / 1024
                result["readings_stored"] = health["store"]["readings"]
                store = addon.data / STORE_FILE
                result["store_mib"] = sum(p.stat().st_size for p in (store, Path(f"{store}-wal")) if p.exists()) / 2**20
                await asyncio.sleep(args.settle)
                result["after_backfill_settled_rss_mib"] = statistics.median(await sample_rss(addon, 5)) / 1024

                print(f"Latency of {args.changes} state changes ...", flush=True)
                latencies = await measure_latency(api, store, args.changes)
                result["latency_ms"] = {
                    "p50": _percentile(latencies, 0.50) * 1000,
                    "p99": _percentile(latencies, 0.99) * 1000,
                    "max": max(latencies) * 1000,
                    "mean": statistics.fmean(latencies) * 1000,
                    "n": len(latencies),
                }
            finally:
                await stop(addon.child)
        finally:
            await stop(hass)
    result["workdir"] = str(work)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ha-venv", type=Path, default=Path(os.environ.get("EAIO_HA_VENV", ROOT / ".venv")),
                        help="Home Assistant's environment (default: $EAIO_HA_VENV or .venv)")
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--interval", type=float, default=60, help="seconds between states of one entity")
    parser.add_argument("--changes", type=int, default=500, help="live state changes timed")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--settle", type=float, default=10, help="seconds before sampling idle memory")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds the backfill may take")
    parser.add_argument("--workdir", help="keep Home Assistant's config and the add-on's data here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not (args.ha_venv / "bin" / "hass").exists():
        parser.error(f"no hass in {args.ha_venv} (./scripts/test creates .venv)")
    result = asyncio.run(run(args))
    expected = result["states_written"] + args.entities + 1  # and each sensor's current state
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if result["readings_stored"] < expected:
        print(f"error: {result['readings_stored']} readings stored, {expected} expected", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

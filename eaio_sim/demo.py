"""The demo: a simulated building and a real Home Assistant with EAIO added through its config flow.

``./scripts/demo`` runs ``python -m eaio_sim.demo`` in the project's virtual environment. It starts the
simulated building (a Modbus TCP server on loopback), then Home Assistant on loopback, creates the demo
user, adds the building's devices to EAIO exactly as a user would (config flow over the REST API), and
prints the address, the login and the entities. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
import signal
import sys
from typing import Any

import aiohttp

from .hass_process import (
    DOMAIN,
    LOOPBACK,
    RESTART_EXIT_CODE,
    Child,
    HassApi,
    HassProcessError,
    add_modbus_device,
    authenticate,
    discard,
    hass_log,
    link_integration,
    pick_port,
    port_free,
    seed_onboarding,
    spawn,
    start_hass,
    stop,
    tail,
    wait_until_running,
    wait_until_serving,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "demo"
PASSWORD = "demo-eaio"
# Unit id and profile of each simulated device; the HVAC unit's setpoints are the writable points.
DEVICES: tuple[tuple[int, str], ...] = ((1, "three_phase_meter"), (2, "hvac_unit"))
WRITE_EXAMPLE = ("hvac_unit", "cooling_setpoint", 23.5)

SIM_START_TIMEOUT = 30.0
STATES_TIMEOUT = 30.0
# The simulator's port and the EAIO entries of the last run: a rerun keeps or replaces them and leaves
# entries added by hand alone.
STATE_FILE = "eaio_demo.json"

# The helpers that start Home Assistant live in hass_process (the add-on's end-to-end test uses them too).
DemoError = HassProcessError


def _load_state(config: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((config / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state


def _save_state(config: Path, state: dict[str, Any]) -> None:
    (config / STATE_FILE).write_text(json.dumps(state, indent=2))


async def _add_devices(api: HassApi, config: Path, sim_port: int) -> dict[str, str]:
    """Add the building's devices; returns entry ids by profile.

    A rerun whose simulator got the same port finds its entries in place (the flow aborts with
    already_configured); when the port changed, the entries of the last run point at nothing and
    are replaced. Entries added by hand are left alone.
    """
    state = _load_state(config)
    previous: dict[str, str] = state.get("entries", {}) if state.get("sim_port") == sim_port else {}
    if not previous:
        existing = {entry["entry_id"] for entry in
                    await api.call("GET", "/api/config/config_entries/entry", params={"domain": DOMAIN})}
        for entry_id in state.get("entries", {}).values():
            if entry_id in existing:
                await api.call("DELETE", f"/api/config/config_entries/entry/{entry_id}")
    entries: dict[str, str] = {}
    for unit_id, profile in DEVICES:
        entry = await add_modbus_device(api, LOOPBACK, sim_port, unit_id, profile)
        if entry is not None:
            entries[profile] = entry["entry_id"]
        elif profile in previous:
            entries[profile] = previous[profile]
        # Saved after each entry, so even an interrupted run is cleaned up by the next.
        _save_state(config, {"sim_port": sim_port, "entries": entries})
    return entries


async def _entities(api: HassApi) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each EAIO entry with the states of its entities, once the first poll has filled them in."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STATES_TIMEOUT
    while True:
        entries = await api.call("GET", "/api/config/config_entries/entry", params={"domain": DOMAIN})
        states = {s["entity_id"]: s for s in await api.call("GET", "/api/states")}
        grouped = []
        for entry in entries:
            ids = json.loads(await api.call("POST", "/api/template", json_body={
                "template": "{{ integration_entities(title) | list | to_json }}",
                "variables": {"title": entry["title"]},
            }))
            grouped.append((entry, [states[i] for i in sorted(ids) if i in states]))
        shown = [s for _, group in grouped for s in group]
        settled = shown and all(s["state"] not in ("unknown", "unavailable") for s in shown)
        if settled or loop.time() > deadline:
            return grouped
        await asyncio.sleep(1)


def _print_summary(api: HassApi, sim_port: int, config: Path,
                   grouped: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                   created: dict[str, str]) -> None:
    print(f"""
EAIO demo is running.

  Open      {api.base_url}
  Log in    {USERNAME} / {PASSWORD}
  Building  Modbus TCP on {LOOPBACK}:{sim_port}, """
          + ", ".join(f"unit {unit} {profile}" for unit, profile in DEVICES))
    for entry, states in grouped:
        print(f"\n{entry['title']}  (entry {entry['entry_id']}, {entry['state']})")
        width = max((len(s["entity_id"]) for s in states), default=0)
        for s in states:
            unit = s["attributes"].get("unit_of_measurement", "")
            print(f"  {s['entity_id']:<{width}}  {s['state']} {unit}".rstrip())
    profile, point, value = WRITE_EXAMPLE
    print(f"""
Try a write: Developer tools > Actions ({api.base_url}/developer-tools/action), YAML mode:
  action: {DOMAIN}.write_point
  data:
    config_entry_id: {created.get(profile, "<the entry id of the HVAC unit>")}
    point: {point}
    value: {value}
The setpoint's number entity follows at the next poll; each write fires an eaio_point_written event.

Logs: {config / "home-assistant.log"}, {config / "eaio_sim.log"}
Ctrl-C stops everything.""", flush=True)


class Demo:
    """The demo's processes and the steps that bring them up and down."""

    def __init__(self, config: Path, http_port: int) -> None:
        self.config = config
        self.http_port = http_port
        self.api: HassApi | None = None
        self.sim: Child | None = None
        self.sim_port = 0
        self.hass: Child | None = None
        self.session: aiohttp.ClientSession | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start_simulator(self, last_port: int) -> None:
        """The building, on the port of the last run if it is free: EAIO's entries and entity ids stay."""
        port = last_port if last_port and port_free(last_port) else 0
        if last_port and not port:
            print(f"Port {last_port} of the last run is busy; the building gets a new one.", flush=True)
        log = self.config / "eaio_sim.log"
        argv = [sys.executable, "-m", "eaio_sim", "--host", LOOPBACK, "--port", str(port)]
        for unit_id, profile in DEVICES:
            argv += ["--device", f"{unit_id}:{profile}"]
        self.sim = await spawn("the simulated building", argv, log, stdout_pipe=True)
        stdout = self.sim.proc.stdout
        assert stdout is not None
        try:  # it prints "READY modbus <host> <port>" once listening
            async with asyncio.timeout(SIM_START_TIMEOUT):
                while line := (await stdout.readline()).decode():
                    if line.startswith("READY modbus"):
                        self.sim_port = int(line.split()[-1])
                        break
        except TimeoutError:
            raise DemoError("the simulated building did not start", log) from None
        if not self.sim_port:
            raise DemoError("the simulated building exited while starting", log)
        # Keep reading its stdout, so a chatty simulator can never block on a full pipe.
        self._drain = asyncio.create_task(discard(stdout))

    async def start_hass(self) -> None:
        hass_bin = Path(sys.executable).parent / "hass"
        if not hass_bin.exists():
            raise DemoError(f"{hass_bin} not found: run the demo with ./scripts/demo")
        self.hass = await start_hass(hass_bin, self.config)

    async def start(self) -> None:
        print(f"Starting the simulated building and Home Assistant (config {self.config}) ...", flush=True)
        wanted, self.http_port = self.http_port, pick_port(self.http_port)
        if self.http_port != wanted:
            print(f"Port {wanted} is busy; Home Assistant gets port {self.http_port}.", flush=True)
        write_config(self.config, self.http_port)
        link_integration(self.config)
        seed_onboarding(self.config)
        await self.start_simulator(int(_load_state(self.config).get("sim_port", 0)))
        await self.start_hass()
        assert self.hass is not None
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.api = api = HassApi(self.session, f"http://{LOOPBACK}:{self.http_port}")
        await wait_until_serving(api, self.hass)
        await authenticate(api, USERNAME, PASSWORD, "Demo")
        await wait_until_running(api)
        created = await _add_devices(api, self.config, self.sim_port)
        grouped = await _entities(api)
        _print_summary(api, self.sim_port, self.config, grouped, created)

    async def supervise(self, stop: asyncio.Event, exit_after: float | None) -> int:
        """Run until asked to stop; restart hass when the UI asks for it; fail if a child dies."""
        assert self.sim is not None and self.hass is not None and self.api is not None
        stopped = asyncio.create_task(stop.wait())
        waits: set[asyncio.Task[Any]] = {stopped}
        if exit_after is not None:
            timer = asyncio.create_task(asyncio.sleep(exit_after))
            waits.add(timer)
        try:
            while True:
                hass_exit = asyncio.create_task(self.hass.proc.wait())
                sim_exit = asyncio.create_task(self.sim.proc.wait())
                await asyncio.wait(waits | {hass_exit, sim_exit}, return_when=asyncio.FIRST_COMPLETED)
                hass_exit.cancel()
                sim_exit.cancel()
                if stopped.done():
                    return 0
                if exit_after is not None and timer.done():
                    print(f"\n--exit-after {exit_after:g}: stopping.", flush=True)
                    return 0
                if self.sim.proc.returncode is not None:
                    raise DemoError(f"the simulated building exited with code {self.sim.proc.returncode}",
                                    self.sim.log)
                if self.hass.proc.returncode == 0:
                    print("Home Assistant was stopped; stopping the demo.", flush=True)
                    return 0
                if self.hass.proc.returncode != RESTART_EXIT_CODE:
                    raise DemoError(f"Home Assistant exited with code {self.hass.proc.returncode}",
                                    hass_log(self.hass))
                print("Home Assistant asked for a restart; restarting it ...", flush=True)
                await self.start_hass()
                await wait_until_serving(self.api, self.hass)
                print("Home Assistant is back.", flush=True)
        finally:
            for task in waits:
                task.cancel()

    async def stop(self) -> None:
        """Home Assistant first, so it does not log the building vanishing under it."""
        running = [c for c in (self.hass, self.sim) if c is not None and c.proc.returncode is None]
        if running:
            print("Stopping Home Assistant and the simulated building ...", flush=True)
        for child in running:
            await stop(child)
        if self._drain is not None:
            self._drain.cancel()
        if self.session is not None:
            await self.session.close()
        if running:
            print("Stopped.", flush=True)


async def run(config: Path, port: int, exit_after: float | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    demo = Demo(config, port)
    stopped = asyncio.create_task(stop.wait())
    try:
        starting = asyncio.create_task(demo.start())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C while starting
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        starting.result()
        return await demo.supervise(stop, exit_after)
    except (DemoError, aiohttp.ClientError, TimeoutError) as exc:
        # An API call that fails without an answer means hass went away: its log says why.
        print(f"\nerror: {exc or type(exc).__name__}", file=sys.stderr)
        log = getattr(exc, "log", None) or (hass_log(demo.hass) if demo.hass is not None else None)
        if log is not None and (last_lines := tail(log)):
            print(f"--- last lines of {log} ---\n{last_lines}\n---", file=sys.stderr)
        return 1
    finally:
        stopped.cancel()
        await demo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m eaio_sim.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", type=Path, default=ROOT / ".demo" / "config",
                        help="Home Assistant config dir, kept between runs (default: .demo/config)")
    parser.add_argument("--port", type=int, default=8123,
                        help="Home Assistant's HTTP port on 127.0.0.1; a free one if busy (default 8123)")
    parser.add_argument("--exit-after", type=float, metavar="SECONDS",
                        help="stop this many seconds after the demo is ready (for automated checks)")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.config_dir.resolve(), args.port, args.exit_after)))


if __name__ == "__main__":
    main()

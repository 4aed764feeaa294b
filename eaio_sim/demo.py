"""The demo: a simulated building and a real Home Assistant with EAIO added through its config flow.

``./scripts/demo`` runs ``python -m eaio_sim.demo`` in the project's virtual environment. It starts the
simulated building (a Modbus TCP server on loopback), then Home Assistant on loopback, creates the demo
user, adds the building's devices to EAIO exactly as a user would (config flow over the REST API), and
prints the address, the login and the entities. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
import ctypes
from dataclasses import dataclass
import json
from pathlib import Path
import signal
import socket
import sys
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "eaio"
LOOPBACK = "127.0.0.1"
USERNAME = "demo"
PASSWORD = "demo-eaio"
# Unit id and profile of each simulated device; the HVAC unit's setpoints are the writable points.
DEVICES: tuple[tuple[int, str], ...] = ((1, "three_phase_meter"), (2, "hvac_unit"))
WRITE_EXAMPLE = ("hvac_unit", "cooling_setpoint", 23.5)

SIM_START_TIMEOUT = 30.0
# The first start creates the database and the frontend's caches; two slow cores need their time.
HASS_START_TIMEOUT = 300.0
STATES_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
# hass exits with this code when a restart is asked for in the UI; it expects its caller to restart it.
RESTART_EXIT_CODE = 100
# The simulator's port and the EAIO entries of the last run: a rerun keeps or replaces them and leaves
# entries added by hand alone.
STATE_FILE = "eaio_demo.json"

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class DemoError(Exception):
    """A step failed; the message says which, ``log`` names the file that tells why."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class Child:
    """A process the demo started, and the file its output goes to."""

    name: str
    proc: asyncio.subprocess.Process
    log: Path
    started: float  # wall clock, to tell this run's log files from the last run's


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when the demo dies, even by SIGKILL."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def _spawn(name: str, argv: Sequence[str], log: Path, *, stdout_pipe: bool = False) -> Child:
    """Start a child in its own session: Ctrl-C reaches only the demo, which stops them in order."""
    started = time.time()
    with log.open("wb") as log_file:  # this run only, so a tail on failure shows this run
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=ROOT,  # "python -m eaio_sim" finds the repository's packages from here
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout_pipe else log_file,
            stderr=log_file,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name, proc, log, started)


async def _stop(child: Child) -> None:
    """Terminate, give it STOP_TIMEOUT to shut down cleanly, then kill."""
    if child.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.proc.terminate()
        try:
            await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            print(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it", flush=True)
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()
            await child.proc.wait()


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _port_free(port: int) -> bool:
    """Whether a server could listen on this loopback port now."""
    with socket.socket() as probe:
        # As the servers do: a port left in TIME_WAIT by the last run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _hass_log(hass: Child) -> Path:
    """home-assistant.log once this run has written to it; before that, what hass printed."""
    log = hass.log.parent / "home-assistant.log"
    with contextlib.suppress(OSError):
        # File times come from a coarse clock: allow a second, far less than any run takes.
        if log.stat().st_mtime >= hass.started - 1:
            return log
    return hass.log


def _pick_port(preferred: int) -> int:
    """The preferred port if free, else one the system picks."""
    if _port_free(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def _write_config(config: Path, http_port: int) -> None:
    """A minimal configuration: no default_config, whose discovery integrations reach past loopback."""
    config.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text(
        f"""# Written by ./scripts/demo on every run.
homeassistant:
  name: EAIO demo
  latitude: 52.52
  longitude: 13.405
  elevation: 34
  time_zone: Europe/Berlin
  country: DE
  currency: EUR
  unit_system: metric

http:
  server_host: {LOOPBACK}
  server_port: {http_port}

logger:
  default: warning
  logs:
    custom_components.eaio: info

frontend:
config:
energy:
history:
logbook:
recorder:
"""
    )


def _link_integration(config: Path) -> None:
    """Link the integration into the config dir, so edits in the repository show up on restart."""
    target = ROOT / "custom_components" / DOMAIN
    link = config / "custom_components" / DOMAIN
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        print(f"Using the copy of the integration in {link} (not a link to the repository)")
        return
    link.symlink_to(target, target_is_directory=True)


def _seed_onboarding(config: Path) -> None:
    """Mark onboarding's location step done before Home Assistant starts.

    Why: posting that step also sets up weather, radio and text-to-speech entries that fetch from the
    internet, and the location is in configuration.yaml already. The other steps go through the API.
    """
    path = config / ".storage" / "onboarding"
    try:
        stored: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        stored = {"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": []}}
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot read {path} ({exc}); delete {config} to start afresh") from exc
    done: list[str] = stored.setdefault("data", {}).setdefault("done", [])
    if "core_config" not in done:
        done.append("core_config")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))


def _load_state(config: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((config / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state


def _save_state(config: Path, state: dict[str, Any]) -> None:
    (config / STATE_FILE).write_text(json.dumps(state, indent=2))


class HassApi:
    """Home Assistant's REST API on loopback, as the frontend uses it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.client_id = f"{base_url}/"  # a client on the same host needs no registration
        self.token: str | None = None

    async def call(self, method: str, path: str, *, json_body: Any = None,
                   form: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Any:
        """One request; JSON answers are decoded, an error status raises DemoError."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(method, self.base_url + path, json=json_body, data=form,
                                        params=params, headers=headers) as resp:
            if resp.status >= 400:
                raise DemoError(f"{method} {path} answered {resp.status}: {(await resp.text())[:500]}")
            if resp.content_type == "application/json":
                return await resp.json()
            return await resp.text()

    async def status(self, path: str) -> int | None:
        """HTTP status of a GET, or None while nothing answers."""
        try:
            async with self.session.get(self.base_url + path) as resp:
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return None


async def _wait_until_serving(api: HassApi, hass: Child) -> None:
    """Home Assistant opens its HTTP port once the frontend (and with it onboarding) is set up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HASS_START_TIMEOUT
    while await api.status("/manifest.json") != 200:
        if hass.proc.returncode is not None:
            raise DemoError(f"Home Assistant exited with code {hass.proc.returncode} while starting",
                            _hass_log(hass))
        if loop.time() > deadline:
            raise DemoError(f"Home Assistant did not answer within {HASS_START_TIMEOUT:.0f} s",
                            _hass_log(hass))
        await asyncio.sleep(0.5)


async def _onboarding_steps(api: HassApi) -> dict[str, bool]:
    """Which onboarding steps are done; Home Assistant removes the endpoint when all are."""
    if await api.status("/api/onboarding") == 404:
        return {}
    steps: list[dict[str, Any]] = await api.call("GET", "/api/onboarding")
    return {step["step"]: bool(step["done"]) for step in steps}


async def _login(api: HassApi) -> str:
    """The login form of an already onboarded instance; returns an authorization code."""
    flow = await api.call("POST", "/auth/login_flow", json_body={
        "client_id": api.client_id,
        "handler": ["homeassistant", None],
        "redirect_uri": f"{api.client_id}?auth_callback=1",
    })
    result = await api.call("POST", f"/auth/login_flow/{flow['flow_id']}", json_body={
        "client_id": api.client_id, "username": USERNAME, "password": PASSWORD,
    })
    if result.get("type") != "create_entry":
        raise DemoError(f"logging in as {USERNAME} failed ({result.get('errors')}); "
                        "delete the demo's config dir to start afresh")
    code: str = result["result"]
    return code


async def _authenticate(api: HassApi) -> None:
    """Create the demo user on the first run, log in on later runs; finish onboarding's open steps."""
    steps = await _onboarding_steps(api)
    if steps and not steps.get("user"):
        answer = await api.call("POST", "/api/onboarding/users", json_body={
            "client_id": api.client_id, "name": "Demo", "username": USERNAME,
            "password": PASSWORD, "language": "en",
        })
        code: str = answer["auth_code"]
    else:
        code = await _login(api)
    tokens = await api.call("POST", "/auth/token", form={
        "grant_type": "authorization_code", "code": code, "client_id": api.client_id,
    })
    api.token = tokens["access_token"]
    # With every step done, the UI opens on the dashboard instead of the onboarding pages.
    if steps and not steps.get("analytics"):
        await api.call("POST", "/api/onboarding/analytics")
    if steps and not steps.get("integration"):
        await api.call("POST", "/api/onboarding/integration", json_body={
            "client_id": api.client_id, "redirect_uri": f"{api.client_id}?auth_callback=1",
        })


async def _wait_until_running(api: HassApi) -> None:
    """Integrations finish setting up after the HTTP port opens; config flows want them done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HASS_START_TIMEOUT
    while (await api.call("GET", "/api/config")).get("state") != "RUNNING":
        if loop.time() > deadline:
            raise DemoError("Home Assistant did not finish starting")
        await asyncio.sleep(0.5)


async def _add_device(api: HassApi, sim_port: int, unit_id: int, profile: str) -> dict[str, Any] | None:
    """Add one device through EAIO's config flow, step by step like the UI; None if already there."""
    result = await api.call("POST", "/api/config/config_entries/flow", json_body={"handler": DOMAIN})
    flow_path = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        result = await api.call("POST", flow_path, json_body={"next_step_id": "modbus"})
    if result["type"] == "form":
        result = await api.call("POST", flow_path, json_body={
            "host": LOOPBACK, "port": sim_port, "unit_id": unit_id, "profile": profile,
        })
    if result["type"] == "create_entry":
        entry: dict[str, Any] = result["result"]
        return entry
    if result["type"] == "abort" and result.get("reason") == "already_configured":
        return None
    raise DemoError(f"adding unit {unit_id} ({profile}) failed: "
                    f"{result.get('errors') or result.get('reason') or result}")


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
        entry = await _add_device(api, sim_port, unit_id, profile)
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
        port = last_port if last_port and _port_free(last_port) else 0
        if last_port and not port:
            print(f"Port {last_port} of the last run is busy; the building gets a new one.", flush=True)
        log = self.config / "eaio_sim.log"
        argv = [sys.executable, "-m", "eaio_sim", "--host", LOOPBACK, "--port", str(port)]
        for unit_id, profile in DEVICES:
            argv += ["--device", f"{unit_id}:{profile}"]
        self.sim = await _spawn("the simulated building", argv, log, stdout_pipe=True)
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
        self._drain = asyncio.create_task(_discard(stdout))

    async def start_hass(self) -> None:
        hass_bin = Path(sys.executable).parent / "hass"
        if not hass_bin.exists():
            raise DemoError(f"{hass_bin} not found: run the demo with ./scripts/demo")
        # The console output catches what hass prints before its own log file is open.
        self.hass = await _spawn("Home Assistant", [str(hass_bin), "-c", str(self.config), "--skip-pip"],
                                 self.config / "hass_console.log")

    async def start(self) -> None:
        print(f"Starting the simulated building and Home Assistant (config {self.config}) ...", flush=True)
        wanted, self.http_port = self.http_port, _pick_port(self.http_port)
        if self.http_port != wanted:
            print(f"Port {wanted} is busy; Home Assistant gets port {self.http_port}.", flush=True)
        _write_config(self.config, self.http_port)
        _link_integration(self.config)
        _seed_onboarding(self.config)
        await self.start_simulator(int(_load_state(self.config).get("sim_port", 0)))
        await self.start_hass()
        assert self.hass is not None
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.api = api = HassApi(self.session, f"http://{LOOPBACK}:{self.http_port}")
        await _wait_until_serving(api, self.hass)
        await _authenticate(api)
        await _wait_until_running(api)
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
                                    _hass_log(self.hass))
                print("Home Assistant asked for a restart; restarting it ...", flush=True)
                await self.start_hass()
                await _wait_until_serving(self.api, self.hass)
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
            await _stop(child)
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
        log = getattr(exc, "log", None) or (_hass_log(demo.hass) if demo.hass is not None else None)
        if log is not None and (tail := _tail(log)):
            print(f"--- last lines of {log} ---\n{tail}\n---", file=sys.stderr)
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

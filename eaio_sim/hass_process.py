"""A real Home Assistant process on loopback: configuration, start and stop, onboarding, tokens.

Shared by the demo (``eaio_sim.demo``), the add-on's end-to-end test and its runtime benchmark.
Imports only the standard library and aiohttp, so it also runs from the add-on's environment,
which has no Home Assistant installed (it starts ``hass`` from another environment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import ctypes
from dataclasses import dataclass
from datetime import datetime
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

# The first start creates the database and the frontend's caches; two slow cores need their time.
HASS_START_TIMEOUT = 300.0
STOP_TIMEOUT = 15.0
STATISTICS_TIMEOUT = 60.0  # an import waits in the recorder's queue behind its commits
# hass exits with this code when a restart is asked for in the UI; it expects its caller to restart it.
RESTART_EXIT_CODE = 100

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class HassProcessError(Exception):
    """A step failed; the message says which, ``log`` names the file that tells why."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class Child:
    """A process we started, and the file its output goes to."""

    name: str
    proc: asyncio.subprocess.Process
    log: Path
    started: float  # wall clock, to tell this run's log files from the last run's


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when its parent dies, even by SIGKILL."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def spawn(name: str, argv: Sequence[str], log: Path, *, stdout_pipe: bool = False,
                cwd: Path = ROOT, env: dict[str, str] | None = None) -> Child:
    """Start a child in its own session: Ctrl-C reaches only the caller, which stops children in order."""
    started = time.time()
    with log.open("wb") as log_file:  # this run only, so a tail on failure shows this run
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,  # "python -m eaio_sim" finds the repository's packages from the root
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout_pipe else log_file,
            stderr=log_file,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=env,
        )
    return Child(name, proc, log, started)


async def stop(child: Child) -> None:
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


async def discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def port_free(port: int) -> bool:
    """Whether a server could listen on this loopback port now."""
    with socket.socket() as probe:
        # As the servers do: a port left in TIME_WAIT by the last run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int = 0) -> int:
    """The preferred port if free, else one the system picks."""
    if preferred and port_free(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def hass_log(hass: Child) -> Path:
    """home-assistant.log once this run has written to it; before that, what hass printed."""
    log = hass.log.parent / "home-assistant.log"
    with contextlib.suppress(OSError):
        # File times come from a coarse clock: allow a second, far less than any run takes.
        if log.stat().st_mtime >= hass.started - 1:
            return log
    return hass.log


# The demo's integrations: the web UI and what its pages use. Whatever is listed, Home Assistant
# loads its frontend (without the home-assistant-frontend package it boots into recovery mode, with
# no custom integrations): every environment that runs hass needs that package.
DEMO_COMPONENTS = ("frontend", "config", "energy", "history", "logbook", "recorder")


def write_config(config: Path, http_port: int, *, name: str = "EAIO demo", written_by: str = "./scripts/demo",
                 components: Sequence[str] = DEMO_COMPONENTS, extra: str = "") -> None:
    """A minimal configuration: no default_config, whose discovery integrations reach past loopback."""
    config.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"{component}:\n" for component in components)
    (config / "configuration.yaml").write_text(
        f"""# Written by {written_by} on every run.
homeassistant:
  name: {name}
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

{listed}{extra}"""
    )


def link_integration(config: Path) -> None:
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


def seed_onboarding(config: Path) -> None:
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
        raise HassProcessError(f"cannot read {path} ({exc}); delete {config} to start afresh") from exc
    done: list[str] = stored.setdefault("data", {}).setdefault("done", [])
    if "core_config" not in done:
        done.append("core_config")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))


async def start_hass(hass_bin: Path, config: Path) -> Child:
    """Start ``hass`` on a prepared config dir; never pip-installs at runtime."""
    # The console output catches what hass prints before its own log file is open.
    return await spawn("Home Assistant", [str(hass_bin), "-c", str(config), "--skip-pip"],
                       config / "hass_console.log")


class HassApi:
    """Home Assistant's REST API on loopback, as the frontend uses it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.client_id = f"{base_url}/"  # a client on the same host needs no registration
        self.token: str | None = None

    async def call(self, method: str, path: str, *, json_body: Any = None,
                   form: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Any:
        """One request; JSON answers are decoded, an error status raises HassProcessError."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(method, self.base_url + path, json=json_body, data=form,
                                        params=params, headers=headers) as resp:
            if resp.status >= 400:
                raise HassProcessError(f"{method} {path} answered {resp.status}: {(await resp.text())[:500]}")
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


async def wait_until_serving(api: HassApi, hass: Child) -> None:
    """Home Assistant opens its HTTP port once the frontend (and with it onboarding) is set up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HASS_START_TIMEOUT
    while await api.status("/manifest.json") != 200:
        if hass.proc.returncode is not None:
            raise HassProcessError(f"Home Assistant exited with code {hass.proc.returncode} while starting",
                                   hass_log(hass))
        if loop.time() > deadline:
            raise HassProcessError(f"Home Assistant did not answer within {HASS_START_TIMEOUT:.0f} s",
                                   hass_log(hass))
        await asyncio.sleep(0.5)


async def onboarding_steps(api: HassApi) -> dict[str, bool]:
    """Which onboarding steps are done; Home Assistant removes the endpoint when all are."""
    if await api.status("/api/onboarding") == 404:
        return {}
    steps: list[dict[str, Any]] = await api.call("GET", "/api/onboarding")
    return {step["step"]: bool(step["done"]) for step in steps}


async def login(api: HassApi, username: str, password: str) -> str:
    """The login form of an already onboarded instance; returns an authorization code."""
    flow = await api.call("POST", "/auth/login_flow", json_body={
        "client_id": api.client_id,
        "handler": ["homeassistant", None],
        "redirect_uri": f"{api.client_id}?auth_callback=1",
    })
    result = await api.call("POST", f"/auth/login_flow/{flow['flow_id']}", json_body={
        "client_id": api.client_id, "username": username, "password": password,
    })
    if result.get("type") != "create_entry":
        raise HassProcessError(f"logging in as {username} failed ({result.get('errors')}); "
                               "delete the config dir to start afresh")
    code: str = result["result"]
    return code


async def authenticate(api: HassApi, username: str, password: str, name: str) -> None:
    """Create the user on the first run, log in on later runs; finish onboarding's open steps."""
    steps = await onboarding_steps(api)
    if steps and not steps.get("user"):
        answer = await api.call("POST", "/api/onboarding/users", json_body={
            "client_id": api.client_id, "name": name, "username": username,
            "password": password, "language": "en",
        })
        code: str = answer["auth_code"]
    else:
        code = await login(api, username, password)
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


async def wait_until_running(api: HassApi) -> None:
    """Integrations finish setting up after the HTTP port opens; config flows want them done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HASS_START_TIMEOUT
    while (await api.call("GET", "/api/config")).get("state") != "RUNNING":
        if loop.time() > deadline:
            raise HassProcessError("Home Assistant did not finish starting")
        await asyncio.sleep(0.5)


async def ws_command(api: HassApi, message: dict[str, Any]) -> Any:
    """One websocket command with the API's token, as the frontend sends it; its result, or an error."""
    url = api.base_url.replace("http://", "ws://", 1) + "/api/websocket"
    async with api.session.ws_connect(url, max_msg_size=0) as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": api.token})
        if (answer := await ws.receive_json()).get("type") != "auth_ok":
            raise HassProcessError(f"websocket auth failed: {answer}")
        await ws.send_json({"id": 1, **message})
        result = await ws.receive_json()
    if not result.get("success"):
        error = result.get("error") or {}
        raise HassProcessError(f"{message['type']} failed: {error.get('code')}: {error.get('message')}")
    return result.get("result")


async def long_lived_token(api: HassApi, client_name: str) -> str:
    """A long-lived access token, as a user makes one on the profile page (through the websocket API)."""
    token: str = await ws_command(api, {"type": "auth/long_lived_access_token", "client_name": client_name,
                                        "lifespan": 3650})
    return token


async def import_statistics(api: HassApi, entity_id: str, name: str | None, unit: str | None,
                            rows: list[dict[str, Any]], *, has_sum: bool) -> None:
    """Hourly long-term statistics of a sensor into the recorder (``recorder/import_statistics``, admin).

    ``rows``: {"start": ISO hour, "mean"/"min"/"max"} for a measurement, {"start", "state", "sum"}
    for a meter. Home Assistant before 2025.5 knows ``has_mean``; later versions also take ``mean_type``.
    """
    metadata: dict[str, Any] = {"has_sum": has_sum, "name": name, "source": "recorder", "statistic_id": entity_id,
                                "unit_of_measurement": unit}
    try:
        await ws_command(api, {"type": "recorder/import_statistics", "metadata": {**metadata, "has_mean": not has_sum},
                               "stats": rows})
    except HassProcessError as exc:
        if "invalid_format" not in str(exc):
            raise
        await ws_command(api, {"type": "recorder/import_statistics",
                               "metadata": {**metadata, "mean_type": 0 if has_sum else 1}, "stats": rows})


async def wait_statistics(api: HassApi, statistic_ids: list[str], start: datetime, end: datetime) -> None:
    """Until each statistic has rows between ``start`` and ``end``: the recorder imports in its own queue."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STATISTICS_TIMEOUT
    while True:
        result = await ws_command(api, {"type": "recorder/statistics_during_period", "start_time": start.isoformat(),
                                        "end_time": end.isoformat(), "statistic_ids": statistic_ids,
                                        "period": "hour", "types": ["mean", "state"]})
        if all(result.get(s) for s in statistic_ids):
            return
        if loop.time() > deadline:
            raise HassProcessError(f"the recorder did not import statistics of {statistic_ids} within {STATISTICS_TIMEOUT:.0f} s")
        await asyncio.sleep(1.0)


async def add_modbus_device(api: HassApi, host: str, port: int, unit_id: int,
                            profile: str) -> dict[str, Any] | None:
    """Add one Modbus device through EAIO's config flow, step by step like the UI; None if already there."""
    result = await api.call("POST", "/api/config/config_entries/flow", json_body={"handler": DOMAIN})
    flow_path = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        result = await api.call("POST", flow_path, json_body={"next_step_id": "modbus"})
    if result["type"] == "form":
        result = await api.call("POST", flow_path, json_body={
            "host": host, "port": port, "unit_id": unit_id, "profile": profile,
        })
    if result["type"] == "create_entry":
        entry: dict[str, Any] = result["result"]
        return entry
    if result["type"] == "abort" and result.get("reason") == "already_configured":
        return None
    raise HassProcessError(f"adding unit {unit_id} ({profile}) failed: "
                           f"{result.get('errors') or result.get('reason') or result}")


def udp_port_free(port: int) -> bool:
    """Whether a UDP socket could bind this loopback port now (BACnet/IP runs over UDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_udp_port(preferred: int = 0) -> int:
    """The preferred UDP port if free, else one the system picks."""
    if preferred and udp_port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


async def add_bacnet_device(api: HassApi, local_address: str, device_address: str,
                            instance: int) -> dict[str, Any] | None:
    """Add one BACnet/IP device through EAIO's config flow, like the UI: the local interface and the
    device's address (a directed Who-Is: broadcasts do not cross loopback), the device among those that
    answered, then every object it offers. None if the device is there already."""
    result = await api.call("POST", "/api/config/config_entries/flow", json_body={"handler": DOMAIN})
    flow_path = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        result = await api.call("POST", flow_path, json_body={"next_step_id": "bacnet"})
    steps: list[str] = []
    while result["type"] == "form" and not result.get("errors") and len(steps) < 3:
        step = result["step_id"]
        steps.append(step)
        if step == "bacnet":
            answer: dict[str, Any] = {"local_address": local_address, "device_address": device_address}
        elif step == "bacnet_device":
            answer = {"device_instance": str(instance)}
        elif step == "bacnet_objects":
            fields = {field["name"]: field for field in result["data_schema"]}
            offered = fields["objects"]["selector"]["select"]["options"]
            answer = {"objects": [option["value"] for option in offered]}
        else:
            break
        result = await api.call("POST", flow_path, json_body=answer)
    if result["type"] == "create_entry":
        entry: dict[str, Any] = result["result"]
        return entry
    if result["type"] == "abort" and result.get("reason") == "already_configured":
        return None
    if result["type"] == "form":  # a form left open holds EAIO's BACnet port: close it
        with contextlib.suppress(HassProcessError):
            await api.call("DELETE", flow_path)
    raise HassProcessError(f"adding BACnet device {instance} at {device_address} failed after steps "
                           f"{steps}: {result.get('errors') or result.get('reason') or result}")

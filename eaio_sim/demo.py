"""The demo: a simulated building and a real Home Assistant with EAIO added through its config flow.

``./scripts/demo`` runs ``python -m eaio_sim.demo`` in the project's virtual environment. It starts the
simulated building on loopback (a Modbus TCP server with an energy meter and an HVAC unit, a BACnet/IP
VAV zone controller, and an MQTT broker with a room multi-sensor publishing to it), then Home Assistant
on loopback, creates the demo user, sets up Home Assistant's MQTT integration and adds the building's
devices to EAIO exactly as a user would (config flows over the REST API), and prints the address, the
login and the entities with their states. Then the add-on runs standalone (``eaio_sim.demo_addon``),
linked through EAIO's add-on step; one optimization runs and the recommendation sensors and the
assistant's answer are printed. Ctrl-C stops everything.

With ``--exit-after SECONDS`` it runs unattended: it fails (exit status 1) when any entity of the
devices it added has no real state or the add-on is not linked with its sensors, and otherwise stops
after that many seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import signal
import sys
from typing import Any

import aiohttp

from .demo_addon import (
    QUESTION,
    addon_recommendations,
    ask,
    link_addon,
    recommendation_sensors,
    run_optimization,
    spawn_addon,
    start_addon,
    summary_sensor,
    wait_backfill,
)
from .demo_args import parser
from .demo_control import carry_out_plan
from .demo_equipment import BATTERY_PROFILE, PLUG_PROFILE, Equipment, find_equipment, set_energy_dashboard
from .hass_process import (
    DOMAIN,
    LOOPBACK,
    RESTART_EXIT_CODE,
    Child,
    HassApi,
    HassProcessError,
    add_bacnet_device,
    add_modbus_device,
    authenticate,
    discard,
    hass_log,
    link_integration,
    pick_port,
    pick_udp_port,
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
from .history import HISTORY_DAYS, import_history
from .mqtt_broker import BrokerLogin, add_eaio_mqtt_device, setup_mqtt, start_broker
from .mqtt_sensors import PASSWORD_ENV

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "demo"
PASSWORD = "demo-eaio"
# Unit id and profile of each simulated device; the HVAC unit's setpoints are the writable points.
DEVICES: tuple[tuple[int, str], ...] = ((1, "three_phase_meter"), (2, "hvac_unit"), (3, BATTERY_PROFILE),
                                        (4, PLUG_PROFILE))
WRITE_EXAMPLE = ("hvac_unit", "cooling_setpoint", 23.5)
# The BACnet/IP VAV zone controller (eaio_sim.bacnet): zone temperature, setpoint, damper and more.
BACNET_INSTANCE = 1001
BACNET_NAME = "VAV zone controller"
# The room multi-sensor on MQTT (EAIO's multi_sensor profile), and the broker's only login.
MQTT_BASE_TOPIC = "eaio-demo/meeting-room"
MQTT_DEVICE_NAME = "Meeting room sensor"
MQTT_PROFILE = "multi_sensor"
MQTT_INTERVAL = 5.0
BROKER_LOGIN = BrokerLogin("eaio-demo", "eaio-demo-mqtt")

SIM_START_TIMEOUT = 30.0
STATES_TIMEOUT = 60.0
# What is not a real state: the device has not answered, or never sent a value.
NO_STATE = ("unknown", "unavailable")
# The ports of the simulators and broker and the entries of the last run: a rerun keeps or replaces
# them and leaves entries added by hand alone.
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


async def _entry_ids(api: HassApi, domain: str) -> set[str]:
    entries = await api.call("GET", "/api/config/config_entries/entry", params={"domain": domain})
    return {entry["entry_id"] for entry in entries}


async def _remove_entries(api: HassApi, domain: str, entry_ids: list[str]) -> None:
    """Entries of the last run that point at a port this run does not use."""
    existing = await _entry_ids(api, domain)
    for entry_id in entry_ids:
        if entry_id in existing:
            await api.call("DELETE", f"/api/config/config_entries/entry/{entry_id}")


@dataclass
class Added:
    """An entry the demo made (or found from its last run), for the summary and the state check."""

    kind: str
    entry_id: str


class Demo:
    """The demo's processes and the steps that bring them up and down.

    Each peer is one ``start_*`` method (a child process) and each device one ``add_*`` method (a config
    flow); ``start`` lists them in order, so another peer is one more pair of lines there.
    """

    def __init__(self, config: Path, http_port: int) -> None:
        self.config = config
        self.http_port = http_port
        self.api: HassApi | None = None
        self.hass: Child | None = None
        # The peers besides Home Assistant, in start order; any of them exiting ends the demo.
        self.children: list[Child] = []
        self.sim_port = 0
        self.bacnet_port = 0
        self.bacnet_local_port = 0
        self.broker_port = 0
        self.added: list[Added] = []
        self.grouped: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.state: dict[str, Any] = {}
        self.addon_recommendations = 0
        self.equipment = Equipment()
        self.early_addon: tuple[Child, str] | None = None
        self.session: aiohttp.ClientSession | None = None
        self._drains: list[asyncio.Task[None]] = []

    def _save(self) -> None:
        # Saved after each entry, so even an interrupted run is cleaned up by the next.
        _save_state(self.config, self.state)

    async def _start_until_ready(self, name: str, argv: list[str], log: Path, ready: str,
                                 env: dict[str, str] | None = None) -> list[str]:
        """Start a peer that prints ``<ready> ...`` once serving; returns that line's words."""
        child = await spawn(name, argv, log, stdout_pipe=True, env=env)
        self.children.append(child)
        stdout = child.proc.stdout
        assert stdout is not None
        words: list[str] = []
        try:
            async with asyncio.timeout(SIM_START_TIMEOUT):
                while line := (await stdout.readline()).decode():
                    if line.startswith(ready):
                        words = line.split()
                        break
        except TimeoutError:
            raise DemoError(f"{name} did not start", log) from None
        if not words:
            raise DemoError(f"{name} exited while starting", log)
        # Keep reading its stdout, so a chatty peer can never block on a full pipe.
        self._drains.append(asyncio.create_task(discard(stdout)))
        return words

    async def start_simulator(self) -> None:
        """The building, on the port of the last run if it is free: EAIO's entries and entity ids stay."""
        last_port = int(self.state.get("sim_port", 0))
        port = last_port if last_port and port_free(last_port) else 0
        if last_port and not port:
            print(f"Port {last_port} of the last run is busy; the building gets a new one.", flush=True)
        argv = [sys.executable, "-m", "eaio_sim", "--host", LOOPBACK, "--port", str(port)]
        for unit_id, profile in DEVICES:
            argv += ["--device", f"{unit_id}:{profile}"]
        words = await self._start_until_ready("the simulated building", argv, self.config / "eaio_sim.log",
                                              "READY modbus")
        self.sim_port = int(words[-1])

    async def start_bacnet(self) -> None:
        """The VAV zone controller on the UDP port of the last run if free; EAIO's own BACnet port too.

        Both ports are picked before Home Assistant starts, while it does not hold its own yet.
        """
        last = self.state.get("bacnet", {})
        port = pick_udp_port(int(last.get("port", 0)))
        self.bacnet_local_port = pick_udp_port(int(last.get("local_port", 0)))
        argv = [sys.executable, "-m", "eaio_sim.bacnet", "--host", LOOPBACK, "--port", str(port),
                "--instance", str(BACNET_INSTANCE), "--name", BACNET_NAME]
        words = await self._start_until_ready("the BACnet zone controller", argv,
                                              self.config / "eaio_sim_bacnet.log", "READY bacnet")
        self.bacnet_port = int(words[3])
        if last.get("port") and self.bacnet_port != last["port"]:
            print(f"UDP port {last['port']} of the last run is busy; the zone controller gets a new one.",
                  flush=True)

    async def start_mqtt(self) -> None:
        """The broker (port of the last run if free), then the room sensor publishing to it."""
        workdir = self.config / "eaio_demo_mosquitto"
        broker, self.broker_port = await start_broker(workdir, BROKER_LOGIN,
                                                      int(self.state.get("mqtt", {}).get("broker_port", 0)))
        self.children.append(broker)
        if (last_port := self.state.get("mqtt", {}).get("broker_port")) and self.broker_port != last_port:
            print(f"Port {last_port} of the last run is busy; the MQTT broker gets a new one.", flush=True)
        argv = [sys.executable, "-m", "eaio_sim.mqtt_sensors", "--host", LOOPBACK,
                "--port", str(self.broker_port), "--username", BROKER_LOGIN.username,
                "--topic", MQTT_BASE_TOPIC, "--interval", str(MQTT_INTERVAL)]
        await self._start_until_ready("the MQTT room sensor", argv, self.config / "eaio_sim_mqtt.log",
                                      "READY mqtt_sensors",
                                      env={**os.environ, PASSWORD_ENV: BROKER_LOGIN.password})

    async def start_addon_early(self) -> None:
        """On a rerun the add-on starts before Home Assistant, as under the Supervisor, so EAIO's add-on link
        finds it at Home Assistant's start instead of logging it unreachable; it connects once Home Assistant
        is up. The first run has no token for it yet."""
        state = self.state.get("addon", {})
        token, options = state.get("ha_token"), self.config / "eaio_addon" / "options.yaml"
        if not isinstance(token, str) or not options.exists():
            return
        child, url = await spawn_addon(f"http://{LOOPBACK}:{self.http_port}", self.config / "eaio_addon",
                                       self.config / "eaio_addon.log", state, token, equipment=None)
        self.children.append(child)
        self.early_addon = (child, url)

    async def start_hass(self) -> None:
        hass_bin = Path(sys.executable).parent / "hass"
        if not hass_bin.exists():
            raise DemoError(f"{hass_bin} not found: run the demo with ./scripts/demo")
        self.hass = await start_hass(hass_bin, self.config)

    async def add_modbus(self, api: HassApi) -> None:
        """The building's Modbus devices.

        A rerun whose simulator got the same port finds its entries in place (the flow aborts with
        already_configured); when the port changed, the entries of the last run point at nothing and
        are replaced. Entries added by hand are left alone.
        """
        last = self.state.get("entries", {})
        previous: dict[str, str] = last if self.state.get("sim_port") == self.sim_port else {}
        if not previous:
            await _remove_entries(api, DOMAIN, list(last.values()))
        entries: dict[str, str] = {}
        self.state.update(sim_port=self.sim_port, entries=entries)
        for unit_id, profile in DEVICES:
            entry = await add_modbus_device(api, LOOPBACK, self.sim_port, unit_id, profile)
            if entry is not None:
                entries[profile] = entry["entry_id"]
            elif profile in previous:
                entries[profile] = previous[profile]
            if profile in entries:
                self.added.append(Added("Modbus TCP", entries[profile]))
            self._save()

    async def add_bacnet(self, api: HassApi) -> None:
        """The zone controller through EAIO's BACnet steps: interface, device, objects."""
        last = self.state.get("bacnet", {})
        same = (last.get("port"), last.get("local_port")) == (self.bacnet_port, self.bacnet_local_port)
        if not same and last.get("entry"):
            await _remove_entries(api, DOMAIN, [last["entry"]])
        entry = await add_bacnet_device(api, f"{LOOPBACK}:{self.bacnet_local_port}",
                                        f"{LOOPBACK}:{self.bacnet_port}", BACNET_INSTANCE)
        entry_id = entry["entry_id"] if entry is not None else last.get("entry") if same else None
        if entry_id is None:
            raise DemoError(f"BACnet device {BACNET_INSTANCE} is in EAIO already, added by hand with "
                            "another address; remove it in Settings > Devices & services and rerun")
        self.added.append(Added("BACnet/IP", entry_id))
        self.state["bacnet"] = {"port": self.bacnet_port, "local_port": self.bacnet_local_port, "entry": entry_id}
        self._save()

    async def add_mqtt(self, api: HassApi) -> None:
        """Home Assistant's MQTT integration (one entry at most), then EAIO's MQTT device on it."""
        last = self.state.get("mqtt", {})
        existing = await _entry_ids(api, "mqtt")
        mqtt_entry: str | None = last.get("mqtt_entry")
        if existing and mqtt_entry not in existing:
            raise DemoError("Home Assistant has an MQTT entry the demo did not make; remove it in Settings > "
                            f"Devices & services or use another --config-dir than {self.config}")
        if mqtt_entry in existing and last.get("broker_port") != self.broker_port:
            # The broker got another port: the MQTT entry and the device on it are made afresh.
            await _remove_entries(api, DOMAIN, [last["entry"]] if last.get("entry") else [])
            await _remove_entries(api, "mqtt", [mqtt_entry] if mqtt_entry else [])
            existing = set()
        if not existing:
            mqtt_entry = await setup_mqtt(api, self.broker_port, BROKER_LOGIN)
        self.state["mqtt"] = state = {"broker_port": self.broker_port, "mqtt_entry": mqtt_entry,
                                      "entry": last.get("entry")}
        self._save()
        entry_id = await add_eaio_mqtt_device(api, MQTT_DEVICE_NAME, MQTT_BASE_TOPIC, MQTT_PROFILE)
        entry_id = entry_id or state["entry"]
        if entry_id is None:
            raise DemoError(f"an EAIO MQTT device on {MQTT_BASE_TOPIC} was added by hand; remove it and rerun")
        state["entry"] = entry_id
        self.added.append(Added("MQTT", entry_id))
        self._save()

    async def add_history(self, api: HassApi) -> None:
        """Four weeks of the Modbus devices' past into the recorder, once per config dir (eaio_sim.history)."""
        if until := self.state.get("history_until"):
            print(f"\nThe recorder has the building's hourly history up to {until} (written by an earlier run).")
            return
        modbus = {added.entry_id for added in self.added if added.kind == "Modbus TCP"}
        states = [s for entry, group in self.grouped if entry["entry_id"] in modbus for s in group]
        tz = (await api.call("GET", "/api/config"))["time_zone"]
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        print(f"\nWriting {HISTORY_DAYS} days of the simulated building's hourly history into Home Assistant's "
              "recorder (long-term statistics, as an installation that has run for weeks has) ...", flush=True)
        imported = await import_history(api, states, tz, end)
        self.state["history_until"] = end.isoformat()
        self._save()
        print(f"  {len(imported)} sensors, up to {end:%Y-%m-%d %H:%M} UTC", flush=True)

    async def add_energy_dashboard(self, api: HassApi) -> None:
        """The meters in Home Assistant's Energy dashboard (grid, battery, the HVAC unit and the plug)."""
        self.equipment = await find_equipment(api, dict(self.state.get("entries", {})))
        problems = await set_energy_dashboard(api, self.equipment)
        print("\nEnergy dashboard: grid " + str(self.equipment.grid_import) + ", battery "
              + str(self.equipment.battery_discharged) + " / " + str(self.equipment.battery_charged)
              + ", devices " + ", ".join(e for e in (self.equipment.hvac_energy, self.equipment.plug_energy) if e)
              + (f"\n  its validation reports: {'; '.join(problems)}" if problems else "; its validation reports nothing"),
              flush=True)

    async def add_addon(self, api: HassApi) -> None:
        """The add-on standalone, linked through EAIO's manual add-on path; one optimization run, then
        the recommendation sensors and the assistant's answer. Not linked is an error; no recommendation
        (the demo's history is short) is shown as the add-on says it."""
        state: dict[str, Any] = self.state.setdefault("addon", {})
        print("\nStarting the EAIO add-on (standalone, no language model) ...", flush=True)
        child, url, api_token = await start_addon(api, self.config / "eaio_addon", self.config / "eaio_addon.log",
                                                  state, self.equipment.addon_options(), self.early_addon)
        if self.early_addon is None:
            self.children.append(child)
        self._save()
        backfill = await wait_backfill(api, url, api_token)
        print(f"  history read from the recorder: {backfill.get('entities')} entities", flush=True)
        entry_id = await link_addon(api, url, api_token, state)
        self._save()
        await recommendation_sensors(api, entry_id)  # the link is loaded and its sensors exist
        run = await run_optimization(api, entry_id)
        missing = ", ".join(run.get("missing") or []) or "nothing"
        print(f"\nEAIO add-on at {url} (entry {entry_id}); optimization {run.get('status')}: "
              f"{run.get('recommendations', 0)} recommendations, missing {missing}", flush=True)
        for step, error in (run.get("errors") or {}).items():
            print(f"  {step}: {error}")
        # The add-on's pushes (the plan, then the recommendations) reach the sensors within seconds.
        states = await recommendation_sensors(api, entry_id, expect=int(run.get("recommendations", 0)))
        width = max(len(s["entity_id"]) for s in states)
        for s in states:
            unit = "" if s["state"] in NO_STATE else s["attributes"].get("unit_of_measurement", "")
            print(f"  {s['entity_id']:<{width}}  {s['state']} {unit}".rstrip())
        summary = summary_sensor(states)
        assert summary is not None
        self.addon_recommendations = int(summary["state"]) if summary["state"].isdigit() else 0
        if top := summary["attributes"].get("top_title"):
            print(f"  top recommendation: {top}")
        for rec in await addon_recommendations(api, url, api_token):
            print(f"  - {rec.get('title')} ({rec.get('category')})")
        agent = next((s["entity_id"] for s in states if s["entity_id"].startswith("conversation.")), None)
        if agent is None:
            raise DemoError("EAIO's add-on entry has no conversation agent")
        print(f'\nAsked {agent} "{QUESTION}":\n  {await ask(api, agent)}', flush=True)
        await carry_out_plan(api, entry_id, self.equipment)

    async def start(self) -> None:
        print(f"Starting the simulated building and Home Assistant (config {self.config}) ...", flush=True)
        wanted, self.http_port = self.http_port, pick_port(self.http_port)
        if wanted and self.http_port != wanted:
            print(f"Port {wanted} is busy; Home Assistant gets port {self.http_port}.", flush=True)
        write_config(self.config, self.http_port)
        link_integration(self.config)
        seed_onboarding(self.config)
        self.state = _load_state(self.config)
        await self.start_simulator()
        await self.start_bacnet()
        await self.start_mqtt()
        await self.start_addon_early()
        await self.start_hass()
        assert self.hass is not None
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.api = api = HassApi(self.session, f"http://{LOOPBACK}:{self.http_port}")
        await wait_until_serving(api, self.hass)
        await authenticate(api, USERNAME, PASSWORD, "Demo")
        await wait_until_running(api)
        await self.add_modbus(api)
        await self.add_bacnet(api)
        await self.add_mqtt(api)
        self.grouped = await self.entities()
        self.print_summary(self.grouped)
        await self.add_history(api)
        await self.add_energy_dashboard(api)
        await self.add_addon(api)

    async def entities(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each EAIO entry with the states of its entities, once the first values have filled them in."""
        assert self.api is not None
        api = self.api
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
            if not self.missing(grouped) or loop.time() > deadline:
                return grouped
            await asyncio.sleep(1)

    def missing(self, grouped: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[str]:
        """What the demo added but Home Assistant does not show with a real state."""
        by_id = {entry["entry_id"]: (entry, states) for entry, states in grouped}
        problems: list[str] = []
        for added in self.added:
            if added.entry_id not in by_id:
                problems.append(f"{added.kind} entry {added.entry_id} is gone")
                continue
            entry, states = by_id[added.entry_id]
            if entry["state"] != "loaded":
                problems.append(f"{added.kind} entry {entry['title']} is {entry['state']}")
            if not states:
                problems.append(f"{added.kind} entry {entry['title']} has no entities")
            problems += [f"{s['entity_id']} is {s['state']}" for s in states if s["state"] in NO_STATE]
        return problems

    def print_summary(self, grouped: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        assert self.api is not None
        base_url = self.api.base_url
        kinds = {added.entry_id: added.kind for added in self.added}
        print(f"""
EAIO demo is running.

  Open      {base_url}
  Log in    {USERNAME} / {PASSWORD}
  Modbus    TCP on {LOOPBACK}:{self.sim_port}, """
              + ", ".join(f"unit {unit} {profile}" for unit, profile in DEVICES)
              + f"""
  BACnet/IP {BACNET_NAME}, device {BACNET_INSTANCE} on {LOOPBACK}:{self.bacnet_port} (UDP); EAIO listens on \
{LOOPBACK}:{self.bacnet_local_port}
  MQTT      broker on {LOOPBACK}:{self.broker_port} (user {BROKER_LOGIN.username}, password \
{BROKER_LOGIN.password}), room multi-sensor on {MQTT_BASE_TOPIC} every {MQTT_INTERVAL:g} s""")
        for entry, states in grouped:
            kind = kinds.get(entry["entry_id"], "added by hand")
            print(f"\n{entry['title']}  ({kind}, entry {entry['entry_id']}, {entry['state']})")
            width = max((len(s["entity_id"]) for s in states), default=0)
            for s in states:
                unit = "" if s["state"] in NO_STATE else s["attributes"].get("unit_of_measurement", "")
                print(f"  {s['entity_id']:<{width}}  {s['state']} {unit}".rstrip())
        created = dict(self.state.get("entries", {}))
        profile, point, value = WRITE_EXAMPLE
        print(f"""
Try a write: Developer tools > Actions ({base_url}/developer-tools/action), YAML mode:
  action: {DOMAIN}.write_point
  data:
    config_entry_id: {created.get(profile, "<the entry id of the HVAC unit>")}
    point: {point}
    value: {value}
The setpoint's number entity follows at the next poll; each write fires an eaio_point_written event.

Logs: {self.config / "home-assistant.log"}, and next to it eaio_sim*.log, eaio_demo_mosquitto/mosquitto.log
Ctrl-C stops everything.""", flush=True)

    async def supervise(self, stop: asyncio.Event, exit_after: float | None) -> int:
        """Run until asked to stop; restart hass when the UI asks for it; fail if a child dies."""
        assert self.hass is not None and self.api is not None
        stopped = asyncio.create_task(stop.wait())
        waits: set[asyncio.Task[Any]] = {stopped}
        if exit_after is not None:
            timer = asyncio.create_task(asyncio.sleep(exit_after))
            waits.add(timer)
        try:
            while True:
                exits = {asyncio.create_task(child.proc.wait()) for child in (self.hass, *self.children)}
                await asyncio.wait(waits | exits, return_when=asyncio.FIRST_COMPLETED)
                for task in exits:
                    task.cancel()
                if stopped.done():
                    return 0
                if exit_after is not None and timer.done():
                    print(f"\n--exit-after {exit_after:g}: stopping.", flush=True)
                    return 0
                for child in self.children:
                    if child.proc.returncode is not None:
                        raise DemoError(f"{child.name} exited with code {child.proc.returncode}", child.log)
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
        """Home Assistant first, so it does not log the building vanishing under it; then the rest,
        publishers before the broker they publish to."""
        running = [c for c in (self.hass, *reversed(self.children)) if c is not None and c.proc.returncode is None]
        if running:
            print("Stopping Home Assistant and the simulated building ...", flush=True)
        for child in running:
            await stop(child)
        for drain in self._drains:
            drain.cancel()
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
        if problems := demo.missing(demo.grouped):
            print("\nWithout a real state after "
                  f"{STATES_TIMEOUT:.0f} s:\n  " + "\n  ".join(problems), file=sys.stderr, flush=True)
            if exit_after is not None:
                return 1
        elif exit_after is not None:
            print(f"\nEvery entity of the {len(demo.added)} devices the demo added has a real state.", flush=True)
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
    args = parser().parse_args()
    sys.exit(asyncio.run(run(args.config_dir.resolve(), args.port, args.exit_after)))


if __name__ == "__main__":
    main()

"""A real MQTT broker (Debian's mosquitto) on loopback, and Home Assistant's MQTT set up through its flows.

Shared by the demo (``eaio_sim.demo``) and the MQTT throughput benchmark (``benchmarks/mqtt_throughput.py``).
Imports only the standard library, aiohttp and ``hass_process``, like that module.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
import shutil
import subprocess
from typing import Any

from .hass_process import DOMAIN, LOOPBACK, Child, HassApi, HassProcessError, pick_port, spawn

BROKER_START_TIMEOUT = 10.0
ENTRY_LOAD_TIMEOUT = 30.0
FLOWS = "/api/config/config_entries/flow"


@dataclass(frozen=True, slots=True)
class BrokerLogin:
    username: str
    password: str


def check_mosquitto() -> None:
    missing = [tool for tool in ("mosquitto", "mosquitto_passwd", "mosquitto_pub") if shutil.which(tool) is None]
    if missing:
        raise HassProcessError(f"{', '.join(missing)} not found: install Debian's mosquitto and "
                               "mosquitto-clients (./scripts/demo and ./scripts/test do)")


def write_broker_config(workdir: Path, port: int, login: BrokerLogin) -> Path:
    """Password file and config as the tests use them (tests/conftest.py, class Mosquitto)."""
    workdir.mkdir(parents=True, exist_ok=True)
    passwd = workdir / "mosquitto.passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), login.username, login.password], check=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        "per_listener_settings false\nallow_anonymous false\n"
        f"password_file {passwd}\npersistence false\n"
        # Started as root, the broker would drop to a user that cannot read the password file.
        "user root\n"
        f"listener {port} {LOOPBACK}\n"
    )
    return conf


async def start_broker(workdir: Path, login: BrokerLogin, preferred_port: int = 0) -> tuple[Child, int]:
    """mosquitto on the preferred loopback port if free (else any), answering to ``login`` only."""
    check_mosquitto()
    port = pick_port(preferred_port)
    conf = write_broker_config(workdir, port, login)
    broker = await spawn("mosquitto", ["mosquitto", "-c", str(conf)], workdir / "mosquitto.log")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BROKER_START_TIMEOUT
    while True:  # a publish with the password proves both the listener and the password file
        probe = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", LOOPBACK, "-p", str(port), "-u", login.username, "-P", login.password,
            "-t", "eaio/probe", "-m", "1",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        if await probe.wait() == 0:
            return broker, port
        if broker.proc.returncode is not None or loop.time() > deadline:
            raise HassProcessError("mosquitto did not start", broker.log)
        await asyncio.sleep(0.05)


async def flow_step(api: HassApi, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One step of a config or options flow; a form that comes back with errors raises."""
    result: dict[str, Any] = await api.call("POST", path, json_body=body)
    if result.get("errors"):
        raise HassProcessError(f"{path}: {result['errors']}")
    return result


async def wait_entry_loaded(api: HassApi, domain: str, entry_id: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ENTRY_LOAD_TIMEOUT
    while True:
        entries = await api.call("GET", "/api/config/config_entries/entry", params={"domain": domain})
        state = next((e["state"] for e in entries if e["entry_id"] == entry_id), None)
        if state == "loaded":
            return
        if loop.time() > deadline:
            raise HassProcessError(f"{domain} entry {entry_id} is {state}, not loaded")
        await asyncio.sleep(0.2)


async def setup_mqtt(api: HassApi, broker_port: int, login: BrokerLogin, *, birth: bool = True) -> str:
    """Home Assistant's MQTT integration through its config flow, as a user adds it; returns the entry id."""
    result = await flow_step(api, FLOWS, {"handler": "mqtt", "show_advanced_options": False})
    if result["type"] != "form" or result["step_id"] != "broker":
        raise HassProcessError(f"MQTT flow: expected the broker form, got {result}")
    result = await flow_step(api, f"{FLOWS}/{result['flow_id']}", {
        "broker": LOOPBACK, "port": broker_port, "username": login.username, "password": login.password,
    })
    if result["type"] != "create_entry":
        raise HassProcessError(f"MQTT flow did not create an entry: {result}")
    entry_id: str = result["result"]["entry_id"]
    if not birth:
        await disable_birth_message(api, entry_id)
    await wait_entry_loaded(api, "mqtt", entry_id)
    return entry_id


async def disable_birth_message(api: HassApi, entry_id: str) -> None:
    """Options flow: birth message off (its online publish is no part of a device's traffic).

    Discovery and the will message keep their defaults, as a user's installation has them.
    """
    flows = "/api/config/config_entries/options/flow"
    result = await flow_step(api, flows, {"handler": entry_id})
    if result["type"] != "form":
        raise HassProcessError(f"MQTT options flow: expected a form, got {result}")
    result = await flow_step(api, f"{flows}/{result['flow_id']}", {"birth_enable": False})
    if result["type"] != "create_entry":
        raise HassProcessError(f"MQTT options flow did not finish: {result}")
    # The options update reloads the entry; EAIO's device must subscribe to the reloaded client.
    await wait_entry_loaded(api, "mqtt", entry_id)


async def add_eaio_mqtt_device(api: HassApi, name: str, base_topic: str, profile: str) -> str | None:
    """EAIO's flow: source menu, then the MQTT device step; returns the entry id, None if already there."""
    result = await flow_step(api, FLOWS, {"handler": DOMAIN})
    path = f"{FLOWS}/{result['flow_id']}"
    if result["type"] == "menu":
        result = await flow_step(api, path, {"next_step_id": "mqtt_device"})
    if result["type"] != "form" or result["step_id"] != "mqtt_device":
        raise HassProcessError(f"EAIO flow: expected the MQTT device form, got {result}")
    result = await flow_step(api, path, {"name": name, "base_topic": base_topic, "profile": profile})
    if result["type"] == "abort" and result.get("reason") == "already_configured":
        return None
    if result["type"] != "create_entry":
        raise HassProcessError(f"EAIO flow did not create an entry: {result}")
    entry_id: str = result["result"]["entry_id"]
    await wait_entry_loaded(api, DOMAIN, entry_id)
    return entry_id

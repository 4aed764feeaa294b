"""The demo's add-on step: the EAIO add-on standalone, linked to the demo's Home Assistant.

The add-on runs from its own environment (``.venv-addon``, which ``./scripts/demo`` creates) with a
long-lived token of the demo user, learns EAIO's entities from Home Assistant, and is linked through
EAIO's manual add-on path (its URL and the API token it wrote). No language model here: the add-on
runs without ``ollama_url``, and its answers say so while citing the top recommendation.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import time
from typing import Any

import aiohttp

from .hass_process import (
    DOMAIN,
    LOOPBACK,
    Child,
    HassApi,
    HassProcessError,
    long_lived_token,
    pick_port,
    spawn,
)
from .history import HISTORY_DAYS

ROOT = Path(__file__).resolve().parent.parent
ADDON_VENV = Path(os.environ.get("EAIO_ADDON_VENV", ROOT / ".venv-addon"))
QUESTION = "what should I do to save energy?"
ADDON_START_TIMEOUT = 60.0
SENSORS_TIMEOUT = 30.0
BACKFILL_TIMEOUT = 300.0


async def _token_accepted(api: HassApi, token: str) -> bool:
    async with api.session.get(api.base_url + "/api/", headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status == 200


async def ha_token(api: HassApi, state: dict[str, Any]) -> str:
    """The demo user's long-lived token for the add-on: the last run's while Home Assistant accepts it
    (long-lived tokens are kept by name, so a new one each run would pile up on the profile page)."""
    last = state.get("ha_token")
    if isinstance(last, str) and await _token_accepted(api, last):
        return last
    return await long_lived_token(api, f"EAIO add-on (demo, {time.strftime('%Y-%m-%d %H:%M:%S')})")


async def _health(session: aiohttp.ClientSession, url: str, api_token: str) -> dict[str, Any] | None:
    try:
        async with session.get(url + "/api/health", headers={"Authorization": f"Bearer {api_token}"}) as resp:
            if resp.status != 200:
                return None
            health: dict[str, Any] = await resp.json()
            return health
    except aiohttp.ClientError:
        return None


def _prepare(data_dir: Path, equipment: str = "") -> tuple[Path, Path]:
    """The add-on's Python and its options file; ``equipment``: the battery and appliance options (YAML)."""
    python = ADDON_VENV / "bin" / "python"
    if not python.exists():
        raise HassProcessError(f"{python} not found: run the demo with ./scripts/demo (it creates {ADDON_VENV})")
    data_dir.mkdir(parents=True, exist_ok=True)
    options = data_dir / "options.yaml"
    # The history the demo wrote into the recorder; one run now, shown by the demo, none on a timer.
    # A two-rate tariff with an evening peak gives the planners something to shift.
    options.write_text(f"backfill_days: {HISTORY_DAYS}\noptimize_every_minutes: 0\n"
                       "tariff:\n  - start: '00:00'\n    price: 0.24\n  - start: '17:00'\n    price: 0.42\n"
                       "  - start: '21:00'\n    price: 0.24\n" + equipment)
    return python, options


def _api_token(data_dir: Path) -> str | None:
    """The token the add-on's API asks for, once the add-on has written it."""
    try:
        return (data_dir / "api_token").read_text().strip() or None
    except FileNotFoundError:
        return None


async def spawn_addon(base_url: str, data_dir: Path, log: Path, state: dict[str, Any], token: str,
                      equipment: str | None = "") -> tuple[Child, str]:
    """Start the add-on on the last run's port if free with Home Assistant's ``token``; returns it and its URL.
    It connects to Home Assistant by itself, retrying while Home Assistant is not up yet. ``equipment``
    None keeps the options file of the last run."""
    if equipment is None:
        python, options = ADDON_VENV / "bin" / "python", data_dir / "options.yaml"
    else:
        python, options = _prepare(data_dir, equipment)
    state["ha_token"] = token
    port = pick_port(int(state.get("port", 0)))
    state["port"] = port
    env = {**os.environ, "EAIO_HA_TOKEN": token}
    child = await spawn("the EAIO add-on", [str(python), "-m", "eaio_addon", "--ha-url", base_url,
                                            "--data-dir", str(data_dir), "--options", str(options),
                                            "--host", LOOPBACK, "--port", str(port)],
                        log, cwd=ROOT / "addon", env=env)
    return child, f"http://{LOOPBACK}:{port}"


async def start_addon(api: HassApi, data_dir: Path, log: Path, state: dict[str, Any],
                      equipment: str = "", running: tuple[Child, str] | None = None) -> tuple[Child, str, str]:
    """Start the add-on (or take the one ``running``, started before Home Assistant); returns it, its URL
    and its API token once it is connected to Home Assistant."""
    if running is not None:
        child, url = running
    else:
        child, url = await spawn_addon(api.base_url, data_dir, log, state, await ha_token(api, state), equipment)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ADDON_START_TIMEOUT
    health: dict[str, Any] | None = None
    while loop.time() < deadline:
        if child.proc.returncode is not None:
            raise HassProcessError(f"the EAIO add-on exited with code {child.proc.returncode}", log)
        if api_token := _api_token(data_dir):
            health = await _health(api.session, url, api_token)
            if health is not None and health.get("ha_link") == "connected":
                return child, url, api_token
            if health is not None and health.get("ha_link") == "auth_failed":
                raise HassProcessError(f"Home Assistant refused the add-on's token: {health.get('problems')}", log)
        await asyncio.sleep(0.5)
    raise HassProcessError(f"the EAIO add-on did not connect to Home Assistant within {ADDON_START_TIMEOUT:.0f} s "
                           f"(health: {health})", log)


async def wait_backfill(api: HassApi, url: str, api_token: str) -> dict[str, Any]:
    """The add-on's backfill report once it has read the recorder's history (the history the runs learn from)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BACKFILL_TIMEOUT
    while True:
        health = await _health(api.session, url, api_token)
        backfill: dict[str, Any] = (health or {}).get("backfill") or {}
        if backfill.get("state") == "done":
            return backfill
        if loop.time() > deadline:
            raise HassProcessError(f"the add-on's backfill did not finish within {BACKFILL_TIMEOUT:.0f} s: {backfill}")
        await asyncio.sleep(1.0)


async def link_addon(api: HassApi, url: str, api_token: str, state: dict[str, Any]) -> str:
    """EAIO's manual add-on path, as a user fills it in; the entry of the last run when it is the same URL."""
    if state.get("url") not in (None, url) and state.get("entry"):
        await _remove_entry(api, state["entry"])  # the last run's add-on had another port
        state.pop("entry")
    result = await api.call("POST", "/api/config/config_entries/flow", json_body={"handler": DOMAIN})
    flow = f"/api/config/config_entries/flow/{result['flow_id']}"
    if result["type"] == "menu":
        result = await api.call("POST", flow, json_body={"next_step_id": "addon"})
    if result.get("step_id") != "addon":
        raise HassProcessError(f"EAIO's config flow has no add-on step: {result}")
    result = await api.call("POST", flow, json_body={"url": url, "token": api_token})
    state["url"] = url
    if result["type"] == "create_entry":
        entry_id: str = result["result"]["entry_id"]
    elif result["type"] == "abort" and result.get("reason") == "already_configured" and state.get("entry"):
        entry_id = state["entry"]  # this URL is linked already, by the last run (the API token is the same)
        # Home Assistant set it up before the add-on was back: reloaded, it reads the add-on now, not at its next poll.
        await api.call("POST", f"/api/config/config_entries/entry/{entry_id}/reload")
    else:
        raise HassProcessError(f"EAIO did not link the add-on at {url}: {result.get('errors') or result}")
    state["entry"] = entry_id
    return entry_id


async def _remove_entry(api: HassApi, entry_id: str) -> None:
    entries = await api.call("GET", "/api/config/config_entries/entry", params={"domain": DOMAIN})
    if any(e["entry_id"] == entry_id for e in entries):
        await api.call("DELETE", f"/api/config/config_entries/entry/{entry_id}")


async def entry_states(api: HassApi, entry_id: str) -> list[dict[str, Any]]:
    """The states of one entry's entities."""
    ids = json.loads(await api.call("POST", "/api/template", json_body={
        "template": "{{ integration_entities(title) | list | to_json }}",
        "variables": {"title": await _title(api, entry_id)}}))
    states = {s["entity_id"]: s for s in await api.call("GET", "/api/states")}
    return [states[i] for i in sorted(ids) if i in states]


async def _title(api: HassApi, entry_id: str) -> str:
    entries = await api.call("GET", "/api/config/config_entries/entry", params={"domain": DOMAIN})
    for entry in entries:
        if entry["entry_id"] == entry_id:
            if entry["state"] != "loaded":
                raise HassProcessError(f"EAIO's add-on entry is {entry['state']}: {entry.get('reason')}")
            return str(entry["title"])
    raise HassProcessError(f"EAIO's add-on entry {entry_id} is gone")


def summary_sensor(states: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The open-recommendations sensor: its attributes name the top one."""
    return next((s for s in states if s["entity_id"].startswith("sensor.") and "top_title" in s["attributes"]),
                None)


async def recommendation_sensors(api: HassApi, entry_id: str, expect: int | None = None) -> list[dict[str, Any]]:
    """The link's entities once its recommendation sensor is there and it reads the add-on (with ``expect``:
    once it shows that many open recommendations); an error when that never comes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SENSORS_TIMEOUT
    while True:
        states = await entry_states(api, entry_id)
        summary = summary_sensor(states)
        if summary is not None and summary["state"] not in ("unknown", "unavailable") and not any(
                s["state"] == "unavailable" for s in states) and (expect is None or summary["state"] == str(expect)):
            return states
        if loop.time() > deadline:
            shown = {s["entity_id"]: s["state"] for s in states}
            raise HassProcessError(f"EAIO's add-on entry has no available recommendation sensor after "
                                   f"{SENSORS_TIMEOUT:.0f} s: {shown}")
        await asyncio.sleep(1)


async def addon_recommendations(api: HassApi, url: str, api_token: str) -> list[dict[str, Any]]:
    """The recommendations the add-on made, best first as it ranked them (its API, with its token)."""
    async with api.session.get(url + "/api/recommendations", headers={"Authorization": f"Bearer {api_token}"}) as resp:
        answer: dict[str, Any] = await resp.json()
    return list(answer.get("recommendations") or [])


async def run_optimization(api: HassApi, entry_id: str) -> dict[str, Any]:
    """One run through the integration's service, as an automation or the UI starts it."""
    answer = await api.call("POST", "/api/services/eaio/run_optimization", params={"return_response": ""},
                            json_body={"config_entry_id": entry_id})
    result: dict[str, Any] = answer.get("service_response") or {}
    return result


async def ask(api: HassApi, agent_id: str, question: str = QUESTION) -> str:
    """A question to EAIO's conversation agent through Home Assistant's conversation API."""
    answer = await api.call("POST", "/api/conversation/process", json_body={"text": question, "agent_id": agent_id})
    return str(answer["response"]["speech"]["plain"]["speech"])

"""End-to-end fixtures: a real Home Assistant (from its own environment), the simulated building, EAIO.

Home Assistant runs from ``EAIO_HA_VENV`` (default: the repository's ``.venv``, which
``./scripts/test`` creates before it runs the add-on's tests); the add-on's environment has no
Home Assistant (their pins conflict). The helpers that start it are the demo's
(``eaio_sim.hass_process``), imported from the repository root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

REPO = Path(__file__).resolve().parents[3]
HA_VENV = Path(os.environ.get("EAIO_HA_VENV", REPO / ".venv"))
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended: the add-on's own "tests" package stays first

from eaio_sim.hass_process import (  # noqa: E402 - needs the repository on the path
    LOOPBACK,
    Child,
    HassApi,
    add_modbus_device,
    authenticate,
    link_integration,
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

DEVICES = ((1, "three_phase_meter"), (2, "hvac_unit"))
OUTDOOR = "sensor.e2e_outdoor_temperature"  # an entity the user lists in the options
COMPONENTS = ("api", "config", "history")
AUTOPILOT = "e2e-autopilot"  # recommendations with this method are applied by the automation below
EXTRA = f"""recorder:
  commit_interval: 1
automation:
  - id: e2e_autopilot
    alias: Apply what the autopilot method proposes
    triggers:
      - trigger: event
        event_type: eaio_recommendation
        event_data:
          type: new
          method: {AUTOPILOT}
    actions:
      - action: eaio.apply_recommendation
        data:
          recommendation_id: "{{{{ trigger.event.data.id }}}}"
"""  # the recorder commits every second, so states reach its database within a second


@dataclass
class HomeAssistant:
    """The real Home Assistant of the end-to-end test, and what it was set up with."""

    config: Path
    url: str
    api: HassApi
    hass: Child
    sim: Child
    sim_port: int
    token: str  # long-lived, as a user makes one for the standalone add-on
    entries: list[dict[str, Any]]

    async def stop(self) -> None:
        await stop(self.hass)

    async def start(self) -> None:
        self.hass = await start_hass(HA_VENV / "bin" / "hass", self.config)
        await wait_until_serving(self.api, self.hass)
        await wait_until_running(self.api)

    async def set_state(self, entity_id: str, state: str, attributes: dict[str, Any] | None = None) -> float:
        """Write a state through the REST API; returns its last_updated (epoch seconds)."""
        from datetime import datetime

        answer = await self.api.call("POST", f"/api/states/{entity_id}",
                                     json_body={"state": state, "attributes": attributes or {}})
        return datetime.fromisoformat(answer["last_updated"]).timestamp()


@pytest.fixture(scope="module")
def ha_venv() -> Path:
    if not (HA_VENV / "bin" / "hass").exists():
        pytest.skip(f"no Home Assistant environment at {HA_VENV} (set EAIO_HA_VENV; ./scripts/test creates .venv)")
    # Checked, not skipped: without its frontend Home Assistant boots into recovery mode, without EAIO.
    found = subprocess.run([str(HA_VENV / "bin" / "python"), "-c", "import hass_frontend"], capture_output=True,
                           check=False)
    assert found.returncode == 0, f"{HA_VENV} lacks home-assistant-frontend (requirements_demo.txt)"
    return HA_VENV


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def home_assistant(ha_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HomeAssistant]:
    base = tmp_path_factory.mktemp("e2e")
    config = base / "config"
    sim = await spawn("the simulated building",
                      [str(ha_venv / "bin" / "python"), "-m", "eaio_sim", "--host", LOOPBACK, "--port", "0",
                       *[a for unit, profile in DEVICES for a in ("--device", f"{unit}:{profile}")]],
                      base / "sim.log", stdout_pipe=True)
    assert sim.proc.stdout is not None
    line = (await sim.proc.stdout.readline()).decode()
    assert line.startswith("READY modbus"), (line, (base / "sim.log").read_text())
    sim_port = int(line.split()[-1])
    port = pick_port()
    write_config(config, port, name="EAIO end-to-end", written_by="the add-on's end-to-end test",
                 components=COMPONENTS, extra=EXTRA)
    link_integration(config)
    seed_onboarding(config)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    api = HassApi(session, f"http://{LOOPBACK}:{port}")
    hass = await start_hass(ha_venv / "bin" / "hass", config)
    world = HomeAssistant(config, api.base_url, api, hass, sim, sim_port, "", [])
    try:
        await wait_until_serving(api, hass)
        await authenticate(api, "e2e", "e2e-password-1", "End to end")
        await wait_until_running(api)
        world.token = await long_lived_token(api, "EAIO add-on (end-to-end test)")
        for unit, profile in DEVICES:
            entry = await add_modbus_device(api, LOOPBACK, sim_port, unit, profile)
            assert entry is not None
            world.entries.append(entry)
        yield world
    finally:
        await stop(world.hass)
        await stop(sim)
        await session.close()


async def history(ha: HomeAssistant, entity_id: str, start: float, end: float) -> list[tuple[float, str]]:
    """Home Assistant's own recorder history of one entity (REST), as (last_updated, state)."""
    from datetime import UTC, datetime

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat()

    answer = await ha.api.call("GET", f"/api/history/period/{iso(start)}", params={
        "filter_entity_id": entity_id, "end_time": iso(end), "significant_changes_only": "0",
        "no_attributes": "1"})
    rows = answer[0] if answer else []
    return [(datetime.fromisoformat(r["last_updated"]).timestamp(), r["state"]) for r in rows]


def now() -> float:
    return time.time()

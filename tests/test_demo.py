"""The README's demo, end to end: every peer and a real Home Assistant, set up as ./scripts/demo does.

Runs ``python -m eaio_sim.demo --exit-after`` in a fresh config dir (so CI keeps the demo working) and
reads what it printed: the demo itself fails when an entity of a device it added has no real state, or
when the add-on is not linked or has no recommendation sensors; this test also wants the recommendation
that the demo's recorded history holds and the assistant's answer citing it.
"""

from __future__ import annotations

from pathlib import Path
import re
import shutil
import subprocess
import sys

import pytest

from eaio_sim.demo import Added, Demo

ROOT = Path(__file__).resolve().parent.parent
# A first start of Home Assistant builds its database and caches; two busy cores need their time.
DEMO_TIMEOUT = 360
ENTITY_LINE = re.compile(r"^  (?P<entity_id>[a-z_]+\.[a-z0-9_]+)\s+(?P<state>\S+)")


def _states(output: str) -> dict[str, str]:
    return {m["entity_id"]: m["state"] for line in output.splitlines() if (m := ENTITY_LINE.match(line))}


def _number(states: dict[str, str], entity_id: str) -> float:
    assert entity_id in states, f"{entity_id} not listed"
    return float(states[entity_id])


@pytest.mark.timeout(DEMO_TIMEOUT + 30)
def test_demo_sets_up_modbus_bacnet_and_mqtt_devices(tmp_path: Path) -> None:
    if not (Path(sys.executable).parent / "hass").exists():
        pytest.fail("run with the Python of the project's venv (.venv), which has Home Assistant")
    assert shutil.which("mosquitto"), "mosquitto is needed (./scripts/test installs it)"
    done = subprocess.run(
        [sys.executable, "-m", "eaio_sim.demo", "--config-dir", str(tmp_path / "config"), "--port", "0",
         "--exit-after", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    report = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, report
    assert "Every entity of the 6 devices the demo added has a real state." in done.stdout, report
    assert "Log in    demo / demo-eaio" in done.stdout
    assert done.stdout.rstrip().endswith("Stopped."), report  # every peer was stopped
    states = _states(done.stdout)
    # The BACnet/IP zone controller: temperature, setpoint, damper, read through EAIO's BACnet flow.
    assert 5.0 < _number(states, "sensor.vav_zone_controller_zone_temperature") < 40.0
    assert _number(states, "number.vav_zone_controller_zone_setpoint") == 21.0
    assert 0.0 <= _number(states, "number.vav_zone_controller_damper_position") <= 100.0
    # The MQTT room sensor, through Home Assistant's MQTT integration and EAIO's multi_sensor profile.
    assert states.get("binary_sensor.meeting_room_sensor_occupancy") in ("on", "off"), report
    assert 250.0 <= _number(states, "sensor.meeting_room_sensor_co2") <= 10_000.0
    assert _number(states, "sensor.meeting_room_sensor_illuminance") >= 0.0
    assert _number(states, "sensor.meeting_room_sensor_invalid_payloads") == 0.0
    # The Modbus devices that were there before.
    assert any(e.startswith("sensor.three_phase_energy_meter_") for e in states)
    assert any(e.startswith("number.hvac_unit_air_handler_") for e in states)
    # The add-on, linked through EAIO's add-on path: one run, its sensors, the assistant's answer without an LLM.
    run = re.search(r"^EAIO add-on at http://127\.0\.0\.1:\d+ \(entry \w+\); optimization (ok|partial|failed): "
                    r"(\d+) recommendations", done.stdout, re.M)
    assert run is not None, report
    assert states.get("sensor.eaio_optimizer_add_on_status") in ("ok", "degraded"), report
    assert states.get("sensor.eaio_optimizer_open_recommendations") == run[2], report
    asked = done.stdout.split('Asked conversation.eaio_optimizer "what should I do to save energy?":\n', 1)
    assert len(asked) == 2, report
    answer = asked[1].splitlines()[0]
    # The four weeks of history the demo wrote into the recorder reached the add-on, whose run found the
    # equipment left on in the last week; the answer cites that top recommendation.
    assert re.search(r"^  \d+ sensors, up to \d{4}-\d\d-\d\d \d\d:00 UTC$", done.stdout, re.M), report
    assert int(run[2]) >= 1, report
    assert states.get("sensor.eaio_optimizer_history_backfill") == "100.0", report
    top = re.search(r"^  top recommendation: (.+)$", done.stdout, re.M)
    assert top is not None and f"Top recommendation: {top[1]}" in answer, report
    assert re.search(r"^  - Cut always-on load by [\d.]+ kW \(load\)$", done.stdout, re.M), report
    # The battery and the appliance are planned: their recommendations, and the Energy dashboard set up with
    # every meter, its validation finding nothing.
    assert re.search(r"^  - .*[Bb]attery.* \(load\)$", done.stdout, re.M), report
    assert re.search(r"^Energy dashboard: grid sensor\.\S+, battery .*; its validation reports nothing$",
                     done.stdout, re.M), report
    # The battery declared as a controllable carries out the plan's current slot: a dry run first that changes
    # nothing, then the setpoint commanded through the guard, and the simulated inverter following it.
    assert re.search(r"^  dry run: slot \S+: would set -?[\d.]+ kW; nothing was changed$", done.stdout, re.M), report
    assert re.search(r"^  live: slot \S+: commanded -?[\d.]+ kW; setpoint now -?[\d.]+ kW, measured -?[\d.]+ kW",
                     done.stdout, re.M) or "live: nothing to command in this slot" in done.stdout, report
    # The demo's state file names the ports the next run tries first.
    saved = (tmp_path / "config" / "eaio_demo.json").read_text()
    assert '"bacnet"' in saved and '"mqtt"' in saved and '"addon"' in saved


def test_missing_states_are_reported(tmp_path: Path) -> None:
    """The check behind the demo's exit status names each entry and entity without a real state."""
    demo = Demo(tmp_path, 0)
    demo.added = [Added("BACnet/IP", "a"), Added("MQTT", "b"), Added("Modbus TCP", "c")]
    grouped = [
        ({"entry_id": "a", "title": "Zone", "state": "loaded"},
         [{"entity_id": "sensor.zone_temperature", "state": "22.1"},
          {"entity_id": "number.zone_damper", "state": "unavailable"}]),
        ({"entry_id": "b", "title": "Room", "state": "setup_retry"}, []),
    ]  # fmt: skip
    assert demo.missing(grouped) == [
        "number.zone_damper is unavailable",
        "MQTT entry Room is setup_retry",
        "MQTT entry Room has no entities",
        "Modbus TCP entry c is gone",
    ]
    grouped[0][1][1]["state"] = "35.0"
    demo.added = demo.added[:1]
    assert demo.missing(grouped) == []

"""MQTT devices through Home Assistant's MQTT integration and a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging
from pathlib import Path
import subprocess
from typing import Any

from homeassistant import config_entries
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.eaio.const import DOMAIN, EVENT_INVALID_PAYLOAD
from custom_components.eaio.diagnostics import async_get_config_entry_diagnostics
from tests.conftest import Mosquitto

from .conftest import entity_ids


@pytest.fixture(name="base")
def base_topic(request: pytest.FixtureRequest) -> str:
    """A topic of the test's own: the broker outlives tests and keeps retained messages."""
    return f"building/{request.node.name}/sensor"


@pytest.fixture(autouse=True)
def _own_config_dir(config_dir: Path) -> None:
    """Home Assistant's MQTT setup reads configuration.yaml from the config folder."""


async def _setup_mqtt(hass: HomeAssistant, broker: Mosquitto) -> None:
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={
            "broker": "127.0.0.1",
            "port": broker.port,
            "username": broker.user,
            "password": broker.password,
        },
        # No birth message: its publish can still be in flight when a test's Home Assistant stops.
        options={"birth_message": {}},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert await mqtt.async_wait_for_mqtt_client(hass)


async def _add_mqtt_device(hass: HomeAssistant, base: str, profile: str = "multi_sensor") -> ConfigEntry:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert "mqtt_device" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt_device"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Room 12", "base_topic": base, "profile": profile}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def _publish(
    hass: HomeAssistant, broker: Mosquitto, topic: str, payload: Any, retain: bool = False
) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    await hass.async_add_executor_job(broker.publish, topic, text, retain)


async def _until(hass: HomeAssistant, check: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):
        await hass.async_block_till_done()
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_valid_payloads_become_states(hass: HomeAssistant, mosquitto: Mosquitto, base: str) -> None:
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, base=base)
    ids = entity_ids(hass, entry)
    assert set(ids) == {
        "occupancy",
        "co2",
        "illuminance",
        "temperature",
        "humidity",
        "battery",
        "invalid_payloads",
    }
    assert _state(hass, ids["temperature"]) == STATE_UNAVAILABLE  # nothing received yet
    await _publish(hass, mosquitto, base, {"occupancy": True, "co2": 612, "illuminance": 340, "temperature": 21.7,
                                            "humidity": 44.1, "battery": 87}, retain=True)  # fmt: skip
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "21.7")
    assert _state(hass, ids["co2"]) == "612.0"
    assert _state(hass, ids["occupancy"]) == "on"
    state = hass.states.get(ids["co2"])
    assert state is not None and state.attributes["unit_of_measurement"] == "ppm"
    assert state.attributes["device_class"] == "carbon_dioxide"
    # A partial update changes only what it carries, and only its entity writes a state.
    co2_reported = hass.states.get(ids["co2"]).last_reported  # type: ignore[union-attr]
    await _publish(hass, mosquitto, base, {"temperature": 22.0})
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "22.0")
    assert _state(hass, ids["co2"]) == "612.0"
    assert hass.states.get(ids["co2"]).last_reported == co2_reported  # type: ignore[union-attr]
    assert _state(hass, ids["invalid_payloads"]) == "0"


async def test_malformed_and_out_of_range(
    hass: HomeAssistant, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture, base: str
) -> None:
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, base=base)
    ids = entity_ids(hass, entry)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_INVALID_PAYLOAD, events.append)
    caplog.set_level(logging.WARNING, logger="custom_components.eaio")
    await _publish(hass, mosquitto, base, {"temperature": 21.0, "co2": 500, "humidity": 40}, retain=True)
    await _until(hass, lambda: _state(hass, ids["co2"]) == "500.0")

    # Out of range: only that point is refused; the others in the same message are kept.
    await _publish(hass, mosquitto, base, {"temperature": 21.5, "co2": 50000, "humidity": 41})
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "21.5")
    assert _state(hass, ids["co2"]) == "500.0"
    assert _state(hass, ids["humidity"]) == "41.0"
    assert _state(hass, ids["invalid_payloads"]) == "1"
    assert events[0].data["topic"] == base
    assert events[0].data["points"] == ["co2"]
    assert "co2: 50000 is outside 250..10000" in events[0].data["reason"]

    # Malformed JSON and a schema violation: counted, nothing else lost.
    for bad in ("{not json", json.dumps({"temperature": "warm"}), json.dumps({"co2": 700})):
        await _publish(hass, mosquitto, base, bad)
    await _until(hass, lambda: _state(hass, ids["invalid_payloads"]) == "4")
    assert _state(hass, ids["temperature"]) == "21.5"
    assert _state(hass, ids["co2"]) == "500.0"
    # One log line and one event for the burst on this topic, not one per message.
    assert len(events) == 1
    assert caplog.text.count(f"invalid payload on {base}") == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["invalid_payloads"] == {
        "total": 4,
        "by_reason": {"value": 1, "malformed JSON": 1, "schema": 2},
    }


async def test_stale_point_goes_unavailable_and_returns(
    hass: HomeAssistant, mosquitto: Mosquitto, base: str
) -> None:
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, base=base)
    ids = entity_ids(hass, entry)
    coordinator = entry.runtime_data
    await _publish(hass, mosquitto, base, {"temperature": 20.5}, retain=True)
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "20.5")
    # Age the last message past the point's max age (900 s) instead of waiting for it.
    coordinator._last_seen["temperature"] -= 901
    coordinator._check_stale()
    await hass.async_block_till_done()
    assert _state(hass, ids["temperature"]) == STATE_UNAVAILABLE
    await _publish(hass, mosquitto, base, {"temperature": 20.6})
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "20.6")


async def test_broker_restart_recovers(hass: HomeAssistant, mosquitto: Mosquitto, base: str) -> None:
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, profile="single_values", base=f"{base}/meter")
    ids = entity_ids(hass, entry)
    await _publish(hass, mosquitto, f"{base}/meter/power", "1200", retain=True)
    await _until(hass, lambda: _state(hass, ids["power"]) == "1200.0")
    await hass.async_add_executor_job(mosquitto.stop)
    await _until(hass, lambda: _state(hass, ids["power"]) == STATE_UNAVAILABLE, within=10)
    await hass.async_add_executor_job(mosquitto.start)
    await _until(hass, lambda: mqtt.is_connected(hass), within=30)
    # Retained: Home Assistant resubscribes after reconnecting, and a retained value is
    # delivered whenever that happens.
    await _publish(hass, mosquitto, f"{base}/meter/power", "1300", retain=True)
    await _until(hass, lambda: _state(hass, ids["power"]) == "1300.0", within=10)


async def test_flow_without_mqtt_and_bad_topic(hass: HomeAssistant, mosquitto: Mosquitto) -> None:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt_device"}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "mqtt_not_configured"
    await _setup_mqtt(hass, mosquitto)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt_device"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "x", "base_topic": "a/+/b", "profile": "multi_sensor"}
    )
    assert result["errors"] == {"base_topic": "invalid_topic"}


async def test_hostile_payloads_are_counted_not_raised(
    hass: HomeAssistant, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture, base: str
) -> None:
    """A 100,000-deep array (200 kB) and a 10,000-deep one (20 kB): counted, evented, briefly logged."""
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, base=base)
    ids = entity_ids(hass, entry)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_INVALID_PAYLOAD, events.append)
    caplog.set_level(logging.WARNING, logger="custom_components.eaio")
    await _publish(hass, mosquitto, base, {"temperature": 21.0}, retain=True)
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "21.0")

    def publish_from_stdin(payload: bytes) -> None:
        # Too long for a command-line argument: the publisher reads it from its input.
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-u", mosquitto.user,
             "-P", mosquitto.password, "-q", "1", "-t", base, "-s"],
            input=payload, check=True, capture_output=True,
        )  # fmt: skip

    await hass.async_add_executor_job(publish_from_stdin, b"[" * 100_000 + b"]" * 100_000)
    await hass.async_add_executor_job(publish_from_stdin, b"[" * 10_000 + b"]" * 10_000)
    await _until(hass, lambda: _state(hass, ids["invalid_payloads"]) == "2")
    await _publish(hass, mosquitto, base, {"temperature": 21.5})  # and the device goes on
    await _until(hass, lambda: _state(hass, ids["temperature"]) == "21.5")
    assert len(events) == 1 and events[0].data["reason"].startswith("too large: 200000 bytes")
    assert "RecursionError" not in caplog.text
    lines = [r.getMessage() for r in caplog.records if "invalid payload" in r.getMessage()]
    assert len(lines) == 1 and len(lines[0]) < 300
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["invalid_payloads"]["by_reason"] == {"too large": 1, "malformed JSON": 1}


async def test_flood_half_invalid_loses_no_valid_reading_and_counts_every_invalid_one(
    hass: HomeAssistant, mosquitto: Mosquitto, base: str
) -> None:
    """2,000 messages as fast as the broker takes them, every second one invalid (the timing of
    20,000 at 1,000 msg/s is benchmarks/mqtt_flood.py's to measure)."""
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, profile="single_values", base=f"{base}/meter")
    ids = entity_ids(hass, entry)
    await _publish(hass, mosquitto, f"{base}/meter/power", "0", retain=True)
    await _until(hass, lambda: _state(hass, ids["power"]) == "0.0")
    seen: list[float] = []

    @callback
    def record(event: Event) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == ids["power"] and new is not None and new.state != STATE_UNAVAILABLE:
            seen.append(float(new.state))

    hass.bus.async_listen("state_changed", record)
    invalid = ("warm", "1e999", "1000000", "[" * 10_000 + "]" * 10_000, "-5")
    lines = [str(n // 2 + 1) if n % 2 == 0 else invalid[(n // 2) % len(invalid)] for n in range(2000)]

    def flood(chunk: list[str]) -> None:
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-u", mosquitto.user,
             "-P", mosquitto.password, "-q", "1", "-t", f"{base}/meter/power", "-l"],
            input="\n".join(chunk).encode() + b"\n", check=True, capture_output=True,
        )  # fmt: skip

    # In bursts of 200: the broker queues at most 1,000 messages for a subscriber and drops the
    # rest, and the test harness (debug logging of every message) reads slower than a real
    # Home Assistant. What is asserted is EAIO's part: nothing it was given is lost or uncounted.
    for start in range(0, len(lines), 200):
        await hass.async_add_executor_job(flood, lines[start : start + 200])
        done = (start + 200) // 2
        await _until(hass, lambda done=done: _state(hass, ids["invalid_payloads"]) == str(done), within=30)
        await _until(hass, lambda done=done: seen[-1:] == [float(done)], within=30)
    assert seen == [float(v) for v in range(1, 1001)]  # every valid one, in order, none twice


async def test_counter_that_steps_back_or_jumps_is_refused(
    hass: HomeAssistant, mosquitto: Mosquitto, base: str
) -> None:
    await _setup_mqtt(hass, mosquitto)
    entry = await _add_mqtt_device(hass, profile="single_values", base=f"{base}/meter")
    ids = entity_ids(hass, entry)
    topic = f"{base}/meter/energy"
    await _publish(hass, mosquitto, topic, "1200.5", retain=True)
    await _until(hass, lambda: _state(hass, ids["energy"]) == "1200.5")
    await _publish(hass, mosquitto, topic, "1100.0")  # backwards, and not a reset to zero
    await _until(hass, lambda: _state(hass, ids["invalid_payloads"]) == "1")
    await _publish(hass, mosquitto, topic, "900000.0")  # 900 MWh in a moment: no building draws that
    await _until(hass, lambda: _state(hass, ids["invalid_payloads"]) == "2")
    assert _state(hass, ids["energy"]) == "1200.5"  # neither reached the statistics
    await _publish(hass, mosquitto, topic, "1200.6")
    await _until(hass, lambda: _state(hass, ids["energy"]) == "1200.6")
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["invalid_payloads"]["by_reason"] == {"value": 2}

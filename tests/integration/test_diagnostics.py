"""Diagnostics carry the plan and the last poll, never the device's address."""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.eaio.const import DOMAIN
from custom_components.eaio.diagnostics import async_get_config_entry_diagnostics
from eaio_sim.bacnet import SimProcess
from tests.conftest import ModbusSim, Mosquitto

from . import test_bacnet
from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device
from .test_bacnet import _add as add_bacnet
from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt

sim_factory = test_bacnet.sim_factory


async def test_diagnostics_redacts_the_host(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert "127.0.0.1" not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["host"] == "**REDACTED**"
    assert diagnostics["entry"]["unique_id"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["port"] == building_sim.port
    assert diagnostics["profile"]["id"] == "three_phase_meter"
    assert diagnostics["plan"][0] == {
        "table": "input", "start": 0, "count": 18,
        "points": ["voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
                   "power_l1", "power_l2", "power_l3"],
    }  # fmt: skip
    assert diagnostics["last_poll"]["values"]["voltage_l1"] == 230.1
    assert diagnostics["last_poll"]["requests"] == 2


def _leaks(diagnostics: dict[str, Any], *secrets: str) -> list[str]:
    text = json.dumps(diagnostics)
    return [secret for secret in secrets if secret in text]


async def test_diagnostics_of_a_bacnet_device_redact_both_addresses(
    hass: HomeAssistant, sim_factory: Callable[..., SimProcess]
) -> None:
    sim = sim_factory("--static")
    entry = await add_bacnet(hass, sim, ["AI:1", "AV:1"])
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    local = entry.data["local_address"]
    assert _leaks(diagnostics, sim.address, local, "127.0.0.1") == []
    assert diagnostics["entry"]["data"]["device_address"] == REDACTED
    assert diagnostics["entry"]["data"]["local_address"] == REDACTED
    assert diagnostics["objects"] == {"ai_1": "AI:1", "av_1": "AV:1"}
    assert diagnostics["invalid_readings"] == {"total": 0, "by_point": {}}


async def test_diagnostics_of_an_mqtt_device_redact_its_topics(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path
) -> None:
    base = "site/secret-street-12/room"
    await setup_mqtt(hass, mosquitto)
    entry = await add_mqtt_device(hass, base)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert _leaks(diagnostics, base, "secret-street", mosquitto.password) == []
    assert diagnostics["entry"]["data"]["base_topic"] == REDACTED
    assert diagnostics["topics"] == {
        REDACTED: ["occupancy", "co2", "illuminance", "temperature", "humidity", "battery"]
    }


async def test_diagnostics_of_the_addon_link_redact_token_and_url(
    hass: HomeAssistant, addon: AddonStandIn
) -> None:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": addon.url, "token": TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    host_port = addon.url.removeprefix("http://")
    assert _leaks(diagnostics, TOKEN, addon.url, host_port, "127.0.0.1") == []
    assert diagnostics["entry"]["data"]["token"] == REDACTED
    assert diagnostics["entry"]["data"]["url"] == REDACTED
    assert diagnostics["health"]  # what the add-on said stays readable


async def test_diagnostics_redact_the_host_inside_error_texts(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]
) -> None:
    sim = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    entry = await add_device(hass, sim.port, 1, "single_phase_meter")
    await hass.async_add_executor_job(sim.stop)
    await entry.runtime_data.async_refresh()
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["last_poll"]["success"] is False
    assert diagnostics["client"]["last_error"]  # the error is kept, its address is not
    assert _leaks(diagnostics, "127.0.0.1") == []

"""Diagnostics carry the plan and the last poll, never the device's address."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant

from custom_components.eaio.diagnostics import async_get_config_entry_diagnostics
from tests.conftest import ModbusSim

from .conftest import add_device


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

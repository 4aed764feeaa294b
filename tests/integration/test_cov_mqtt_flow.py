"""Adding an MQTT device: a topic MQTT itself refuses is named as invalid, and a topic another
device already uses is not added twice (real broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.eaio.const import DOMAIN
from tests.conftest import Mosquitto

from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt


async def _mqtt_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt_device"})


async def test_topics_mqtt_refuses_and_topics_in_use(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path, request: pytest.FixtureRequest
) -> None:
    await setup_mqtt(hass, mosquitto)
    base = f"building/{request.node.name}/sensor"
    entry = await add_mqtt_device(hass, base)
    form = await _mqtt_form(hass)
    for bad in ("building/#/sensor", "///", "a\u0000b"):
        result = await hass.config_entries.flow.async_configure(
            form["flow_id"], {"name": "Room 13", "base_topic": bad, "profile": "multi_sensor"}
        )
        assert result["type"] is FlowResultType.FORM and result["errors"] == {"base_topic": "invalid_topic"}
    # The same topic with slashes around it is the same device.
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], {"name": "Room 13", "base_topic": f"/{base}/", "profile": "multi_sensor"}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    assert hass.config_entries.async_entries(DOMAIN) == [entry]

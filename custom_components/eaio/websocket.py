"""Websocket commands for the add-on: which EAIO entries are devices of which protocol.

Home Assistant's ``config_entries/get`` answers leave out an entry's data, and with it the
protocol; the add-on's MCP tools need it to list Modbus and BACnet devices apart.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import require_admin, websocket_command
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .addon_coordinator import AddonCoordinator
from .const import CONF_BASE_TOPIC, CONF_SOURCE_TYPE, DOMAIN, SOURCE_MODBUS
from .executor import PlanExecutor


@callback
def async_register_websocket_commands(hass: HomeAssistant) -> None:
    async_register_command(hass, websocket_devices)
    async_register_command(hass, websocket_controllables)
    async_register_command(hass, websocket_plan_executions)


@require_admin
@websocket_command({"type": "eaio/devices"})
@callback
def websocket_devices(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Every EAIO entry with its protocol (modbus, bacnet, mqtt or addon) and whether it is loaded."""
    connection.send_result(
        msg["id"],
        [
            {
                "entry_id": entry.entry_id,
                "title": entry.title,
                "state": entry.state.value,
                "source_type": entry.data.get(CONF_SOURCE_TYPE, SOURCE_MODBUS),
                # An MQTT device's topics: the add-on's MQTT tools may read them by default.
                **({"base_topic": entry.data[CONF_BASE_TOPIC]} if CONF_BASE_TOPIC in entry.data else {}),
            }
            for entry in hass.config_entries.async_entries(DOMAIN)
        ],
    )


def _executors(hass: HomeAssistant) -> list[PlanExecutor]:
    return [
        e.runtime_data.executor
        for e in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(getattr(e, "runtime_data", None), AddonCoordinator)
        and e.runtime_data.executor is not None
    ]


@require_admin
@websocket_command({"type": "eaio/controllables"})
@callback
def websocket_controllables(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """The declared controllables with their limits, feedback sensors and what the executor does."""
    connection.send_result(msg["id"], [c for executor in _executors(hass) for c in executor.describe()])


@require_admin
@websocket_command({"type": "eaio/plan/executions", vol.Required("since"): cv.datetime})
@callback
def websocket_plan_executions(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """What the executor did since a moment, for the add-on's verification of realized savings."""
    since = msg["since"]
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt_util.get_default_time_zone())
    since = dt_util.as_utc(since)
    connection.send_result(
        msg["id"], [row for executor in _executors(hass) for row in executor.executions_since(since)]
    )

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

from .const import CONF_SOURCE_TYPE, DOMAIN, SOURCE_MODBUS


@callback
def async_register_websocket_commands(hass: HomeAssistant) -> None:
    async_register_command(hass, websocket_devices)


@require_admin
@websocket_command({"type": "eaio/devices"})
@callback
def websocket_devices(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Every EAIO entry with its protocol (modbus, bacnet, mqtt or addon) and whether it is loaded."""
    connection.send_result(msg["id"], [
        {
            "entry_id": entry.entry_id,
            "title": entry.title,
            "state": entry.state.value,
            "source_type": entry.data.get(CONF_SOURCE_TYPE, SOURCE_MODBUS),
        }
        for entry in hass.config_entries.async_entries(DOMAIN)
    ])

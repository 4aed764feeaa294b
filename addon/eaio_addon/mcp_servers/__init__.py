"""The add-on's MCP servers (energy, modbus, bacnet, mqtt) on streamable HTTP."""

from .backend import EnergyBackend, HaServices, StoreEnergyBackend
from .ha_auth import HaAuth, ha_vouches_at
from .http_server import McpHttpServer, open_client_session
from .mqtt_tools import MqttSettings, mqtt_settings

__all__ = ["EnergyBackend", "HaAuth", "HaServices", "McpHttpServer", "MqttSettings", "StoreEnergyBackend",
           "ha_vouches_at", "mqtt_settings", "open_client_session"]

"""The add-on's MCP servers (energy, modbus, bacnet, mqtt) on streamable HTTP."""

from .backend import EnergyBackend, HaServices, StoreEnergyBackend
from .http_server import McpHttpServer, open_client_session
from .mqtt_tools import MqttSettings, mqtt_settings

__all__ = ["EnergyBackend", "HaServices", "McpHttpServer", "MqttSettings", "StoreEnergyBackend",
           "mqtt_settings", "open_client_session"]

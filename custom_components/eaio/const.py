"""Constants for EAIO."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "eaio"

CONF_SOURCE_TYPE: Final = "source_type"
CONF_UNIT_ID: Final = "unit_id"
CONF_PROFILE: Final = "profile"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_ENABLED_POINTS: Final = "enabled_points"
CONF_MAX_GAP: Final = "max_gap"

SOURCE_MODBUS: Final = "modbus"
SOURCE_MQTT: Final = "mqtt"

CONF_BASE_TOPIC: Final = "base_topic"

DEFAULT_PORT: Final = 502
DEFAULT_UNIT_ID: Final = 1
DEFAULT_SCAN_INTERVAL: Final = 10
MIN_SCAN_INTERVAL: Final = 1
MAX_SCAN_INTERVAL: Final = 3600

EVENT_DEVICE_STATUS: Final = "eaio_device_status"
EVENT_POINT_WRITTEN: Final = "eaio_point_written"
EVENT_INVALID_PAYLOAD: Final = "eaio_invalid_payload"
EVENT_INVALID_READING: Final = "eaio_invalid_reading"

SERVICE_READ_POINTS: Final = "read_points"
SERVICE_WRITE_POINT: Final = "write_point"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_POINTS: Final = "points"
ATTR_POINT: Final = "point"
ATTR_VALUE: Final = "value"

SOURCE_ADDON: Final = "addon"
CONF_URL: Final = "url"
CONF_TOKEN: Final = "token"
ADDON_SLUG: Final = "eaio"
# One add-on per Home Assistant: the same entry id whether discovered or typed.
ADDON_UNIQUE_ID: Final = "addon"

EVENT_RECOMMENDATION: Final = "eaio_recommendation"
SERVICE_SUBMIT_RECOMMENDATIONS: Final = "submit_recommendations"
SERVICE_APPLY_RECOMMENDATION: Final = "apply_recommendation"
SERVICE_DISMISS_RECOMMENDATION: Final = "dismiss_recommendation"
SERVICE_RUN_OPTIMIZATION: Final = "run_optimization"

SOURCE_BACNET: Final = "bacnet"
CONF_LOCAL_ADDRESS: Final = "local_address"
CONF_DEVICE_ADDRESS: Final = "device_address"
CONF_DEVICE_INSTANCE: Final = "device_instance"
CONF_OBJECTS: Final = "objects"
CONF_PRIORITY: Final = "priority"
DEFAULT_BACNET_PRIORITY: Final = 16
DEFAULT_BACNET_SCAN_INTERVAL: Final = 60
DEFAULT_BACNET_LOCAL_ADDRESS: Final = "0.0.0.0:47808"

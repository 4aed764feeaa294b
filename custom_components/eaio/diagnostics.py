"""Diagnostics: configuration, what the device answered last, and how it is read.

Secrets and addresses are redacted for every kind of entry: the add-on's token and URL, a
Modbus host, a BACnet device's and the local address, MQTT credentials and base topic.
They are removed by key and then wherever their text appears (error messages name hosts,
titles name addresses, topics start with the base topic).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_TOKEN, CONF_URL, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_BASE_TOPIC, CONF_DEVICE_ADDRESS, CONF_LOCAL_ADDRESS
from .coordinator import EaioConfigEntry

SECRET_KEYS = (CONF_HOST, CONF_URL, CONF_TOKEN, CONF_DEVICE_ADDRESS, CONF_LOCAL_ADDRESS, CONF_USERNAME,
               CONF_PASSWORD, CONF_BASE_TOPIC)  # fmt: skip
TO_REDACT = {*SECRET_KEYS, "unique_id", "title", "api_key", "access_token"}
# Shorter texts ("1", "ok") would redact innocent words; no secret or address is this short.
_MIN_SECRET_LENGTH = 4


def _secret_texts(entry: EaioConfigEntry) -> set[str]:
    """The entry's secrets and addresses, and the host part of each address or URL."""
    texts: set[str] = set()
    for source in (entry.data, entry.options):
        for key in SECRET_KEYS:
            value = source.get(key)
            if not isinstance(value, str) or not value:
                continue
            texts.add(value)
            if key == CONF_URL:
                texts.add(urlsplit(value).hostname or "")
                texts.add(urlsplit(value).netloc)
            elif ":" in value and key != CONF_BASE_TOPIC:
                texts.add(value.rsplit(":", 1)[0])  # "192.168.1.20:47808" -> its host
    texts.discard("0.0.0.0")  # the unspecified address names nobody, and would redact port lists
    return {t for t in texts if len(t) >= _MIN_SECRET_LENGTH}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: EaioConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    report = {
        "entry": {
            "title": entry.title,
            "unique_id": entry.unique_id,
            "data": dict(entry.data),
            "options": dict(entry.options),
        },
        "last_poll": {
            "success": coordinator.last_update_success,
            "requests": data.requests if data else None,
            "values": data.values if data else None,
            "errors": data.errors if data else None,
        },
        **coordinator.diagnostics(),
    }
    redacted: dict[str, Any] = async_redact_data(report, TO_REDACT)
    text = json.dumps(redacted, default=str)
    # Longest first: a URL is redacted whole before its host alone is looked for.
    for secret in sorted(_secret_texts(entry), key=len, reverse=True):
        text = text.replace(json.dumps(secret)[1:-1], REDACTED)
    result: dict[str, Any] = json.loads(text)
    return result

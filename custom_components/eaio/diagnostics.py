"""Diagnostics: configuration, what the device answered last, and how it is read; addresses redacted."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .coordinator import EaioConfigEntry

TO_REDACT = {CONF_HOST, "unique_id", "title"}


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
    host = entry.data.get(CONF_HOST)
    if host:
        # Error texts name the host too; redact it wherever it appears.
        redacted = json.loads(json.dumps(redacted).replace(json.dumps(host)[1:-1], REDACTED))
    return redacted

"""Diagnostics: configuration, the read plan and the last poll, with addresses redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .coordinator import EaioConfigEntry

TO_REDACT = {CONF_HOST, "unique_id", "title"}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: EaioConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "profile": {
                "id": coordinator.profile.profile_id,
                "name": coordinator.profile.name,
                "source": coordinator.profile.source,
                "points": len(coordinator.profile.points),
                "polled_points": [p.key for p in coordinator.points],
            },
            "plan": [
                {
                    "table": b.register_type.value,
                    "start": b.start,
                    "count": b.count,
                    "points": [p.key for p in b.points],
                }
                for b in coordinator.plan
            ],
            "last_poll": {
                "success": coordinator.last_update_success,
                "requests": data.requests if data else None,
                "values": data.values if data else None,
                "errors": data.errors if data else None,
            },
            "client": {
                "connected": coordinator.client.connected,
                # Error texts name the host; redact it there too.
                "last_error": (coordinator.client.last_error or "").replace(entry.data[CONF_HOST], REDACTED)
                or None,
            },
        },
        TO_REDACT,
    )

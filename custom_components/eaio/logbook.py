"""Logbook lines for what the plan executor does: every step, override and fail-safe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN
from .executor import EVENT_PLAN_FAILSAFE, EVENT_PLAN_OVERRIDE, EVENT_PLAN_STEP

# The logbook's own keys (its const module pulls the recorder in when imported).
LOGBOOK_ENTRY_NAME = "name"
LOGBOOK_ENTRY_MESSAGE = "message"

_OUTCOMES = {
    "set": "set to {value}",
    "unchanged": "already at {value}",
    "dry_run": "would be set to {value} (dry run)",
    "refused": "refused by the guard at {value}",
}


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, Any]]], None],
) -> None:
    @callback
    def step(event: Event) -> dict[str, Any]:
        data = event.data
        outcome = _OUTCOMES.get(data.get("outcome", ""), "{value}").format(value=data.get("value"))
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return {
            LOGBOOK_ENTRY_NAME: f"EAIO plan {data.get('key')}",
            LOGBOOK_ENTRY_MESSAGE: f"{outcome} for the slot of {data.get('slot_start')}, plan {data.get('plan_id')}"
            f"{reason}",
        }

    @callback
    def override(event: Event) -> dict[str, Any]:
        data = event.data
        return {
            LOGBOOK_ENTRY_NAME: f"EAIO plan {data.get('key')}",
            LOGBOOK_ENTRY_MESSAGE: f"paused: {data.get('entity_id')} was changed by someone else",
        }

    @callback
    def failsafe(event: Event) -> dict[str, Any]:
        data = event.data
        return {
            LOGBOOK_ENTRY_NAME: f"EAIO plan {data.get('key')}",
            LOGBOOK_ENTRY_MESSAGE: f"fail-safe: {data.get('reason')}; back in its safe state",
        }

    async_describe_event(DOMAIN, EVENT_PLAN_STEP, step)
    async_describe_event(DOMAIN, EVENT_PLAN_OVERRIDE, override)
    async_describe_event(DOMAIN, EVENT_PLAN_FAILSAFE, failsafe)

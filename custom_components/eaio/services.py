"""Services: live point reads and the bounded, audited point write."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_POINT,
    ATTR_POINTS,
    ATTR_VALUE,
    DOMAIN,
    SERVICE_READ_POINTS,
    SERVICE_WRITE_POINT,
)
from .coordinator import EaioCoordinator

READ_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_POINTS): vol.All(cv.ensure_list, [cv.string]),
    }
)
WRITE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_POINT): cv.string,
        vol.Required(ATTR_VALUE): vol.Any(bool, vol.Coerce(float), cv.string),
    }
)


def _coordinator(hass: HomeAssistant, entry_id: str) -> EaioCoordinator:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"name": entry.title},
        )
    coordinator: EaioCoordinator = entry.runtime_data
    return coordinator


async def _read_points(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    result: dict[str, Any] = await coordinator.async_read(call.data.get(ATTR_POINTS))
    return result


async def _write_point(call: ServiceCall) -> None:
    coordinator = _coordinator(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    await coordinator.async_write(call.data[ATTR_POINT], call.data[ATTR_VALUE], call.context)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register EAIO's services."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_POINTS,
        _read_points,
        schema=READ_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(DOMAIN, SERVICE_WRITE_POINT, _write_point, schema=WRITE_SCHEMA)

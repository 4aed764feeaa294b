"""Services: live point reads and the bounded, audited point write."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .addon_coordinator import AddonCoordinator, find_addon_link
from .assistant import async_answer
from .bacnet_coordinator import BacnetCoordinator
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_POINT,
    ATTR_POINTS,
    ATTR_VALUE,
    DOMAIN,
    SERVICE_APPLY_RECOMMENDATION,
    SERVICE_DISMISS_RECOMMENDATION,
    SERVICE_READ_POINTS,
    SERVICE_RUN_OPTIMIZATION,
    SERVICE_SUBMIT_RECOMMENDATIONS,
    SERVICE_WRITE_POINT,
)
from .coordinator import EaioCoordinator, WriteFailed
from .data import get_energy_today
from .guard import get_guard

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
    await get_guard(call.hass).async_write_point(
        coordinator, call.data[ATTR_POINT], call.data[ATTR_VALUE], "person", call.context
    )


SUBMIT_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        # Items are validated one by one so that one bad item does not cost the batch.
        vol.Required("recommendations"): vol.All(cv.ensure_list, [object]),
        vol.Optional("replace", default=False): cv.boolean,
    }
)
RECOMMENDATION_ID_SCHEMA = vol.Schema(
    {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string, vol.Required("recommendation_id"): cv.string}
)
RUN_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})


def _addon(hass: HomeAssistant, entry_id: str | None) -> AddonCoordinator:
    """The add-on link named, or the only one there is."""
    if entry_id is not None:
        coordinator = _coordinator(hass, entry_id)
        if not isinstance(coordinator, AddonCoordinator):
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_addon_entry")
        return coordinator
    links: list[AddonCoordinator] = [
        e.runtime_data
        for e in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(getattr(e, "runtime_data", None), AddonCoordinator)
    ]
    if len(links) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_addon_entry" if not links else "several_addon_entries",
        )
    return links[0]


async def _submit(call: ServiceCall) -> ServiceResponse:
    coordinator = _addon(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    result: dict[str, Any] = coordinator.book.submit(call.data["recommendations"], call.data["replace"])
    return result


PLAN_SCHEMA = vol.Schema(
    # The plan itself is validated item by item in plan.py, so a bad item costs only itself.
    {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string},
    extra=vol.ALLOW_EXTRA,
)


async def _submit_plan(call: ServiceCall) -> ServiceResponse:
    coordinator = _addon(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    raw = {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    try:
        result: dict[str, Any] = coordinator.plans.submit(raw)
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_plan",
            translation_placeholders={"error": str(err)},
        ) from err
    return result


async def _apply(call: ServiceCall) -> None:
    coordinator = _addon(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    await coordinator.async_apply(call.data["recommendation_id"], call.context)


async def _dismiss(call: ServiceCall) -> None:
    coordinator = _addon(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    rec_id = call.data["recommendation_id"]
    if rec_id not in coordinator.book.open:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_recommendation",
            translation_placeholders={"id": rec_id},
        )
    coordinator.book.close(rec_id, "dismissed")


async def _run_optimization(call: ServiceCall) -> ServiceResponse:
    coordinator = _addon(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    result: dict[str, Any] = await coordinator.async_run_optimization()
    return result


RELEASE_SCHEMA = vol.Schema(
    {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string, vol.Required(ATTR_POINT): cv.string}
)


async def _release_point(call: ServiceCall) -> None:
    coordinator = _coordinator(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    if not isinstance(coordinator, BacnetCoordinator):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="release_not_supported",
            translation_placeholders={"device": coordinator.config_entry.title},
        )
    try:
        await get_guard(call.hass).async_release_point(coordinator, call.data[ATTR_POINT], "person", call.context)
    except WriteFailed as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="write_failed",
            translation_placeholders={"point": call.data[ATTR_POINT], "error": str(err)},
        ) from err


ASK_SCHEMA = vol.Schema({vol.Required("question"): vol.All(cv.string, vol.Length(min=1, max=2000))})


async def _ask(call: ServiceCall) -> ServiceResponse:
    answer = await async_answer(
        call.hass, find_addon_link(call.hass), get_energy_today(call.hass), call.data["question"]
    )
    return {"answer": answer.text, "source": answer.source, "topic": answer.topic}


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
    hass.services.async_register(
        DOMAIN,
        SERVICE_SUBMIT_RECOMMENDATIONS,
        _submit,
        schema=SUBMIT_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_APPLY_RECOMMENDATION, _apply, schema=RECOMMENDATION_ID_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, "submit_plan", _submit_plan, schema=PLAN_SCHEMA, supports_response=SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DISMISS_RECOMMENDATION, _dismiss, schema=RECOMMENDATION_ID_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_RUN_OPTIMIZATION,
        _run_optimization,
        schema=RUN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN, "ask", _ask, schema=ASK_SCHEMA, supports_response=SupportsResponse.ONLY
    )
    hass.services.async_register(DOMAIN, "release_point", _release_point, schema=RELEASE_SCHEMA)

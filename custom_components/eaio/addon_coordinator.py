"""The link to the add-on: its health, the recommendations it submits, and applying them."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import UpdateFailed

from .addon_client import AddonAuthError, AddonClient, AddonError
from .const import CONF_TOKEN, CONF_URL, DOMAIN
from .coordinator import DeviceData, EaioConfigEntry, EaioCoordinator
from .entity_spec import EntitySpec
from .recommendations import RecommendationBook

_LOGGER = logging.getLogger(__name__)

HEALTH_INTERVAL = timedelta(seconds=30)

# Services a recommendation may call, and the state attributes that bound the value it sets.
SERVICE_BOUNDS: dict[str, tuple[str, str, str] | None] = {
    "number.set_value": ("value", "min", "max"),
    "input_number.set_value": ("value", "min", "max"),
    "climate.set_temperature": ("temperature", "min_temp", "max_temp"),
    "water_heater.set_temperature": ("temperature", "min_temp", "max_temp"),
    "fan.set_percentage": ("percentage", "", ""),
    "switch.turn_on": None,
    "switch.turn_off": None,
    "light.turn_off": None,
    "light.turn_on": None,
    "climate.set_hvac_mode": None,
}

STATUS_SPECS = [
    EntitySpec(
        key="addon_status", name="Add-on status", platform=Platform.SENSOR, text=True, icon="mdi:robot"
    ),
    EntitySpec(
        key="backfill_progress",
        name="History backfill",
        platform=Platform.SENSOR,
        unit="%",
        state_class="measurement",
        icon="mdi:database-import",
        diagnostic=True,
    ),
    # How far the add-on's load forecasts (as issued, a day or two ahead) were from the meter over
    # the last week, and the savings verified against its baseline so far.
    EntitySpec(
        key="forecast_error",
        name="Forecast error (last 7 days)",
        platform=Platform.SENSOR,
        unit="%",
        state_class="measurement",
        precision=1,
        icon="mdi:chart-bell-curve",
    ),
    EntitySpec(
        key="verified_savings",
        name="Verified energy savings",
        platform=Platform.SENSOR,
        unit="kWh",
        state_class="total",
        precision=1,
        icon="mdi:check-decagram",
    ),
]


class AddonCoordinator(EaioCoordinator):
    """Polls the add-on's health; owns the recommendation book."""

    def __init__(self, hass: HomeAssistant, entry: EaioConfigEntry) -> None:
        super().__init__(
            hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} add-on", update_interval=HEALTH_INTERVAL
        )
        self.client = AddonClient(async_get_clientsession(hass), entry.data[CONF_URL], entry.data[CONF_TOKEN])
        self.book = RecommendationBook(hass, entry.entry_id, self.async_update_listeners)
        self.specs = list(STATUS_SPECS)
        self.manufacturer = "EAIO"
        self.model = "Optimizer add-on"
        self.health: dict[str, Any] = {}
        self._unsub_expiry: Any = None

    async def async_start(self) -> None:
        await self.book.async_load()
        self.book.expire_due()
        self._unsub_expiry = async_track_time_interval(self.hass, self._expire, timedelta(minutes=1))

    @callback
    def _expire(self, _now: Any) -> None:
        self.book.expire_due()

    async def async_close(self) -> None:
        if self._unsub_expiry is not None:
            self._unsub_expiry()
        await self.book.async_flush()

    async def _async_update_data(self) -> DeviceData:
        try:
            self.health = await self.client.health()
        except AddonAuthError as err:
            self.set_online(False, str(err))
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="addon_auth_failed") from err
        except AddonError as err:
            self.set_online(False, str(err))
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="addon_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        self.set_online(True, "answered")
        backfill = self.health.get("backfill") or {}
        values: dict[str, Any] = {"addon_status": str(self.health.get("status", "unknown"))}
        if isinstance(backfill.get("progress"), (int, float)):
            values["backfill_progress"] = float(backfill["progress"])
        # Known only once the add-on has measured them: unknown (not unavailable) until then.
        accuracy = self.health.get("forecast_accuracy") or {}
        error = accuracy.get("cv_rmse_pct")
        values["forecast_error"] = float(error) if isinstance(error, (int, float)) else None
        verified = self.health.get("verified_savings") or {}
        kwh = verified.get("kwh")
        values["verified_savings"] = float(kwh) if isinstance(kwh, (int, float)) else None
        return DeviceData(values)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "health": self.health,
            "open_recommendations": [r.attributes() for r in self.book.ranked()],
            "closed_recommendations": len(self.book.history),
        }

    async def async_run_optimization(self) -> dict[str, Any]:
        try:
            return await self.client.optimize()
        except AddonError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="addon_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err

    async def async_apply(self, rec_id: str, context: Context | None) -> None:
        """Carry out a recommendation's action within the bounds that guard every write."""
        rec = self.book.open.get(rec_id)
        if rec is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_recommendation",
                translation_placeholders={"id": rec_id},
            )
        action = rec.action
        if action["type"] == "write_point":
            target = self.hass.config_entries.async_get_entry(action["config_entry_id"])
            if (
                target is None
                or target.domain != DOMAIN
                or not isinstance(getattr(target, "runtime_data", None), EaioCoordinator)
            ):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={"id": rec_id, "target": action["config_entry_id"]},
                )
            await target.runtime_data.async_write(action["point"], action["value"], context)
        elif action["type"] == "service":
            await self._async_call_service(rec_id, action, context)
        _LOGGER.info(
            "Recommendation %s applied (asked by user %s)", rec_id, context.user_id if context else None
        )
        self.book.close(rec_id, "applied")

    async def _async_call_service(self, rec_id: str, action: dict[str, Any], context: Context | None) -> None:
        service = action["service"]
        if service not in SERVICE_BOUNDS:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="service_not_allowed",
                translation_placeholders={"service": service, "allowed": ", ".join(sorted(SERVICE_BOUNDS))},
            )
        entity_ids = action.get("target", {}).get("entity_id", [])
        if not entity_ids:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_target",
                translation_placeholders={"id": rec_id, "target": "(none)"},
            )
        bounds = SERVICE_BOUNDS[service]
        for entity_id in entity_ids:
            state = self.hass.states.get(entity_id)
            if state is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={"id": rec_id, "target": entity_id},
                )
            if bounds is not None:
                field_name, low_attr, high_attr = bounds
                value = action.get("data", {}).get(field_name)
                low = state.attributes.get(low_attr, 0) if low_attr else 0
                high = state.attributes.get(high_attr, 100) if high_attr else 100
                if not isinstance(value, (int, float)) or not low <= value <= high:
                    raise ServiceValidationError(
                        translation_domain=DOMAIN,
                        translation_key="write_out_of_range",
                        translation_placeholders={
                            "point": entity_id,
                            "value": str(value),
                            "min": str(low),
                            "max": str(high),
                        },
                    )
        domain, name = service.split(".", 1)
        _LOGGER.info(
            "Recommendation %s: calling %s on %s with %s", rec_id, service, entity_ids, action.get("data")
        )
        await self.hass.services.async_call(
            domain, name, {**action.get("data", {}), "entity_id": entity_ids}, blocking=True, context=context
        )


def find_addon_link(hass: HomeAssistant) -> AddonCoordinator | None:
    """The add-on link, when exactly one is loaded."""
    links = [
        e.runtime_data
        for e in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(getattr(e, "runtime_data", None), AddonCoordinator)
    ]
    return links[0] if len(links) == 1 else None

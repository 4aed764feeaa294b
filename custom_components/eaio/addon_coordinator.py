"""The link to the add-on: its health, the recommendations it submits, and applying them."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import UpdateFailed

from .addon_client import AddonAuthError, AddonClient, AddonError
from .const import CONF_TOKEN, CONF_URL, DOMAIN
from .coordinator import DeviceData, EaioConfigEntry, EaioCoordinator
from .entity_spec import EntitySpec
from .executor import PlanExecutor, async_start_executor
from .guard import Command, get_guard
from .plan import PlanBook
from .recommendations import RecommendationBook

_LOGGER = logging.getLogger(__name__)

HEALTH_INTERVAL = timedelta(seconds=30)

STATUS_SPECS = [
    EntitySpec(
        key="addon_status",
        name="Add-on status",
        platform=Platform.SENSOR,
        text=True,
        translation_key="addon_status",
    ),
    EntitySpec(
        key="backfill_progress",
        name="History backfill",
        platform=Platform.SENSOR,
        unit="%",
        state_class="measurement",
        translation_key="backfill_progress",
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
        translation_key="forecast_error",
    ),
    EntitySpec(
        key="verified_savings",
        name="Verified energy savings",
        platform=Platform.SENSOR,
        unit="kWh",
        state_class="total",
        precision=1,
        translation_key="verified_savings",
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
        self.plans = PlanBook(hass, entry.entry_id)
        self.specs = list(STATUS_SPECS)
        self.manufacturer = "EAIO"
        self.model = "Optimizer add-on"
        self.health: dict[str, Any] = {}
        self._unsub_expiry: Any = None
        # The plan executor of this link (set up with the link; None until then).
        self.executor: PlanExecutor | None = None

    async def async_start(self) -> None:
        await self.book.async_load()
        await self.plans.async_load()
        self.executor = await async_start_executor(self.hass, self)
        self.book.expire_due()
        self._unsub_expiry = async_track_time_interval(self.hass, self._expire, timedelta(minutes=1))

    @callback
    def _expire(self, _now: Any) -> None:
        self.book.expire_due()

    async def async_close(self) -> None:
        if self._unsub_expiry is not None:
            self._unsub_expiry()
        await self.book.async_flush()
        if self.executor is not None:
            await self.executor.async_close()
        await self.plans.async_close()

    async def _async_update_data(self) -> DeviceData:
        try:
            self.health = await self.client.health()
        except AddonAuthError as err:
            self.set_online(False, str(err))
            # Home Assistant starts the reauthentication flow, which asks for the current token.
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="addon_auth_failed") from err
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
            "plan": {
                "plan_id": plan.plan_id,
                "start": plan.start.isoformat(),
                "end": plan.end.isoformat(),
                "slot_minutes": plan.slot_minutes,
                "items": sorted(plan.items),
            }
            if (plan := self.plans.plan) is not None
            else None,
            "controllables": self.executor.describe() if self.executor is not None else [],
            "recent_executions": list(self.executor.executions)[-20:] if self.executor is not None else [],
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

    async def async_apply(
        self, rec_id: str, context: Context | None, requester: str = "recommendation"
    ) -> None:
        """Carry out a recommendation's action within the bounds that guard every write."""
        rec = self.book.open.get(rec_id)
        if rec is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_recommendation",
                translation_placeholders={"id": rec_id},
            )
        action = rec.action
        guard = get_guard(self.hass)
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
            await guard.async_write_point(
                target.runtime_data, action["point"], action["value"], requester, context
            )
        elif action["type"] == "service":
            entity_ids = action.get("target", {}).get("entity_id", [])
            if not entity_ids:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={"id": rec_id, "target": "(none)"},
                )
            commands = [
                Command(action["service"], entity_id, dict(action.get("data", {})), requester, rec.category,
                        context, f"recommendation {rec_id}")
                for entity_id in entity_ids
            ]  # fmt: skip
            # Every target is checked before any is changed: all or nothing.
            for command in commands:
                guard.check(command)
            for command in commands:
                await guard.async_call(command)
        elif action["type"] == "plan":
            await self.async_plan_autopilot(action["key"], True, requester, context)
        _LOGGER.info(
            "Recommendation %s applied (asked by %s, user %s)",
            rec_id,
            requester,
            context.user_id if context else None,
        )
        self.book.close(rec_id, "applied")

    async def async_plan_autopilot(self, key: str, on: bool, requester: str, context: Context | None) -> None:
        """Autopilot on or off for the controllable that carries out plan item ``key``."""
        executor = self.executor
        if executor is None or executor.controllable_for_key(key) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_controllable",
                translation_placeholders={"key": key},
            )
        await executor.async_set_autopilot(key, on, requester, context)


def find_addon_link(hass: HomeAssistant) -> AddonCoordinator | None:
    """The add-on link, when exactly one is loaded."""
    links = [
        e.runtime_data
        for e in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(getattr(e, "runtime_data", None), AddonCoordinator)
    ]
    return links[0] if len(links) == 1 else None

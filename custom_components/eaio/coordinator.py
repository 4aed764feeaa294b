"""One coordinator per device: polls the planned blocks and owns the bounded write path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .bms.bounds import WriteRefused, check_write
from .bms.client import DeviceUnreachable, ExceptionResponse, ModbusDeviceClient
from .bms.codec import EncodeError, Value
from .bms.planner import ReadBlock, plan_reads
from .bms.points import Point
from .bms.profiles import Profile
from .const import (
    CONF_ENABLED_POINTS,
    CONF_MAX_GAP,
    CONF_SCAN_INTERVAL,
    CONF_UNIT_ID,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    EVENT_DEVICE_STATUS,
    EVENT_POINT_WRITTEN,
)

_LOGGER = logging.getLogger(__name__)

type EaioConfigEntry = ConfigEntry[ModbusCoordinator]


@dataclass(slots=True)
class DeviceData:
    """What one poll produced."""

    values: dict[str, Value] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0


def enabled_points(profile: Profile, options: dict[str, Any]) -> list[Point]:
    """The points the user chose to poll (all points enabled by default when unset)."""
    keys = options.get(CONF_ENABLED_POINTS)
    if keys is None:
        return [p for p in profile.points if p.enabled_by_default]
    wanted = set(keys)
    return [p for p in profile.points if p.key in wanted]


class ModbusCoordinator(DataUpdateCoordinator[DeviceData]):
    """Polls one Modbus TCP device."""

    config_entry: EaioConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EaioConfigEntry,
        client: ModbusDeviceClient,
        profile: Profile,
    ) -> None:
        options = dict(entry.options)
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(seconds=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)),
        )
        self.client = client
        self.profile = profile
        self.points = enabled_points(profile, options)
        self.max_gap: int = options.get(CONF_MAX_GAP, profile.max_gap)
        self.plan: list[ReadBlock] = plan_reads(self.points, self.max_gap)
        self._online: bool | None = None
        self._reported_errors: dict[str, str] = {}

    @property
    def device_info(self) -> DeviceInfo:
        entry = self.config_entry
        return DeviceInfo(
            identifiers={(DOMAIN, entry.unique_id or entry.entry_id)},
            name=entry.title,
            manufacturer=self.profile.manufacturer,
            model=self.profile.model or self.profile.name,
        )

    async def _async_update_data(self) -> DeviceData:
        try:
            result = await self.client.read(self.plan)
        except DeviceUnreachable as err:
            self._set_online(False, str(err))
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        self.plan = result.plan
        self._report_point_errors(result.errors)
        if result.values or not result.errors:
            self._set_online(True, "answered")
        else:
            self._set_online(False, "every point answered an exception")
        return DeviceData(result.values, result.errors, result.requests)

    def _report_point_errors(self, errors: dict[str, str]) -> None:
        # Log a point's error when it starts or changes, not on every poll.
        for key, error in errors.items():
            if self._reported_errors.get(key) != error:
                _LOGGER.warning("%s: point %s failed: %s", self.config_entry.title, key, error)
        for key in set(self._reported_errors) - set(errors):
            _LOGGER.info("%s: point %s answers again", self.config_entry.title, key)
        self._reported_errors = dict(errors)

    def _set_online(self, online: bool, reason: str) -> None:
        previous, self._online = self._online, online
        if previous is None and online:
            return
        if previous == online:
            return
        if online:
            _LOGGER.info("%s is available again", self.config_entry.title)
        else:
            _LOGGER.warning("%s is unavailable: %s", self.config_entry.title, reason)
        device = dr.async_get(self.hass).async_get_device(
            identifiers={(DOMAIN, self.config_entry.unique_id or self.config_entry.entry_id)}
        )
        self.hass.bus.async_fire(
            EVENT_DEVICE_STATUS,
            {
                "config_entry_id": self.config_entry.entry_id,
                "device_id": device.id if device else None,
                "name": self.config_entry.title,
                "available": online,
                "reason": reason,
            },
        )

    def point(self, key: str) -> Point:
        """A point of this device's profile, or a translated validation error."""
        point = self.profile.by_key.get(key)
        if point is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_point",
                translation_placeholders={"point": key, "device": self.config_entry.title},
            )
        return point

    async def async_read(self, keys: list[str] | None) -> dict[str, Any]:
        """Read points live (not from the last poll) in as few requests as possible."""
        points = [self.point(k) for k in keys] if keys else self.points
        try:
            result = await self.client.read(plan_reads(points, self.max_gap))
        except DeviceUnreachable as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        return {
            "values": result.values,
            "errors": result.errors,
            "units": {p.key: p.unit for p in points if p.unit},
            "requests": result.requests,
        }

    async def async_write(self, key: str, value: Any, context: Context | None) -> None:
        """The one write path: bounds from the profile, an audit log line and event, then I/O."""
        point = self.point(key)
        try:
            checked = check_write(point, value)
        except WriteRefused as err:
            _LOGGER.warning(
                "%s: refused write %s=%r (%s), asked by user %s",
                self.config_entry.title,
                key,
                value,
                err,
                context.user_id if context else None,
            )
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=f"write_{err.reason}",
                translation_placeholders=err.placeholders,
            ) from err
        user_id = context.user_id if context else None
        _LOGGER.info(
            "%s: writing %s = %s (requested %r) at %s address %s, asked by user %s",
            self.config_entry.title,
            key,
            checked,
            value,
            point.register_type.value,
            point.address,
            user_id,
        )
        try:
            await self.client.write(point, checked)
        except (DeviceUnreachable, ExceptionResponse, EncodeError) as err:
            _LOGGER.error("%s: write %s = %s failed: %s", self.config_entry.title, key, checked, err)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_failed",
                translation_placeholders={"point": key, "error": str(err)},
            ) from err
        self.hass.bus.async_fire(
            EVENT_POINT_WRITTEN,
            {
                "config_entry_id": self.config_entry.entry_id,
                "point": key,
                "value": checked,
                "user_id": user_id,
            },
            context=context,
        )
        await self._async_read_back(point, checked)

    async def _async_read_back(self, point: Point, written: float | int | bool) -> None:
        """Confirm a write by reading the point again, so the entity shows what the device holds."""
        try:
            result = await self.client.read(plan_reads([point]))
        except DeviceUnreachable:
            await self.async_request_refresh()
            return
        if point.key not in result.values:
            return
        value = result.values[point.key]
        if isinstance(value, (int, float)) and abs(float(value) - float(written)) > (point.step or 1e-6) / 2:
            # Devices clamp or round on their own; say so rather than show the requested value.
            _LOGGER.warning(
                "%s: wrote %s = %s but the device now holds %s",
                self.config_entry.title,
                point.key,
                written,
                value,
            )
        if self.data is not None:
            values = {**self.data.values, point.key: value}
            errors = {k: v for k, v in self.data.errors.items() if k != point.key}
            self.async_set_updated_data(DeviceData(values, errors, self.data.requests))


def connection_summary(entry: ConfigEntry) -> str:
    """host:port/unit for titles and logs."""
    return f"{entry.data[CONF_HOST]}:{entry.data[CONF_PORT]}/{entry.data[CONF_UNIT_ID]}"

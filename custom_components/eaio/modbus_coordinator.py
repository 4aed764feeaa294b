"""A Modbus TCP device: polls the planned blocks; writes bounded by its profile."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed

from .bms.bounds import check_write
from .bms.client import DeviceUnreachable, ExceptionResponse, ModbusDeviceClient
from .bms.codec import EncodeError
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
)
from .coordinator import DeviceData, EaioConfigEntry, EaioCoordinator, WriteFailed
from .entity_spec import spec_from_modbus

_LOGGER = logging.getLogger(__name__)


def enabled_points(profile: Profile, options: dict[str, Any]) -> list[Point]:
    """The points the user chose to poll (all points enabled by default when unset)."""
    keys = options.get(CONF_ENABLED_POINTS)
    if keys is None:
        return [p for p in profile.points if p.enabled_by_default]
    wanted = set(keys)
    return [p for p in profile.points if p.key in wanted]


class ModbusCoordinator(EaioCoordinator):
    """Polls one Modbus TCP device."""

    def __init__(
        self, hass: HomeAssistant, entry: EaioConfigEntry, client: ModbusDeviceClient, profile: Profile
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
        self.manufacturer = profile.manufacturer
        self.model = profile.model or profile.name
        self.points = enabled_points(profile, options)
        self.specs = [spec_from_modbus(p) for p in self.points]
        self.max_gap: int = options.get(CONF_MAX_GAP, profile.max_gap)
        self.plan: list[ReadBlock] = plan_reads(self.points, self.max_gap)

    async def async_close(self) -> None:
        await self.client.close()

    def diagnostics(self) -> dict[str, Any]:
        return {
            "profile": {
                "id": self.profile.profile_id,
                "name": self.profile.name,
                "source": self.profile.source,
                "points": len(self.profile.points),
                "polled_points": [p.key for p in self.points],
            },
            "plan": [
                {
                    "table": b.register_type.value,
                    "start": b.start,
                    "count": b.count,
                    "points": [p.key for p in b.points],
                }
                for b in self.plan
            ],
            "client": {"connected": self.client.connected, "last_error": self.client.last_error},
        }

    async def _async_update_data(self) -> DeviceData:
        try:
            result = await self.client.read(self.plan)
        except DeviceUnreachable as err:
            self.set_online(False, str(err))
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        self.plan = result.plan
        self.report_point_errors(result.errors)
        if result.values or not result.errors:
            self.set_online(True, "answered")
        else:
            self.set_online(False, "every point answered an exception")
        return DeviceData(result.values, result.errors, result.requests)

    def _point(self, key: str) -> Point:
        self.spec(key)  # a translated error for unknown keys
        return self.profile.by_key[key]

    async def async_read(self, keys: list[str] | None) -> dict[str, Any]:
        """Read points live (not from the last poll) in as few requests as possible."""
        points = [self._point(k) for k in keys] if keys else self.points
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

    def check_write(self, key: str, value: Any) -> float | int | bool:
        return check_write(self._point(key), value)

    def point_location(self, key: str) -> str:
        point = self._point(key)
        return f" at {point.register_type.value} address {point.address}"

    async def async_write_device(self, key: str, value: float | int | bool | str) -> None:
        point = self._point(key)
        try:
            await self.client.write(point, value)  # type: ignore[arg-type]
        except (DeviceUnreachable, ExceptionResponse, EncodeError) as err:
            raise WriteFailed(str(err)) from err

    async def async_read_back(self, key: str, written: float | int | bool | str) -> None:
        """Confirm a write by reading the point again, so the entity shows what the device holds."""
        point = self._point(key)
        try:
            result = await self.client.read(plan_reads([point]))
        except DeviceUnreachable:
            await self.async_request_refresh()
            return
        if key not in result.values:
            return
        value = result.values[key]
        if (
            isinstance(value, (int, float))
            and isinstance(written, (int, float))
            and abs(float(value) - float(written)) > (point.step or 1e-6) / 2
        ):
            # Devices clamp or round on their own; say so rather than show the requested value.
            _LOGGER.warning(
                "%s: wrote %s = %s but the device now holds %s",
                self.config_entry.title,
                key,
                written,
                value,
            )
        self.merge_values({key: value})


def connection_summary(data: dict[str, Any]) -> str:
    """host:port/unit, for titles."""
    return f"{data[CONF_HOST]}:{data[CONF_PORT]}/{data[CONF_UNIT_ID]}"

"""A Modbus TCP device: polls the planned blocks; writes bounded by its profile."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.update_coordinator import UpdateFailed

from .bms.bounds import check_write
from .bms.client import DeviceUnreachable, ExceptionResponse, ModbusDeviceClient
from .bms.codec import EncodeError
from .bms.planner import ReadBlock, plan_reads
from .bms.plausibility import PlausibilityChecker, rule_for_point
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
from .entity_spec import INVALID_READINGS, describe, spec_from_modbus
from .readings import InvalidReadings, PointErrorLog

_LOGGER = logging.getLogger(__name__)

# A plan split by refusals is probed merged again every this many polls (5 minutes at the
# default interval): a device that answered exceptions while busy or rebooting answers the
# merged blocks again, and three requests a poll beat sixteen.
PROBE_MERGED_EVERY = 30


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
        self.specs = [spec_from_modbus(p) for p in self.points] + [INVALID_READINGS]
        self.max_gap: int = options.get(CONF_MAX_GAP, profile.max_gap)
        self.merged_plan: list[ReadBlock] = plan_reads(self.points, self.max_gap)
        self.plan: list[ReadBlock] = self.merged_plan
        self.probe_merged_every = PROBE_MERGED_EVERY
        self._polls_since_split = 0
        rules = {p.key: rule for p in self.points if (rule := rule_for_point(p)) is not None}
        self.invalid = InvalidReadings(self, PlausibilityChecker(rules))
        self._error_log = PointErrorLog(lambda: self.config_entry.title)

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
            "split": self.plan != self.merged_plan,
            "client": {"connected": self.client.connected, "last_error": self.client.last_error},
            "invalid_readings": {"total": self.invalid.count, "by_point": self.invalid.by_point},
        }

    def _plan_for_this_poll(self) -> list[ReadBlock]:
        if self.plan == self.merged_plan:
            return self.plan
        self._polls_since_split += 1
        if self._polls_since_split < self.probe_merged_every:
            return self.plan
        self._polls_since_split = 0
        _LOGGER.debug("%s: probing the merged read plan", self.config_entry.title)
        return self.merged_plan

    async def _async_update_data(self) -> DeviceData:
        try:
            result = await self.client.read(self._plan_for_this_poll())
        except DeviceUnreachable as err:
            self.set_online(False, str(err))
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        if result.plan != self.plan:
            merged = result.plan == self.merged_plan
            _LOGGER.info(
                "%s: read plan %s (%d requests a poll)",
                self.config_entry.title,
                "merged again" if merged else "split around refused registers",
                len(result.plan),
            )
            self._polls_since_split = 0
        self.plan = result.plan
        values, refused = self.invalid.filter(result.values)
        errors = {**result.errors, **refused}
        self._error_log.report(errors)
        if len(values) > 1 or not errors:
            self.set_online(True, "answered")
        elif result.gateway_failed:
            self.set_online(False, next(iter(result.errors.values())))
        else:
            self.set_online(False, "every point answered an exception")
        return DeviceData(values, errors, result.requests)

    def _point(self, key: str) -> Point:
        spec = self.spec(key)  # a translated error for unknown keys
        if key not in self.profile.by_key:  # the invalid-readings count is EAIO's, not the device's
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_point",
                translation_placeholders={"point": spec.key, "device": self.config_entry.title},
            )
        return self.profile.by_key[key]

    async def async_read(self, keys: list[str] | None) -> dict[str, Any]:
        """Read points live (not from the last poll) in as few requests as possible."""
        points = [self._point(k) for k in keys] if keys else self.points
        described = {p.key: describe(spec_from_modbus(p)) for p in points}
        try:
            result = await self.client.read(plan_reads(points, self.max_gap))
        except DeviceUnreachable as err:
            # Reported in the answer, not raised: a caller asking is not a fault to log as one.
            return {
                "values": {},
                "errors": {p.key: f"device unreachable: {err}" for p in points},
                "units": {p.key: p.unit for p in points if p.unit},
                "requests": 0,
                "points": described,
            }
        values, refused = self.invalid.filter(result.values)
        values.pop(INVALID_READINGS.key)
        return {
            "values": values,
            "errors": {**result.errors, **refused},
            "units": {p.key: p.unit for p in points if p.unit},
            "requests": result.requests,
            "points": described,
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
        values, _refused = self.invalid.filter(result.values)
        if key not in values:
            return
        value = values[key]
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
        self.merge_values({key: value, INVALID_READINGS.key: self.invalid.count})


def connection_summary(data: dict[str, Any]) -> str:
    """host:port/unit, for titles."""
    return f"{data[CONF_HOST]}:{data[CONF_PORT]}/{data[CONF_UNIT_ID]}"

"""A BACnet/IP device: values by change-of-value notifications, a safety poll, prioritised writes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
import logging
import math
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady, ServiceValidationError
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util.hass_dict import HassKey

from .bms.bacnet import (
    BacnetClient,
    BacnetError,
    BacnetObject,
    CovWatcher,
    ObjectId,
    Value,
    format_object_id,
    parse_object_id,
)
from .bms.bacnet_units import MULTISTATE_OBJECT_TYPES, platform_for, unit_info
from .bms.bounds import WriteRefused
from .bms.client import DeviceUnreachable
from .bms.plausibility import PlausibilityChecker, Rule, make_rule
from .const import (
    CONF_DEVICE_ADDRESS,
    CONF_LOCAL_ADDRESS,
    CONF_OBJECTS,
    CONF_PRIORITY,
    CONF_SCAN_INTERVAL,
    DEFAULT_BACNET_PRIORITY,
    DEFAULT_BACNET_SCAN_INTERVAL,
    DOMAIN,
)
from .coordinator import DeviceData, EaioConfigEntry, EaioCoordinator, WriteFailed
from .entity_spec import INVALID_READINGS, EntitySpec, describe
from .readings import InvalidReadings, PointErrorLog

_LOGGER = logging.getLogger(__name__)

# Writes need bounds. Devices that report Min/Max_Pres_Value give their own; otherwise these
# conservative ranges by device class apply, and anything else is read-only until configured.
DEFAULT_BOUNDS: dict[tuple[str | None, str | None], tuple[float, float]] = {
    ("temperature", "°C"): (5.0, 35.0),
    ("temperature", "°F"): (41.0, 95.0),
    (None, "%"): (0.0, 100.0),
    ("humidity", "%"): (0.0, 100.0),
}


def object_key(object_id: ObjectId) -> str:
    """An entity key from an object id: ("analogValue", 1) -> "av_1"."""
    return format_object_id(object_id).replace(":", "_").lower()


@dataclass
class _SharedClient:
    client: BacnetClient
    users: int = 0


CLIENTS: HassKey[dict[str, _SharedClient]] = HassKey(f"{DOMAIN}_bacnet_clients")


async def async_acquire_client(hass: HomeAssistant, local_address: str) -> BacnetClient:
    """One client per local UDP port, shared by every device (and flow) that uses it."""
    clients = hass.data.setdefault(CLIENTS, {})
    shared = clients.get(local_address)
    if shared is None:
        client = BacnetClient(local_address, timeout=3.0)
        await client.start()
        shared = clients[local_address] = _SharedClient(client)
    shared.users += 1
    return shared.client


async def async_release_client(hass: HomeAssistant, local_address: str) -> None:
    clients = hass.data.get(CLIENTS, {})
    shared = clients.get(local_address)
    if shared is None:
        return
    shared.users -= 1
    if shared.users <= 0:
        del clients[local_address]
        await shared.client.stop()  # relinquishes whatever is still commanded


@dataclass
class _Point:
    obj: BacnetObject
    spec: EntitySpec
    scale: float = 1.0
    bounds: tuple[float, float] | None = None
    options: tuple[str, ...] = field(default_factory=tuple)


def _spec(obj: BacnetObject) -> tuple[EntitySpec, float, tuple[str, ...]] | None:
    platform = platform_for(obj.object_type, obj.writable)
    if platform is None:
        return None
    info = unit_info(obj.units, obj.name)
    options: tuple[str, ...] = ()
    if obj.object_type in MULTISTATE_OBJECT_TYPES:
        options = tuple(obj.state_text or ())
    numeric = platform in ("sensor", "number") and obj.object_type not in MULTISTATE_OBJECT_TYPES
    return (
        EntitySpec(
            key=object_key(obj.object_id),
            name=obj.name,
            platform=Platform(platform),
            unit=info.unit if numeric else None,
            device_class=info.device_class
            if numeric
            else ("enum" if options and platform == "sensor" else None),
            state_class=info.state_class if numeric and platform == "sensor" else None,
            options=options,
        ),
        info.scale,
        options,
    )


def _rule(point: _Point) -> Rule | None:
    """Plausibility by unit and class; a writable value's own limits widened (bms/plausibility.py)."""
    spec = point.spec
    if spec.platform not in (Platform.SENSOR, Platform.NUMBER) or point.options:
        return None
    bounds = point.bounds
    return make_rule(
        unit=spec.unit,
        device_class=spec.device_class,
        state_class=spec.state_class,
        write_min=bounds[0] if bounds else None,
        write_max=bounds[1] if bounds else None,
    )


class BacnetCoordinator(EaioCoordinator):
    """One BACnet device: COV pushes values, a slower poll confirms the device is there."""

    def __init__(self, hass: HomeAssistant, entry: EaioConfigEntry) -> None:
        interval = entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_BACNET_SCAN_INTERVAL)
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(seconds=interval),
        )
        self.local_address: str = entry.data[CONF_LOCAL_ADDRESS]
        self.address: str = entry.data[CONF_DEVICE_ADDRESS]
        self.priority: int = entry.options.get(CONF_PRIORITY, DEFAULT_BACNET_PRIORITY)
        self.object_ids: list[ObjectId] = [parse_object_id(oid) for oid in entry.data[CONF_OBJECTS]]
        self.client: BacnetClient | None = None
        self.points: dict[str, _Point] = {}
        self.by_object: dict[ObjectId, str] = {}
        self.specs = []
        self.watcher: CovWatcher | None = None
        self.model = "BACnet/IP device"
        self.invalid = InvalidReadings(self, PlausibilityChecker({}))
        self._error_log = PointErrorLog(lambda: self.config_entry.title)

    async def async_start(self) -> None:
        """Describe the chosen objects, read them once, then subscribe to their changes."""
        self.client = await async_acquire_client(self.hass, self.local_address)
        try:
            described = await self.client.read_objects(self.address, self.object_ids)
            device = await self.client.read_device(self.address)
        except (DeviceUnreachable, BacnetError) as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        self.manufacturer = device.vendor_name
        self.model = device.model_name or "BACnet/IP device"
        for obj in described.objects:
            made = _spec(obj)
            if made is None:
                continue
            spec, scale, options = made
            point = _Point(obj, spec, scale, None, options)
            if obj.writable and spec.platform is Platform.NUMBER:
                point.bounds = await self._bounds(obj, spec)
                if point.bounds is not None:
                    point.spec = spec = replace(
                        spec,
                        minimum=point.bounds[0],
                        maximum=point.bounds[1],
                        step=0.5 if spec.device_class == "temperature" else 1.0,
                    )
            self.points[spec.key] = point
            self.by_object[obj.object_id] = spec.key
        self.specs = [p.spec for p in self.points.values()] + [INVALID_READINGS]
        self.invalid.checker.rules = {
            key: rule for key, point in self.points.items() if (rule := _rule(point)) is not None
        }
        await self.async_config_entry_first_refresh()
        self.watcher = CovWatcher(
            self.client,
            self.address,
            list(self.by_object),
            self._on_value,
            poll_interval=float(self.update_interval.total_seconds()) if self.update_interval else 60.0,
            on_error=self._on_cov_error,
        )
        await self.watcher.start()

    async def _bounds(self, obj: BacnetObject, spec: EntitySpec) -> tuple[float, float] | None:
        assert self.client is not None
        limits = []
        for prop in ("minPresValue", "maxPresValue"):
            try:
                limits.append(float(await self.client.read_property(self.address, obj.object_id, prop)))
            except (BacnetError, DeviceUnreachable, TypeError, ValueError):
                limits.append(math.nan)
        if not any(math.isnan(v) for v in limits) and limits[0] <= limits[1]:
            return (limits[0], limits[1])
        return DEFAULT_BOUNDS.get((spec.device_class, spec.unit)) or DEFAULT_BOUNDS.get((None, spec.unit))

    def _display(self, key: str, value: Value) -> Any:
        point = self.points[key]
        if point.options and isinstance(value, int) and not isinstance(value, bool):
            # Multi-state values count from 1.
            return point.options[value - 1] if 1 <= value <= len(point.options) else None
        if isinstance(value, float) and point.scale != 1.0:
            return value * point.scale
        return value

    @callback
    def _on_value(self, object_id: ObjectId, value: Value) -> None:
        key = self.by_object.get(object_id)
        if key is not None:
            self._push({key: self._display(key, value)})

    def _push(self, values: dict[str, Any]) -> None:
        """Values that arrived outside a poll: plausible ones merged, refused ones unavailable."""
        accepted, refused = self.invalid.filter(values)
        if refused and self.data is not None:
            kept = {k: v for k, v in self.data.values.items() if k not in refused}
            self.data = DeviceData({**kept, **accepted}, {**self.data.errors, **refused}, self.data.requests)
            self.async_update_listeners()
            return
        self.merge_values(accepted)

    @callback
    def _on_cov_error(self, object_id: ObjectId | None, error: str | None) -> None:
        if object_id is not None and error:
            _LOGGER.info(
                "%s: %s is polled, not pushed: %s",
                self.config_entry.title,
                format_object_id(object_id),
                error,
            )

    async def _async_update_data(self) -> DeviceData:
        assert self.client is not None
        try:
            result = await self.client.read_values(self.address, list(self.by_object))
        except DeviceUnreachable as err:
            self.set_online(False, str(err))
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        values, refused = self.invalid.filter(
            {self.by_object[oid]: self._display(self.by_object[oid], v) for oid, v in result.values.items()}
        )
        errors = {self.by_object[oid]: e for oid, e in result.errors.items()} | refused
        self._error_log.report(errors)
        self.set_online(True, "answered")
        return DeviceData(values, errors, result.requests)

    async def async_read(self, keys: list[str] | None) -> dict[str, Any]:
        """The latest value of each point: pushed ones as the last notification left them,
        polled ones read now. A device that does not answer is reported in the result (with
        the latest values it gave), not raised: asking is not a fault.
        """
        wanted = [self._known(k) for k in keys] if keys else list(self.points)
        data = self.data or DeviceData()
        # Pushed values are current while the device answers; after a failed poll, ask it.
        pushed = set(self.watcher.subscriptions) if self.watcher and self.last_update_success else set()
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        source: dict[str, str] = {}
        for key in wanted:
            if self.points[key].obj.object_id in pushed and key in data.values:
                values[key], source[key] = data.values[key], "pushed"
        live = [k for k in wanted if k not in values]
        requests = 0
        if live:
            assert self.client is not None
            oids = {self.points[k].obj.object_id: k for k in live}
            try:
                result = await self.client.read_values(self.address, list(oids))
            except DeviceUnreachable as err:
                result = None
                errors.update(dict.fromkeys(live, f"device unreachable: {err}"))
            if result is not None:
                requests = result.requests
                read, refused = self.invalid.filter(
                    {oids[oid]: self._display(oids[oid], v) for oid, v in result.values.items()}
                )
                read.pop(INVALID_READINGS.key)
                values.update(read)
                source.update(dict.fromkeys(read, "read"))
                errors.update({oids[oid]: e for oid, e in result.errors.items()} | refused)
            for key in errors:
                if key in data.values:  # what the device said last, marked as such
                    values[key], source[key] = data.values[key], "last known"
        return {
            "values": values,
            "errors": errors,
            "units": {k: self.points[k].spec.unit for k in wanted if self.points[k].spec.unit},
            "requests": requests,
            "source": source,
            "points": {k: describe(self.points[k].spec) for k in wanted},
        }

    def _known(self, key: str) -> str:
        if key not in self.points:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_point",
                translation_placeholders={"point": key, "device": self.config_entry.title},
            )
        return key

    def point_location(self, key: str) -> str:
        point = self.points[key]
        return f" at {format_object_id(point.obj.object_id)} priority {self.priority}"

    def check_write(self, key: str, value: Any) -> float | int | bool | str:
        point = self.points.get(key)
        if point is None or not point.obj.writable:
            raise WriteRefused("read_only", f"{key} is read-only", point=key)
        platform = point.spec.platform
        if platform is Platform.SWITCH:
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("on", "off", "true", "false"):
                return value.lower() in ("on", "true")
            raise WriteRefused("not_boolean", f"{key} takes on/off", point=key, value=str(value))
        if platform is Platform.SELECT:
            if value in point.options:
                return point.options.index(value) + 1
            raise WriteRefused(
                "not_an_option", f"{key} takes one of {point.options}", point=key, value=str(value),
                options=", ".join(point.options),
            )  # fmt: skip
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise WriteRefused("not_a_number", f"{key} takes a number", point=key, value=str(value)) from None
        if point.bounds is None:
            raise WriteRefused("no_bounds", f"{key} has no known limits", point=key)
        low, high = point.bounds
        if not (math.isfinite(number) and low <= number <= high):
            raise WriteRefused(
                "out_of_range", f"{number:g} outside {low:g}..{high:g}", point=key, value=f"{number:g}",
                min=f"{low:g}", max=f"{high:g}",
            )  # fmt: skip
        return number / point.scale

    async def async_write_device(self, key: str, value: float | int | bool | str) -> None:
        assert self.client is not None
        try:
            await self.client.write(
                self.address, self.points[key].obj.object_id, value, priority=self.priority
            )
        except (DeviceUnreachable, BacnetError, ValueError) as err:
            raise WriteFailed(str(err)) from err

    async def async_read_back(self, key: str, written: float | int | bool | str) -> None:
        assert self.client is not None
        oid = self.points[key].obj.object_id
        try:
            result = await self.client.read_values(self.address, [oid])
        except DeviceUnreachable:
            return
        if oid in result.values:
            self._push({key: self._display(key, result.values[oid])})

    async def async_release(self, key: str) -> None:
        """Give the point back to the device's own control: null at our priority."""
        point = self.points.get(key)
        if point is None or not point.obj.writable:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_point",
                translation_placeholders={"point": key, "device": self.config_entry.title},
            )
        assert self.client is not None
        try:
            await self.client.relinquish(self.address, point.obj.object_id, priority=self.priority)
        except (DeviceUnreachable, BacnetError) as err:
            raise WriteFailed(str(err)) from err
        _LOGGER.info("%s: released %s at priority %s", self.config_entry.title, key, self.priority)
        await self.async_read_back(key, 0)

    async def async_close(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.client is not None:
            for override in list(self.client.overrides):
                if override.address == self.address:
                    try:
                        await self.client.relinquish(
                            self.address, override.object_id, priority=override.priority
                        )
                    except (DeviceUnreachable, BacnetError) as err:
                        _LOGGER.warning(
                            "%s: could not release %s: %s", self.config_entry.title, override.object_id, err
                        )
            self.client = None
            await async_release_client(self.hass, self.local_address)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "objects": {k: format_object_id(p.obj.object_id) for k, p in self.points.items()},
            "bounds": {k: p.bounds for k, p in self.points.items() if p.bounds},
            "polled_not_pushed": {
                format_object_id(o): r for o, r in (self.watcher.polled if self.watcher else {}).items()
            },
            "priority": self.priority,
            "invalid_readings": {"total": self.invalid.count, "by_point": self.invalid.by_point},
        }

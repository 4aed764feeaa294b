"""The coordinator base every device shares: status events, error reporting and the write path."""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Context, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .bms.bounds import WriteRefused
from .bms.codec import Value
from .const import DOMAIN, EVENT_DEVICE_STATUS, EVENT_POINT_WRITTEN
from .entity_spec import EntitySpec
from .repairs import async_note_reachable

_LOGGER = logging.getLogger(__name__)

type EaioConfigEntry = ConfigEntry[EaioCoordinator]


@dataclass(slots=True)
class DeviceData:
    """The latest values of a device's points and the points that failed."""

    values: dict[str, Value] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0


class WriteFailed(Exception):
    """The device did not take a write that passed the bounds."""


class EaioCoordinator(DataUpdateCoordinator[DeviceData]):
    """One device. Subclasses do the protocol I/O; this class does what all devices share."""

    config_entry: EaioConfigEntry
    specs: list[EntitySpec]
    manufacturer: str | None = None
    model: str | None = None

    _online: bool | None = None
    _reported_errors: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_listeners: dict[str, list[CALLBACK_TYPE]] = {}

    @property
    def device_info(self) -> DeviceInfo:
        entry = self.config_entry
        return DeviceInfo(
            identifiers={(DOMAIN, entry.unique_id or entry.entry_id)},
            name=entry.title,
            manufacturer=self.manufacturer,
            model=self.model,
        )

    def spec(self, key: str) -> EntitySpec:
        """A point of this device, or a translated validation error."""
        for spec in self.specs:
            if spec.key == key:
                return spec
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_point",
            translation_placeholders={"point": key, "device": self.config_entry.title},
        )

    def set_online(self, online: bool, reason: str) -> None:
        """Fire eaio_device_status when the device goes away or comes back."""
        async_note_reachable(self.hass, self.config_entry, online, reason)
        previous, self._online = self._online, online
        if previous == online or (previous is None and online):
            return
        if online:
            _LOGGER.info("%s is available again", self.config_entry.title)
        else:
            _LOGGER.warning("%s is unavailable: %s", self.config_entry.title, reason)
        entry = self.config_entry
        device = dr.async_get(self.hass).async_get_device(
            identifiers={(DOMAIN, entry.unique_id or entry.entry_id)}
        )
        self.hass.bus.async_fire(
            EVENT_DEVICE_STATUS,
            {
                "config_entry_id": entry.entry_id,
                "device_id": device.id if device else None,
                "name": entry.title,
                "available": online,
                "reason": reason,
            },
        )

    # Protocol-specific parts -------------------------------------------------------------

    async def async_close(self) -> None:
        """Release the connection when the entry unloads."""

    def point_location(self, key: str) -> str:
        """Where on the device a point lives, for the audit log (" at holding address 0")."""
        return ""

    def diagnostics(self) -> dict[str, Any]:
        """Protocol-specific diagnostics (addresses are redacted by the caller)."""
        return {}

    async def async_read(self, keys: list[str] | None) -> dict[str, Any]:
        """Read points live; subclasses that can read on demand override this."""
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="read_not_supported",
            translation_placeholders={"device": self.config_entry.title},
        )

    def check_write(self, key: str, value: Any) -> float | int | bool | str:
        """Return the value to send, or raise WriteRefused (bounds from the device's profile)."""
        raise WriteRefused("read_only", f"{key} is read-only", point=key)

    async def async_write_device(self, key: str, value: float | int | bool | str) -> None:
        """Send a checked value; raise WriteFailed when the device does not take it."""
        raise WriteFailed("this device takes no writes")

    async def async_read_back(self, key: str, written: float | int | bool | str) -> None:
        """Show what the device holds after a write (default: the next poll shows it)."""
        await self.async_request_refresh()

    # The one write path ------------------------------------------------------------------

    async def async_write(self, key: str, value: Any, context: Context | None) -> None:
        """Bounds, an audit log line and event, then the device I/O and a read-back."""
        self.spec(key)
        user_id = context.user_id if context else None
        title = self.config_entry.title
        try:
            checked = self.check_write(key, value)
        except WriteRefused as err:
            _LOGGER.warning("%s: refused write %s=%r (%s), asked by user %s", title, key, value, err, user_id)
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=f"write_{err.reason}",
                translation_placeholders=err.placeholders,
            ) from err
        _LOGGER.info(
            "%s: writing %s = %s (requested %r)%s, asked by user %s",
            title,
            key,
            checked,
            value,
            self.point_location(key),
            user_id,
        )
        try:
            await self.async_write_device(key, checked)
        except WriteFailed as err:
            _LOGGER.error("%s: write %s = %s failed: %s", title, key, checked, err)
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
        await self.async_read_back(key, checked)

    def merge_values(self, values: dict[str, Value]) -> None:
        """Push values that arrived outside a poll (a read-back, a notification).

        Only the entities of the points that changed are told: a device that pushes one
        value a millisecond must not make every one of its entities write its state.
        """
        if self.data is None:
            return
        errors = {k: v for k, v in self.data.errors.items() if k not in values}
        self.data = DeviceData({**self.data.values, **values}, errors, self.data.requests)
        for key in values:
            for listener in list(self._key_listeners.get(key, ())):
                listener()

    @callback
    def async_add_key_listener(self, key: str, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``listener`` when a pushed value of ``key`` arrives."""
        listeners = self._key_listeners.setdefault(key, [])
        listeners.append(listener)

        @callback
        def remove() -> None:
            listeners.remove(listener)

        return remove

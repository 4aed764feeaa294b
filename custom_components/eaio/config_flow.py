"""Config flow: pick a source type, then the device; options and reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
import socket
from typing import Any
import uuid

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.util import slugify
import voluptuous as vol

from . import async_load_catalog
from .addon_client import AddonAuthError, AddonClient, AddonError
from .bacnet_coordinator import CLIENTS, async_acquire_client, async_release_client
from .bms.bacnet import (
    BacnetClient,
    BacnetError,
    BacnetObject,
    DiscoveredDevice,
    format_object_id,
    normalize_address,
)
from .bms.bacnet_units import platform_for
from .bms.client import DeviceUnreachable, ModbusDeviceClient
from .bms.mqtt import MqttProfile, load_mqtt_profiles
from .bms.planner import plan_reads
from .bms.profiles import Profile, ProfileCatalog
from .const import (
    ADDON_UNIQUE_ID,
    CONF_BASE_TOPIC,
    CONF_DEVICE_ADDRESS,
    CONF_DEVICE_INSTANCE,
    CONF_ENABLED_POINTS,
    CONF_LOCAL_ADDRESS,
    CONF_MAX_GAP,
    CONF_OBJECTS,
    CONF_PRIORITY,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_SOURCE_TYPE,
    CONF_TOKEN,
    CONF_UNIT_ID,
    CONF_URL,
    DEFAULT_BACNET_LOCAL_ADDRESS,
    DEFAULT_BACNET_PRIORITY,
    DEFAULT_BACNET_SCAN_INTERVAL,
    DEFAULT_PORT,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_UNIT_ID,
    DOMAIN,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    SOURCE_ADDON,
    SOURCE_BACNET,
    SOURCE_MODBUS,
    SOURCE_MQTT,
)
from .controllables import SUBENTRY_TYPE as CONTROLLABLE_SUBENTRY
from .controllables_flow import ControllableSubentryFlow
from .modbus_coordinator import enabled_points

# Source types offered by the first step. Menu entries are step ids: "mqtt" is taken by
# Home Assistant for MQTT discovery, so MQTT devices use "mqtt_device".
SOURCE_TYPES = [SOURCE_MODBUS, SOURCE_BACNET, "mqtt_device", SOURCE_ADDON]


def _new_modbus_id() -> str:
    """An id made once and kept: entity ids and statistics must outlive an address change."""
    return f"modbus_{uuid.uuid4().hex}"


def _resolve(host: str) -> set[str]:
    """Every address a host name stands for (blocking: run in the executor)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return {host.lower()}
    return {str(info[4][0]) for info in infos}


def _profile_selector(catalog: ProfileCatalog) -> SelectSelector:
    options = [
        SelectOptionDict(value=pid, label=f"{p.name} (your point map)" if p.user else p.name)
        for pid, p in sorted(catalog.profiles.items(), key=lambda i: (i[1].user, i[1].name))
    ]
    return SelectSelector(SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN))


def _modbus_schema(catalog: ProfileCatalog, defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): NumberSelector(
                NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_UNIT_ID, default=defaults.get(CONF_UNIT_ID, DEFAULT_UNIT_ID)): NumberSelector(
                NumberSelectorConfig(min=0, max=255, mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_PROFILE, default=defaults.get(CONF_PROFILE, vol.UNDEFINED)): _profile_selector(
                catalog
            ),
        }
    )


def _addon_schema(url: str | None) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=url or "http://127.0.0.1:8099"): TextSelector(
                TextSelectorConfig(type=TextSelectorType.URL)
            ),
            vol.Required(CONF_TOKEN): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
        }
    )


def _clean_topic(raw: Any) -> str | None:
    """A base topic without surrounding slashes, or None when it is not one (wildcards included)."""
    base = str(raw).strip().strip("/")
    try:
        mqtt.valid_subscribe_topic(base)
    except vol.Invalid:
        return None
    return None if "+" in base or "#" in base else base


def _refused_text(catalog: ProfileCatalog) -> str:
    if not catalog.errors:
        return ""
    return "\n\nThese point maps were refused:\n" + "\n".join(f"- {e}" for e in catalog.errors.values())


async def _test_connection(
    hass: HomeAssistant, host: str, port: int, unit_id: int, profile: Profile
) -> tuple[str | None, str | None]:
    """Read every point once: an error key (None when the device answers) and its serial number
    when the profile names a point that holds one and the device gives it."""
    client = ModbusDeviceClient(host, port, unit_id, timeout=3.0)
    try:
        result = await client.read(plan_reads(profile.points, profile.max_gap))
    except DeviceUnreachable:
        return "cannot_connect", None
    finally:
        await client.close()
    if not result.values:
        return "no_points_answered", None
    serial = str(result.values.get(profile.serial or "", "")).strip()
    return None, serial or None


def _serial_id(profile: Profile, serial: str) -> str:
    """The id of a device that tells its serial number: the same wherever it is connected."""
    return f"modbus_sn_{slugify(f'{profile.manufacturer or profile.name} {serial}')}"


class EaioConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a device to EAIO."""

    VERSION = 1
    # 1.2: ids that do not hold an address, and one id for the add-on (see async_migrate_entry).
    MINOR_VERSION = 2

    def __init__(self) -> None:
        self._catalog: ProfileCatalog | None = None
        self._discovered: dict[str, Any] = {}
        self._bacnet_local: str | None = None
        self._bacnet_devices: dict[str, DiscoveredDevice] = {}
        self._bacnet_device: DiscoveredDevice | None = None
        self._bacnet_objects: list[BacnetObject] = []
        self._serial: str | None = None

    @callback
    def async_remove(self) -> None:
        """A flow left half-way must not keep the BACnet port open."""
        if self._bacnet_local is not None:
            local, self._bacnet_local = self._bacnet_local, None
            self.hass.async_create_task(async_release_client(self.hass, local))

    async def _bacnet_client(self, local: str) -> BacnetClient:
        if self._bacnet_local == local:
            return self.hass.data[CLIENTS][local].client
        if self._bacnet_local is not None:
            await async_release_client(self.hass, self._bacnet_local)
            self._bacnet_local = None
        client = await async_acquire_client(self.hass, local)
        self._bacnet_local = local
        return client

    async def async_step_bacnet(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Where EAIO listens for BACnet/IP, and optionally the address of one device."""
        errors: dict[str, str] = {}
        if user_input is not None:
            local = str(user_input[CONF_LOCAL_ADDRESS]).strip()
            target = str(user_input.get(CONF_DEVICE_ADDRESS) or "").strip()
            try:
                client = await self._bacnet_client(local)
            except (OSError, ValueError):
                errors[CONF_LOCAL_ADDRESS] = "local_address_unusable"
            else:
                try:
                    if target:
                        found = [await client.discover_at(normalize_address(target))]
                    else:
                        found = await client.discover(wait=3.0)
                except ValueError:
                    errors[CONF_DEVICE_ADDRESS] = "invalid_address"
                except (DeviceUnreachable, BacnetError):
                    errors["base"] = "no_devices_found"
                else:
                    if found:
                        self._bacnet_devices = {str(d.instance): d for d in found}
                        return await self.async_step_bacnet_device()
                    errors["base"] = "no_devices_found"
        defaults = user_input or {}
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_LOCAL_ADDRESS, default=defaults.get(CONF_LOCAL_ADDRESS, DEFAULT_BACNET_LOCAL_ADDRESS)
                ): TextSelector(),
                vol.Optional(
                    CONF_DEVICE_ADDRESS, default=defaults.get(CONF_DEVICE_ADDRESS, "")
                ): TextSelector(),
            }
        )
        return self.async_show_form(step_id="bacnet", data_schema=schema, errors=errors)

    async def async_step_bacnet_device(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick one of the devices that answered."""
        if user_input is not None:
            device = self._bacnet_devices[user_input[CONF_DEVICE_INSTANCE]]
            await self.async_set_unique_id(f"bacnet_{device.instance}")
            self._abort_if_unique_id_configured()
            self._bacnet_device = device
            return await self.async_step_bacnet_objects()
        options = [
            SelectOptionDict(
                value=key,
                label=f"{d.name or 'Device'} (instance {d.instance}, {d.address}"
                + (f", {d.vendor_name}" if d.vendor_name else "")
                + ")",
            )
            for key, d in self._bacnet_devices.items()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_DEVICE_INSTANCE, default=options[0]["value"]): SelectSelector(
                    SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST)
                )
            }
        )
        return self.async_show_form(
            step_id="bacnet_device", data_schema=schema, description_placeholders={"count": str(len(options))}
        )

    async def async_step_bacnet_objects(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Which of the device's objects become entities."""
        device = self._bacnet_device
        assert device is not None and self._bacnet_local is not None
        client = self.hass.data[CLIENTS][self._bacnet_local].client
        errors: dict[str, str] = {}
        if not self._bacnet_objects:
            try:
                listing = await client.read_objects(device.address)
            except (DeviceUnreachable, BacnetError):
                return self.async_abort(reason="cannot_connect")
            self._bacnet_objects = [
                o for o in listing.objects if platform_for(o.object_type, o.writable) is not None
            ]
        if user_input is not None:
            if user_input.get(CONF_OBJECTS):
                local = self._bacnet_local
                self._bacnet_local = None
                await async_release_client(self.hass, local)
                return self.async_create_entry(
                    title=device.name or f"BACnet device {device.instance}",
                    data={
                        CONF_SOURCE_TYPE: SOURCE_BACNET,
                        CONF_LOCAL_ADDRESS: local,
                        CONF_DEVICE_ADDRESS: device.address,
                        CONF_DEVICE_INSTANCE: device.instance,
                        CONF_OBJECTS: list(user_input[CONF_OBJECTS]),
                    },
                )
            errors[CONF_OBJECTS] = "no_points"
        options = [
            SelectOptionDict(
                value=format_object_id(o.object_id),
                label=f"{o.name} ({format_object_id(o.object_id)}"
                + (f", {o.units}" if o.units else "")
                + ")",
            )
            for o in self._bacnet_objects
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_OBJECTS, default=[o["value"] for o in options]): SelectSelector(
                    SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.LIST)
                )
            }
        )
        return self.async_show_form(
            step_id="bacnet_objects",
            data_schema=schema,
            errors=errors,
            description_placeholders={"device": device.name or str(device.instance)},
        )

    async def _get_catalog(self) -> ProfileCatalog:
        if self._catalog is None:
            self._catalog = await async_load_catalog(self.hass)
        return self._catalog

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what kind of device to add."""
        return self.async_show_menu(step_id="user", menu_options=SOURCE_TYPES)

    async def _validate(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str], Profile | None]:
        """Normalise input, check the profile and talk to the device."""
        catalog = await self._get_catalog()
        data = {
            CONF_SOURCE_TYPE: SOURCE_MODBUS,
            CONF_HOST: str(user_input[CONF_HOST]).strip(),
            CONF_PORT: int(user_input[CONF_PORT]),
            CONF_UNIT_ID: int(user_input[CONF_UNIT_ID]),
            CONF_PROFILE: user_input[CONF_PROFILE],
        }
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"refused": _refused_text(catalog)}
        profile = catalog.profiles.get(data[CONF_PROFILE])
        if profile is None:
            errors[CONF_PROFILE] = "invalid_profile"
        else:
            error, self._serial = await _test_connection(
                self.hass, data[CONF_HOST], data[CONF_PORT], data[CONF_UNIT_ID], profile
            )
            if error is not None:
                errors["base"] = error
        return data, errors, placeholders, profile

    async def async_step_modbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connection and profile of a Modbus TCP device."""
        catalog = await self._get_catalog()
        errors: dict[str, str] = {}
        placeholders = {"refused": _refused_text(catalog)}
        if user_input is not None:
            if await self._modbus_taken(
                str(user_input[CONF_HOST]).strip(), int(user_input[CONF_PORT]), int(user_input[CONF_UNIT_ID])
            ):
                return self.async_abort(reason="already_configured")
            data, errors, placeholders, profile = await self._validate(user_input)
            if not errors and profile is not None:
                if self._serial is None:
                    await self.async_set_unique_id(_new_modbus_id())
                else:
                    await self.async_set_unique_id(_serial_id(profile, self._serial))
                    # A device EAIO knows, found at a new address: its entry moves there.
                    self._abort_if_unique_id_configured(
                        updates={k: data[k] for k in (CONF_HOST, CONF_PORT, CONF_UNIT_ID)}
                    )
                return self.async_create_entry(title=profile.name, data=data)
        return self.async_show_form(
            step_id="modbus",
            data_schema=_modbus_schema(catalog, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _modbus_taken(self, host: str, port: int, unit_id: int, exclude: str | None = None) -> bool:
        """Whether another entry already reads this unit (localhost and 127.0.0.1 are one host)."""
        others = [
            e
            for e in self._async_current_entries(include_ignore=False)
            if e.entry_id != exclude
            and e.data.get(CONF_SOURCE_TYPE, SOURCE_MODBUS) == SOURCE_MODBUS
            and e.data.get(CONF_PORT) == port
            and e.data.get(CONF_UNIT_ID) == unit_id
        ]
        if not others:
            return False
        mine = await self.hass.async_add_executor_job(_resolve, host)
        for other in others:
            if mine & await self.hass.async_add_executor_job(_resolve, str(other.data[CONF_HOST])):
                return True
        return False

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change where a device is; its id, entities and statistics stay."""
        source = self._get_reconfigure_entry().data.get(CONF_SOURCE_TYPE, SOURCE_MODBUS)
        if source == SOURCE_BACNET:
            return await self.async_step_reconfigure_bacnet(user_input)
        if source == SOURCE_MQTT:
            return await self.async_step_reconfigure_mqtt(user_input)
        if source == SOURCE_ADDON:
            return await self.async_step_reconfigure_addon(user_input)
        return await self.async_step_reconfigure_modbus(user_input)

    async def async_step_reconfigure_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Host, port, unit id or profile of a Modbus device."""
        entry = self._get_reconfigure_entry()
        catalog = await self._get_catalog()
        errors: dict[str, str] = {}
        placeholders = {"refused": _refused_text(catalog)}
        if user_input is not None:
            data, errors, placeholders, profile = await self._validate(user_input)
            if not errors and await self._modbus_taken(
                data[CONF_HOST], data[CONF_PORT], data[CONF_UNIT_ID], exclude=entry.entry_id
            ):
                errors["base"] = "already_configured"
            if (
                not errors
                and profile is not None
                and self._serial is not None
                and str(entry.unique_id).startswith("modbus_sn_")
                and _serial_id(profile, self._serial) != entry.unique_id
            ):
                errors["base"] = "wrong_device"  # another serial number: another device
            if not errors and profile is not None:
                options = dict(entry.options)
                title = entry.title
                if data[CONF_PROFILE] != entry.data[CONF_PROFILE]:
                    options.pop(CONF_ENABLED_POINTS, None)  # keys of another profile mean nothing
                    old = catalog.profiles.get(entry.data[CONF_PROFILE])
                    if old is None or title == old.name:
                        title = profile.name  # the title was the profile's; a chosen one stays
                return self.async_update_reload_and_abort(entry, title=title, data=data, options=options)
        return self.async_show_form(
            step_id="reconfigure_modbus",
            data_schema=_modbus_schema(catalog, user_input or dict(entry.data)),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure_bacnet(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A BACnet device's new address; it must still be the same device instance."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            local = str(user_input[CONF_LOCAL_ADDRESS]).strip()
            target = str(user_input[CONF_DEVICE_ADDRESS]).strip()
            try:
                client = await self._bacnet_client(local)
            except (OSError, ValueError):
                errors[CONF_LOCAL_ADDRESS] = "local_address_unusable"
            else:
                try:
                    device = await client.discover_at(normalize_address(target))
                except ValueError:
                    errors[CONF_DEVICE_ADDRESS] = "invalid_address"
                except (DeviceUnreachable, BacnetError):
                    errors["base"] = "cannot_connect"
                else:
                    if device.instance != entry.data[CONF_DEVICE_INSTANCE]:
                        errors["base"] = "wrong_device"
                    else:
                        if self._bacnet_local is not None:
                            held, self._bacnet_local = self._bacnet_local, None
                            await async_release_client(self.hass, held)
                        return self.async_update_reload_and_abort(
                            entry,
                            data_updates={CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: device.address},
                        )
        defaults = user_input or dict(entry.data)
        schema = vol.Schema(
            {
                vol.Required(CONF_LOCAL_ADDRESS, default=defaults.get(CONF_LOCAL_ADDRESS)): TextSelector(),
                vol.Required(CONF_DEVICE_ADDRESS, default=defaults.get(CONF_DEVICE_ADDRESS)): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="reconfigure_bacnet",
            data_schema=schema,
            errors=errors,
            description_placeholders={"instance": str(entry.data[CONF_DEVICE_INSTANCE])},
        )

    async def async_step_reconfigure_mqtt(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The topic an MQTT device publishes under."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            base = _clean_topic(user_input[CONF_BASE_TOPIC])
            if base is None:
                errors[CONF_BASE_TOPIC] = "invalid_topic"
            elif self._mqtt_taken(base, exclude=entry.entry_id):
                errors[CONF_BASE_TOPIC] = "topic_taken"
            else:
                return self.async_update_reload_and_abort(entry, data_updates={CONF_BASE_TOPIC: base})
        defaults = user_input or dict(entry.data)
        schema = vol.Schema(
            {vol.Required(CONF_BASE_TOPIC, default=defaults.get(CONF_BASE_TOPIC)): TextSelector()}
        )
        return self.async_show_form(step_id="reconfigure_mqtt", data_schema=schema, errors=errors)

    async def async_step_reconfigure_addon(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The add-on's address and token."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = str(user_input[CONF_URL]).strip().rstrip("/")
            error = await self._check_addon(url, user_input[CONF_TOKEN])
            if error is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_URL: url, CONF_TOKEN: user_input[CONF_TOKEN]}
                )
            errors["base"] = error
        defaults = user_input or dict(entry.data)
        return self.async_show_form(
            step_id="reconfigure_addon", data_schema=_addon_schema(defaults.get(CONF_URL)), errors=errors
        )

    def _mqtt_taken(self, base: str, exclude: str | None = None) -> bool:
        return any(
            e.data.get(CONF_BASE_TOPIC) == base
            for e in self._async_current_entries(include_ignore=False)
            if e.entry_id != exclude and e.data.get(CONF_SOURCE_TYPE) == SOURCE_MQTT
        )

    async def async_step_mqtt_device(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A device that publishes to MQTT topics, received through Home Assistant's MQTT."""
        if not self.hass.config_entries.async_entries("mqtt"):
            return self.async_abort(reason="mqtt_not_configured")
        profiles: dict[str, MqttProfile] = await self.hass.async_add_executor_job(load_mqtt_profiles)
        errors: dict[str, str] = {}
        if user_input is not None:
            base = _clean_topic(user_input[CONF_BASE_TOPIC])
            if base is None:
                errors[CONF_BASE_TOPIC] = "invalid_topic"
            elif self._mqtt_taken(base):
                return self.async_abort(reason="already_configured")
            else:
                # The topic it was added under, kept when the topic changes; a later device
                # under that old topic gets an id of its own.
                taken = {e.unique_id for e in self._async_current_entries(include_ignore=False)}
                unique_id = f"mqtt_{base}"
                if unique_id in taken:
                    unique_id = f"{unique_id}_{uuid.uuid4().hex[:8]}"
                await self.async_set_unique_id(unique_id)
                return self.async_create_entry(
                    title=str(user_input[CONF_NAME]).strip() or base,
                    data={
                        CONF_SOURCE_TYPE: SOURCE_MQTT,
                        CONF_BASE_TOPIC: base,
                        CONF_PROFILE: user_input[CONF_PROFILE],
                    },
                )
        defaults = user_input or {}
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, vol.UNDEFINED)): TextSelector(),
                vol.Required(
                    CONF_BASE_TOPIC, default=defaults.get(CONF_BASE_TOPIC, vol.UNDEFINED)
                ): TextSelector(),
                vol.Required(
                    CONF_PROFILE, default=defaults.get(CONF_PROFILE, "multi_sensor")
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[SelectOptionDict(value=k, label=p.name) for k, p in profiles.items()],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
            }
        )
        return self.async_show_form(step_id="mqtt_device", data_schema=schema, errors=errors)

    async def _check_addon(self, url: str, token: str) -> str | None:
        client = AddonClient(async_get_clientsession(self.hass), url, token, timeout=10)
        try:
            await client.health()
        except AddonAuthError:
            return "invalid_auth"
        except AddonError:
            return "cannot_connect"
        return None

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The add-on announced itself through the Supervisor: offer one-click setup."""
        config = discovery_info.config
        url = f"http://{config['host']}:{config['port']}"
        await self.async_set_unique_id(ADDON_UNIQUE_ID)
        self._abort_if_unique_id_configured(updates={CONF_URL: url, CONF_TOKEN: config["token"]})
        self._discovered = {CONF_URL: url, CONF_TOKEN: config["token"], "name": discovery_info.name}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await self._check_addon(self._discovered[CONF_URL], self._discovered[CONF_TOKEN])
            if error is None:
                return self.async_create_entry(
                    title="EAIO optimizer",
                    data={
                        CONF_SOURCE_TYPE: SOURCE_ADDON,
                        CONF_URL: self._discovered[CONF_URL],
                        CONF_TOKEN: self._discovered[CONF_TOKEN],
                    },
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="hassio_confirm",
            description_placeholders={"addon": self._discovered.get("name", "EAIO")},
            errors=errors,
        )

    async def async_step_addon(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect to an add-on running standalone: its URL and the token it printed."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = str(user_input[CONF_URL]).strip().rstrip("/")
            await self.async_set_unique_id(ADDON_UNIQUE_ID)
            self._abort_if_unique_id_configured()
            error = await self._check_addon(url, user_input[CONF_TOKEN])
            if error is None:
                return self.async_create_entry(
                    title="EAIO optimizer",
                    data={CONF_SOURCE_TYPE: SOURCE_ADDON, CONF_URL: url, CONF_TOKEN: user_input[CONF_TOKEN]},
                )
            errors["base"] = error
        defaults = user_input or {}
        return self.async_show_form(
            step_id="addon", data_schema=_addon_schema(defaults.get(CONF_URL)), errors=errors
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The add-on refused its token: ask for the one it shows now."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await self._check_addon(entry.data[CONF_URL], user_input[CONF_TOKEN])
            if error is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]}
                )
            errors["base"] = error
        schema = vol.Schema(
            {vol.Required(CONF_TOKEN): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))}
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={"url": entry.data[CONF_URL]},
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return EaioOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """The add-on link takes controllables: the entities that may carry out its plans."""
        if config_entry.data.get(CONF_SOURCE_TYPE) != SOURCE_ADDON:
            return {}
        return {CONTROLLABLE_SUBENTRY: ControllableSubentryFlow}


class EaioOptionsFlow(OptionsFlow):
    """Polling interval, request coalescing and which points are polled."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if self.config_entry.data.get(CONF_SOURCE_TYPE) == SOURCE_ADDON:
            return self.async_abort(reason="no_options")
        if self.config_entry.data.get(CONF_SOURCE_TYPE) == SOURCE_BACNET:
            return await self.async_step_bacnet_options(user_input)
        if self.config_entry.data.get(CONF_SOURCE_TYPE) == SOURCE_MQTT:
            return await self.async_step_mqtt_points(user_input)
        catalog = await async_load_catalog(self.hass)
        profile = catalog.profiles.get(self.config_entry.data[CONF_PROFILE])
        if profile is None:
            return self.async_abort(reason="profile_unavailable")
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input.get(CONF_ENABLED_POINTS):
                errors[CONF_ENABLED_POINTS] = "no_points"
            else:
                return self.async_create_entry(
                    data={
                        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                        CONF_MAX_GAP: int(user_input[CONF_MAX_GAP]),
                        CONF_ENABLED_POINTS: list(user_input[CONF_ENABLED_POINTS]),
                    }
                )
        current = dict(self.config_entry.options)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL, default=current.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL,
                        max=MAX_SCAN_INTERVAL,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_MAX_GAP, default=current.get(CONF_MAX_GAP, profile.max_gap)
                ): NumberSelector(NumberSelectorConfig(min=0, max=100, step=1, mode=NumberSelectorMode.BOX)),
                vol.Required(
                    CONF_ENABLED_POINTS,
                    default=[p.key for p in enabled_points(profile, current)],
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[SelectOptionDict(value=p.key, label=p.name) for p in profile.points],
                        multiple=True,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)

    async def async_step_bacnet_options(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Write priority and the safety poll of a BACnet device."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if int(user_input[CONF_PRIORITY]) == 6:
                errors[CONF_PRIORITY] = "priority_reserved"
            else:
                return self.async_create_entry(
                    data={
                        CONF_PRIORITY: int(user_input[CONF_PRIORITY]),
                        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                    }
                )
        current = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_PRIORITY, default=current.get(CONF_PRIORITY, DEFAULT_BACNET_PRIORITY)
                ): NumberSelector(NumberSelectorConfig(min=1, max=16, step=1, mode=NumberSelectorMode.BOX)),
                vol.Required(
                    CONF_SCAN_INTERVAL, default=current.get(CONF_SCAN_INTERVAL, DEFAULT_BACNET_SCAN_INTERVAL)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=10, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
                    )
                ),
            }
        )
        return self.async_show_form(step_id="bacnet_options", data_schema=schema, errors=errors)

    async def async_step_mqtt_points(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Which of an MQTT device's points become entities."""
        profiles = await self.hass.async_add_executor_job(load_mqtt_profiles)
        profile = profiles.get(self.config_entry.data[CONF_PROFILE])
        if profile is None:
            return self.async_abort(reason="profile_unavailable")
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input.get(CONF_ENABLED_POINTS):
                return self.async_create_entry(
                    data={CONF_ENABLED_POINTS: list(user_input[CONF_ENABLED_POINTS])}
                )
            errors[CONF_ENABLED_POINTS] = "no_points"
        keys = self.config_entry.options.get(CONF_ENABLED_POINTS)
        current = [
            p.key for p in profile.points if (p.key in keys if keys is not None else p.enabled_by_default)
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_ENABLED_POINTS, default=current): SelectSelector(
                    SelectSelectorConfig(
                        options=[SelectOptionDict(value=p.key, label=p.name) for p in profile.points],
                        multiple=True,
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(step_id="mqtt_points", data_schema=schema, errors=errors)

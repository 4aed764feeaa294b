"""EAIO: building devices as Home Assistant entities, and energy optimization."""

from __future__ import annotations

from pathlib import Path

from homeassistant.const import CONF_HOST, CONF_PORT, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.typing import ConfigType

from .addon_coordinator import AddonCoordinator
from .bacnet_coordinator import BacnetCoordinator
from .bms.client import ModbusDeviceClient
from .bms.mqtt import load_mqtt_profiles
from .bms.profiles import ProfileCatalog, load_catalog
from .const import (
    ADDON_UNIQUE_ID,
    CONF_BASE_TOPIC,
    CONF_PROFILE,
    CONF_SOURCE_TYPE,
    CONF_UNIT_ID,
    DOMAIN,
    SOURCE_ADDON,
    SOURCE_BACNET,
    SOURCE_MODBUS,
    SOURCE_MQTT,
)
from .coordinator import EaioConfigEntry, EaioCoordinator
from .data import ENERGY_TODAY
from .energy_today import EnergyToday
from .llm_api import async_register_llm_api
from .modbus_coordinator import ModbusCoordinator
from .mqtt_coordinator import MqttCoordinator
from .profile_check import check_point
from .repairs import async_forget_entry, async_note_reachable, async_sync_point_map_issues
from .services import async_setup_services
from .websocket import async_register_websocket_commands

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.CONVERSATION,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services, the LLM tools and the energy-today tracker once."""
    async_setup_services(hass)
    async_register_llm_api(hass)
    async_register_websocket_commands(hass)
    tracker = EnergyToday(hass)
    await tracker.async_load()
    hass.data[ENERGY_TODAY] = tracker
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, lambda _event: tracker.async_stop())
    return True


async def async_load_catalog(hass: HomeAssistant) -> ProfileCatalog:
    """Shipped profiles and the user's point maps, validated, read off the event loop.

    Each refused point map file is a repair issue until it loads again or is gone.
    """
    catalog = await hass.async_add_executor_job(load_catalog, Path(hass.config.config_dir), check_point)
    async_sync_point_map_issues(hass, catalog.errors)
    return catalog


async def async_setup_entry(hass: HomeAssistant, entry: EaioConfigEntry) -> bool:
    """Set up one device, whichever protocol it speaks."""
    source = entry.data.get(CONF_SOURCE_TYPE, SOURCE_MODBUS)
    if source == SOURCE_ADDON:
        coordinator: EaioCoordinator = await _async_setup_addon(hass, entry)
    elif source == SOURCE_BACNET:
        bacnet = BacnetCoordinator(hass, entry)
        try:
            await bacnet.async_start()
        except ConfigEntryNotReady as err:
            # Not answering at start counts towards the unreachable repair like not answering
            # later (a Modbus device's first poll counts by itself).
            async_note_reachable(hass, entry, False, str(err))
            await bacnet.async_close()
            raise
        except BaseException:
            await bacnet.async_close()
            raise
        coordinator = bacnet
    elif source == SOURCE_MQTT:
        coordinator = await _async_setup_mqtt(hass, entry)
    else:
        coordinator = await _async_setup_modbus(hass, entry)
    entry.runtime_data = coordinator
    _remove_unpolled_entities(hass, entry, coordinator)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    hass.data[ENERGY_TODAY].async_refresh_tracking()
    return True


async def _async_setup_addon(hass: HomeAssistant, entry: EaioConfigEntry) -> AddonCoordinator:
    coordinator = AddonCoordinator(hass, entry)
    await coordinator.async_start()
    # The add-on being away must not hide the stored recommendations: refresh, don't require.
    await coordinator.async_refresh()
    return coordinator


async def _async_setup_mqtt(hass: HomeAssistant, entry: EaioConfigEntry) -> MqttCoordinator:
    profiles = await hass.async_add_executor_job(load_mqtt_profiles)
    profile = profiles.get(entry.data[CONF_PROFILE])
    if profile is None:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="profile_unavailable",
            translation_placeholders={"profile": entry.data[CONF_PROFILE], "reason": "no such MQTT profile"},
        )
    coordinator = MqttCoordinator(hass, entry, profile, entry.data[CONF_BASE_TOPIC])
    try:
        await coordinator.async_start()
    except BaseException:
        await coordinator.async_close()
        raise
    return coordinator


async def _async_setup_modbus(hass: HomeAssistant, entry: EaioConfigEntry) -> ModbusCoordinator:
    catalog = await async_load_catalog(hass)
    profile_id = entry.data[CONF_PROFILE]
    profile = catalog.profiles.get(profile_id)
    if profile is None:
        reason = next(
            (
                err
                for source, err in catalog.errors.items()
                if Path(source).stem == profile_id.removeprefix("user:")
            ),
            "the profile file no longer exists",
        )
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="profile_unavailable",
            translation_placeholders={"profile": profile_id, "reason": reason},
        )
    client = ModbusDeviceClient(entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_UNIT_ID])
    coordinator = ModbusCoordinator(hass, entry, client, profile)
    try:
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        await client.close()
        raise
    return coordinator


def _remove_unpolled_entities(
    hass: HomeAssistant, entry: EaioConfigEntry, coordinator: EaioCoordinator
) -> None:
    """Points the user turned off in the options are neither polled nor kept as entities."""
    if isinstance(coordinator, AddonCoordinator):
        # The link's entities (recommendations, plan, controllables, the agent) are not points:
        # removing them on each start would lose what a person set on them (entity id, area).
        return
    registry = er.async_get(hass)
    polled = {f"{entry.unique_id}_{p.key}" for p in coordinator.specs}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.unique_id not in polled:
            registry.async_remove(entity.entity_id)


async def _async_options_updated(hass: HomeAssistant, entry: EaioConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_migrate_entry(hass: HomeAssistant, entry: EaioConfigEntry) -> bool:
    """Bring an entry of an older version to today's, keeping its entity ids and statistics."""
    if entry.version > 1:
        return False  # written by a newer EAIO: nothing here can read it
    if entry.minor_version < 2:
        _migrate_1_2(hass, entry)
    return True


def _migrate_1_2(hass: HomeAssistant, entry: EaioConfigEntry) -> None:
    """Version 1.1 built a Modbus entry's id and title from its address.

    The old unique id stays the entry's id for good: every entity's unique id starts with it,
    so the entities and their statistics stay; a reconfigured address no longer changes it.
    Only the title (the device's name) loses the address. The add-on link moves to the one id
    it has whether discovered or typed, and its entities and device move with it.
    """
    data = dict(entry.data)
    source = data.setdefault(CONF_SOURCE_TYPE, SOURCE_MODBUS)
    title = entry.title
    unique_id = entry.unique_id
    if source == SOURCE_MODBUS:
        suffix = f" {data[CONF_HOST]}:{data[CONF_PORT]}/{data[CONF_UNIT_ID]}"
        title = title.removesuffix(suffix) or title
    elif source == SOURCE_ADDON and unique_id != ADDON_UNIQUE_ID:
        taken = any(
            e.unique_id == ADDON_UNIQUE_ID
            for e in hass.config_entries.async_entries(DOMAIN)
            if e is not entry
        )
        if not taken:
            _move_ids(hass, entry, unique_id or entry.entry_id, ADDON_UNIQUE_ID)
            unique_id = ADDON_UNIQUE_ID
    hass.config_entries.async_update_entry(
        entry, data=data, title=title, unique_id=unique_id, minor_version=2
    )


def _move_ids(hass: HomeAssistant, entry: EaioConfigEntry, old: str, new: str) -> None:
    """Give an entry's entities and device a new id base; their entity ids stay."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.unique_id.startswith(f"{old}_"):
            registry.async_update_entity(
                entity.entity_id, new_unique_id=f"{new}_{entity.unique_id.removeprefix(f'{old}_')}"
            )
    devices = dr.async_get(hass)
    device = devices.async_get_device(identifiers={(DOMAIN, old)})
    if device is not None:
        devices.async_update_device(device.id, new_identifiers={(DOMAIN, new)})


async def async_unload_entry(hass: HomeAssistant, entry: EaioConfigEntry) -> bool:
    """Unload a device and close its connection."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_close()
        async_forget_entry(hass, entry.entry_id)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: EaioConfigEntry) -> None:
    """A removed device leaves no repair issue behind (one left set up unloads first)."""
    async_forget_entry(hass, entry.entry_id)

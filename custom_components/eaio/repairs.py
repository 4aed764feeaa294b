"""Repair issues EAIO raises in Home Assistant, each lifted again when its cause goes.

A device away for a moment is normal (its entities show unavailable); one away for an hour
needs a person, so it becomes a repair issue. The same holds for the add-on after half an hour
(the recommendations and the plan depend on it), and for a point map file EAIO refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util.hass_dict import HassKey

from .const import CONF_SOURCE_TYPE, DOMAIN, SOURCE_ADDON

DEVICE_UNREACHABLE_AFTER = timedelta(hours=1)
ADDON_UNREACHABLE_AFTER = timedelta(minutes=30)

# Entry id -> the timer that raises the entry's issue when it stays away.
_WATCHES: HassKey[dict[str, CALLBACK_TYPE]] = HassKey(f"{DOMAIN}_unreachable_watches")
_POINT_MAP_PREFIX = "point_map_refused_"


def unreachable_issue_id(entry_id: str) -> str:
    return f"unreachable_{entry_id}"


@callback
def async_note_reachable(hass: HomeAssistant, entry: ConfigEntry, reachable: bool, reason: str) -> None:
    """Start the clock when a device goes away; stop it and lift the issue when it answers."""
    watches = _watches(hass)
    if reachable:
        if (cancel := watches.pop(entry.entry_id, None)) is not None:
            cancel()
        ir.async_delete_issue(hass, DOMAIN, unreachable_issue_id(entry.entry_id))
        return
    if entry.entry_id in watches:
        return  # already counting since it first went away
    addon = entry.data.get(CONF_SOURCE_TYPE) == SOURCE_ADDON
    after = ADDON_UNREACHABLE_AFTER if addon else DEVICE_UNREACHABLE_AFTER

    @callback
    def _still_away(_now: datetime) -> None:
        # The timer stays in the map: the device has not answered since, so there is nothing
        # to count again until it does. A retry may be starting at this very moment (its timer
        # runs out with this one when time jumps): the device is still away.
        if entry.state not in (
            ConfigEntryState.LOADED,
            ConfigEntryState.SETUP_RETRY,
            ConfigEntryState.SETUP_IN_PROGRESS,
        ):
            return
        ir.async_create_issue(
            hass,
            DOMAIN,
            unreachable_issue_id(entry.entry_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="addon_unreachable" if addon else "device_unreachable",
            translation_placeholders={
                "name": entry.title,
                "minutes": str(int(after.total_seconds() // 60)),
                "error": reason,
            },
        )

    watches[entry.entry_id] = async_call_later(hass, after, _still_away)


def _watches(hass: HomeAssistant) -> dict[str, CALLBACK_TYPE]:
    if (watches := hass.data.get(_WATCHES)) is None:
        watches = hass.data[_WATCHES] = {}

        @callback
        def _stop(_event: Event) -> None:
            # Home Assistant stops without unloading the entries: no clock outlives it.
            while watches:
                watches.popitem()[1]()

        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return watches


@callback
def async_forget_entry(hass: HomeAssistant, entry_id: str) -> None:
    """An entry unloaded or removed: no clock runs for it and no issue names it."""
    if (cancel := hass.data.get(_WATCHES, {}).pop(entry_id, None)) is not None:
        cancel()
    ir.async_delete_issue(hass, DOMAIN, unreachable_issue_id(entry_id))


@callback
def async_sync_point_map_issues(hass: HomeAssistant, refused: Mapping[str, str]) -> None:
    """One issue per refused point map file (file -> why); issues of files now fine are lifted."""
    wanted = {_POINT_MAP_PREFIX + Path(source).name: (source, error) for source, error in refused.items()}
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.startswith(_POINT_MAP_PREFIX) and issue_id not in wanted:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for issue_id, (source, error) in wanted.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="point_map_refused",
            translation_placeholders={"file": source, "error": error},
        )

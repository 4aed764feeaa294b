"""Integration-wide state kept in hass.data."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .energy_today import EnergyToday

ENERGY_TODAY: HassKey[EnergyToday] = HassKey(f"{DOMAIN}_energy_today")


def get_energy_today(hass: HomeAssistant) -> EnergyToday | None:
    return hass.data.get(ENERGY_TODAY)

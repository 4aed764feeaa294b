"""The demo's battery and appliance: their entities, the add-on's options for them, and the Energy
dashboard set up with the building's meters, as an owner sets it up after adding the devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .hass_process import HassApi, ws_command

# The Modbus devices that carry out plans (eaio_sim.building: a 10 kWh / 5 kW battery, a 1.8 kW appliance).
BATTERY_PROFILE = "battery_inverter"
PLUG_PROFILE = "smart_plug"
APPLIANCE_NAME = "Dishwasher"


async def entity_of(api: HassApi, entry_id: str, key: str) -> str | None:
    """The entity id of one point of an entry, from the entity registry (ids follow names, keys do not change)."""
    entities = await ws_command(api, {"type": "config/entity_registry/list"})
    for entity in entities:
        if entity.get("config_entry_id") == entry_id and str(entity.get("unique_id", "")).endswith("_" + key):
            return str(entity["entity_id"])
    return None


@dataclass
class Equipment:
    """The entity ids of the demo's meters, battery and appliance (None: not there)."""

    grid_import: str | None = None
    grid_export: str | None = None
    battery_charged: str | None = None
    battery_discharged: str | None = None
    battery_soc: str | None = None
    battery_setpoint: str | None = None
    battery_control: str | None = None
    battery_power: str | None = None
    plug_relay: str | None = None
    plug_energy: str | None = None
    hvac_energy: str | None = None

    def addon_options(self) -> str:
        """The add-on's battery and appliance options (YAML): what the plan needs to know of them."""
        soc = f"\n  soc_entity: {self.battery_soc}" if self.battery_soc else ""
        relay = f"\n    entity: {self.plug_relay}" if self.plug_relay else ""
        return (f"battery:\n  capacity_kwh: 10\n  max_power_kw: 5\n  round_trip_efficiency: 90\n  min_soc: 10{soc}\n"
                f"deferrable_loads:\n  - name: {APPLIANCE_NAME}\n    power_kw: 1.8\n    run_hours: 2\n"
                f"    earliest: '09:00'\n    latest: '23:00'{relay}\n")


async def find_equipment(api: HassApi, entries: dict[str, str]) -> Equipment:
    """``entries``: the demo's Modbus entry id per profile."""
    found = Equipment()
    meter, hvac = entries.get("three_phase_meter"), entries.get("hvac_unit")
    battery, plug = entries.get(BATTERY_PROFILE), entries.get(PLUG_PROFILE)
    if meter:
        found.grid_import = await entity_of(api, meter, "import_energy")
        found.grid_export = await entity_of(api, meter, "export_energy")
    if hvac:
        found.hvac_energy = await entity_of(api, hvac, "electrical_energy")
    if battery:
        found.battery_charged = await entity_of(api, battery, "battery_charged_energy")
        found.battery_discharged = await entity_of(api, battery, "battery_discharged_energy")
        found.battery_soc = await entity_of(api, battery, "battery_soc")
        found.battery_setpoint = await entity_of(api, battery, "battery_power_setpoint")
        found.battery_control = await entity_of(api, battery, "battery_external_control")
        found.battery_power = await entity_of(api, battery, "battery_power")
    if plug:
        found.plug_relay = await entity_of(api, plug, "plug_relay")
        found.plug_energy = await entity_of(api, plug, "plug_energy")
    return found


async def set_energy_dashboard(api: HassApi, equipment: Equipment) -> list[str]:
    """Grid, battery and the metered devices in the Energy dashboard; returns what its validation reports."""
    sources: list[dict[str, Any]] = []
    if equipment.grid_import:
        sources.append({
            "type": "grid",
            "flow_from": [{"stat_energy_from": equipment.grid_import, "stat_cost": None,
                           "entity_energy_price": None, "number_energy_price": None}],
            "flow_to": ([{"stat_energy_to": equipment.grid_export, "stat_compensation": None,
                          "entity_energy_price": None, "number_energy_price": None}]
                        if equipment.grid_export else []),
            "cost_adjustment_day": 0.0,
        })
    if equipment.battery_charged and equipment.battery_discharged:
        sources.append({"type": "battery", "stat_energy_from": equipment.battery_discharged,
                        "stat_energy_to": equipment.battery_charged})
    devices = [{"stat_consumption": e} for e in (equipment.hvac_energy, equipment.plug_energy) if e]
    await ws_command(api, {"type": "energy/save_prefs", "energy_sources": sources, "device_consumption": devices})
    report = await ws_command(api, {"type": "energy/validate"})
    problems = [f"{issue.get('type')}: {issue.get('affected_entities')}"
                for group in report.get("energy_sources", []) for issue in group]
    problems += [f"{issue.get('type')}: {issue.get('affected_entities')}"
                 for group in report.get("device_consumption", []) for issue in group]
    return problems

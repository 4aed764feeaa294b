"""Which entity each role comes from, when a building has several candidates."""

from __future__ import annotations

from eaio_addon.agents.site import by_role, role_of
from eaio_addon.store import EntityMeta


def _meta(entity_id: str, unit: str | None, device_class: str | None = None) -> EntityMeta:
    return EntityMeta(entity_id, "eaio", "measurement", unit, device_class)


def test_a_meter_with_phases_export_and_equipment_temperatures() -> None:
    meter = "sensor.three_phase_energy_meter_1"
    hvac = "sensor.hvac_unit_air_handler_2"
    metas = [
        _meta(f"{meter}_export_energy", "kWh", "energy"),  # leaves the building: no load
        _meta(f"{meter}_power_l1", "W", "power"),  # a third of the building
        _meta(f"{meter}_power_l2", "W", "power"),
        _meta(f"{meter}_total_power", "W", "power"),
        _meta(f"{hvac}_electrical_power", "W", "power"),
        _meta(f"{hvac}_outdoor_air_temperature", "°C", "temperature"),
        _meta(f"{hvac}_return_air_temperature", "°C", "temperature"),
        _meta(f"{hvac}_supply_air_temperature", "°C", "temperature"),  # the unit's own air: no room
        _meta(f"{hvac}_zone_temperature", "°C", "temperature"),
        _meta("sensor.inverter_pv_power", "W", "power"),
    ]
    chosen = {role: meta.entity_id for role, meta in by_role(metas).items()}
    assert chosen == {
        "load": f"{meter}_total_power",
        "hvac_power": f"{hvac}_electrical_power",
        "outdoor": f"{hvac}_outdoor_air_temperature",
        "indoor": f"{hvac}_zone_temperature",
        "pv": "sensor.inverter_pv_power",
    }
    assert role_of(f"{meter}_export_energy", "energy", "kWh") is None
    assert role_of(f"{hvac}_supply_air_temperature", "temperature", "°C") is None
    # Without a better name, a return-air sensor stands in for the room; one phase for the load.
    only_proxies = [m for m in metas if m.entity_id.endswith(("return_air_temperature", "power_l2", "power_l1"))]
    proxies = {role: meta.entity_id for role, meta in by_role(only_proxies).items()}
    assert proxies == {"indoor": f"{hvac}_return_air_temperature", "load": f"{meter}_power_l1"}


def test_names_users_give_rank_first() -> None:
    metas = [_meta("sensor.fridge_power", "W"), _meta("sensor.house_consumption", "kW"),
             _meta("sensor.bedroom_temperature", "°C"), _meta("sensor.attic_temperature", "°C")]
    chosen = {role: meta.entity_id for role, meta in by_role(metas).items()}
    assert chosen == {"load": "sensor.house_consumption", "indoor": "sensor.bedroom_temperature"}


def test_a_sensor_with_little_history_does_not_stand_in_for_one_with_weeks() -> None:
    new = _meta("sensor.air_handler_outdoor_temperature", "°C", "temperature")  # first by id, added an hour ago
    old = _meta("sensor.outdoor_temperature", "°C", "temperature")
    phase = _meta("sensor.meter_power_l1", "W", "power")
    total = _meta("sensor.meter_total_power", "W", "power")
    metas = [new, old, phase, total]
    assert by_role(metas)["outdoor"] == new  # nothing known about the history: first by id
    chosen = by_role(metas, {new.entity_id: 1, old.entity_id: 672, phase.entity_id: 672, total.entity_id: 400})
    assert chosen == {"outdoor": old, "load": total}  # the total has more than half the phase's history
    assert by_role(metas, {phase.entity_id: 672, total.entity_id: 300})["load"] == phase
    assert by_role(metas, {}) == {}  # no history at all: no role can be played


def test_the_owners_choice_wins_and_is_not_used_twice() -> None:
    phase = _meta("sensor.meter_power_l1", "W", "power")
    total = _meta("sensor.meter_total_power", "W", "power")
    zone = _meta("sensor.zone_temperature", "°C", "temperature")
    hours = {phase.entity_id: 672, total.entity_id: 672, zone.entity_id: 672}
    # The owner's meter for the load is one phase here (a single-phase home): it is used although its
    # name ranks below the total, which then plays no other role.
    chosen = by_role([phase, total, zone], hours, {"load": phase.entity_id, "outdoor": zone.entity_id})
    assert chosen == {"load": phase, "outdoor": zone}
    # A choice Home Assistant does not have (not learned): the names decide, as without a choice.
    assert by_role([phase, total], hours, {"load": "sensor.gone"})["load"] == total

"""Weeks of recorded history for the demo's building, as an installation that has run a while has.

A fresh demo has minutes of history and the add-on's agents need days of it. Before the add-on
starts, the demo writes the simulated building's past four weeks into Home Assistant's recorder as
hourly long-term statistics (``recorder/import_statistics``, the path import tools use) for the
sensors of its Modbus devices. The add-on's backfill then reads them as it reads any installation's
statistics (the recorder keeps states for ten days by default, statistics for good). The values
follow the building model's day on the local clock: the live simulation runs a day every ten
minutes, its history one day per day.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

from .building import BuildingModel, daylight, outdoor_temperature
from .hass_process import HassApi, import_statistics, wait_statistics

HISTORY_DAYS = 28
ZONE_TAU_H = 10.0  # the zone's time constant
HEAT_PER_KWH = 0.8  # °C the zone gains from one kWh of heat (or loses from one of cooling)
SOLAR_GAIN = 1.2  # °C per hour in full sun
COP = 3.0  # heat pump: heat delivered per kWh of electricity
MAX_HEAT_KW = 6.0
OFFICE_KW = 0.5  # people and their desks, 08:00 to 18:00 on weekdays
LEFT_ON_KW = 0.4  # since a week ago: equipment nobody switches off (the agents should find it)
LEFT_ON_DAYS = 7
WINTER_K = -6.0  # the past weeks were colder than the live simulation's mild day: heating into the evening
VOLTAGES = (230.1, 229.4, 231.2)
# The last hours of history ease into the level the live simulation runs at, so the history shows no
# step where the live values begin (the live building's day is milder and has no office hours).
BLEND_HOURS = 12


def point_of(entity_id: str, points: list[str]) -> str | None:
    """The model point an entity shows: the longest point name its id ends with."""
    matches = [p for p in points if entity_id.endswith("_" + p)]
    return max(matches, key=len) if matches else None


def hourly_rows(model: BuildingModel, end: datetime, tz: str, days: int = HISTORY_DAYS) -> dict[str, list[dict[str, Any]]]:
    """Per point of the meter and the HVAC unit, the statistics rows of the ``days`` before ``end`` (an
    aware whole hour).

    The outdoor temperature and the sun follow the model's day on the local clock, some degrees colder
    and with a day-to-day swing of the weather. The zone is a first-order thermal mass with solar gain, held at the model's
    heating setpoint by a heat pump (cooling above the cooling setpoint); the meter sees the base
    load, the office hours, the heat pump and, in the last week, equipment left on. Measurements get
    the hour's mean; meters their value at the hour's end and the running sum, ending at the model's
    meter value now.
    """
    zone = ZoneInfo(tz)
    rng = random.Random(model.seed)
    hours = days * 24
    start = end - timedelta(hours=hours)
    a = math.exp(-1.0 / ZONE_TAU_H)
    heating, cooling = model.setpoints["heating_setpoint"], model.setpoints["cooling_setpoint"]
    fan = model.setpoints["fan_speed_setpoint"]
    swing, indoor = 0.0, heating
    means: dict[str, list[float]] = {}
    total_kwh, hvac_kwh = [], []
    for k in range(hours):
        local = (start + timedelta(hours=k)).astimezone(zone)
        if k % 24 == 0:
            swing = 0.7 * swing + rng.gauss(0.0, 2.0)
        day = (local.hour + 0.5) / 24.0
        sun = daylight(day)
        outdoor = outdoor_temperature(day) + WINTER_K + swing
        free = a * indoor + (1.0 - a) * outdoor + SOLAR_GAIN * sun
        heat_kw = min(MAX_HEAT_KW, max(0.0, (heating - free) / HEAT_PER_KWH))
        cool_kw = min(MAX_HEAT_KW, max(0.0, (free - cooling) / HEAT_PER_KWH))
        indoor = free + HEAT_PER_KWH * (heat_kw - cool_kw) + rng.gauss(0.0, 0.05)
        hvac_w = (heat_kw + cool_kw) / COP * 1000.0 + 250.0 * fan / 100.0 + rng.gauss(0.0, 10.0)
        office = local.weekday() < 5 and 8 <= local.hour < 18
        left_on = k >= hours - LEFT_ON_DAYS * 24
        base_w = 900.0 + 600.0 * sun + 1000.0 * (OFFICE_KW * office + LEFT_ON_KW * left_on) + rng.gauss(0.0, 20.0)
        total_w = base_w + hvac_w
        phases = [total_w / 3 + d for d in (0.0, 35.0, -20.0)]
        values = {
            "outdoor_air_temperature": outdoor, "zone_temperature": indoor, "return_air_temperature": indoor + 0.4,
            "supply_air_temperature": indoor + (12.0 if heat_kw > 0 else -1.0), "zone_humidity": 45.0,
            "fan_speed": fan, "electrical_power": hvac_w, "total_power": total_w, "power_factor": 0.97,
            "frequency": 50.0,
            **{f"power_l{i + 1}": p for i, p in enumerate(phases)},
            **{f"voltage_l{i + 1}": v for i, v in enumerate(VOLTAGES)},
            **{f"current_l{i + 1}": p / v for i, (p, v) in enumerate(zip(phases, VOLTAGES, strict=True))},
        }
        for point, value in values.items():
            means.setdefault(point, []).append(value)
        total_kwh.append(total_w / 1000.0)
        hvac_kwh.append(hvac_w / 1000.0)
    live = live_levels(model)
    for point, series in means.items():
        if point in live:
            for k in range(max(0, hours - BLEND_HOURS), hours):
                w = (k - (hours - BLEND_HOURS) + 1) / BLEND_HOURS
                series[k] = (1.0 - w) * series[k] + w * live[point]
    stamps = [(start + timedelta(hours=k)).isoformat() for k in range(hours)]
    out: dict[str, list[dict[str, Any]]] = {
        point: [{"start": stamps[k], "mean": v, "min": v, "max": v} for k, v in enumerate(series)]
        for point, series in means.items()
    }
    # The model's meters: the three-phase import and the HVAC unit's own (a quarter of it, in the model).
    for point, per_hour, now in (("import_energy", total_kwh, model.start_energy_kwh),
                                 ("electrical_energy", hvac_kwh, model.start_energy_kwh / 4.0)):
        first, running, rows = now - sum(per_hour), 0.0, []
        for k, kwh in enumerate(per_hour):
            running += kwh
            rows.append({"start": stamps[k], "state": first + running, "sum": running})
        out[point] = rows
    return out


def _flat_rows(reading: str, end: datetime, days: int) -> list[dict[str, Any]]:
    """Hourly meter rows that stay at ``reading`` (nothing metered); none when it is not a number."""
    try:
        value = float(reading)
    except ValueError:
        return []
    start = end - timedelta(days=days)
    return [{"start": (start + timedelta(hours=k)).isoformat(), "state": value, "sum": 0.0}
            for k in range(days * 24)]


def live_levels(model: BuildingModel, samples: int = 96) -> dict[str, float]:
    """Each measured point's mean over the live simulation's day (it runs a day every ten minutes, so an
    hour of live values averages to this)."""
    still = BuildingModel(static=True, setpoints=dict(model.setpoints), switches=dict(model.switches))
    sums: dict[str, float] = {}
    for i in range(samples):
        for point, value in still.at((i + 0.5) / samples).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sums[point] = sums.get(point, 0.0) + float(value)
    return {point: total / samples for point, total in sums.items()}


async def import_history(api: HassApi, states: list[dict[str, Any]], tz: str, end: datetime,
                         days: int = HISTORY_DAYS) -> list[str]:
    """Import the history of the sensors among ``states`` that show a model point; returns their ids once
    the recorder has them."""
    model = BuildingModel()
    rows = await asyncio.to_thread(hourly_rows, model, end, tz, days)
    imported = []
    for state in states:
        entity_id, attributes = state["entity_id"], state["attributes"]
        state_class = attributes.get("state_class")
        point = point_of(entity_id, list(rows))
        if not entity_id.startswith("sensor.") or state_class not in ("measurement", "total_increasing"):
            continue
        meter = state_class == "total_increasing"
        if meter and (point is None or "sum" not in rows[point][0]):
            # A meter the model keeps no past for (export, the battery, the plug): a flat history at its
            # reading now, so the Energy dashboard has its statistics from the start.
            flat = _flat_rows(state["state"], end, days)
            if flat:
                await import_statistics(api, entity_id, attributes.get("friendly_name"),
                                        attributes.get("unit_of_measurement"), flat, has_sum=True)
                imported.append(entity_id)
            continue
        if point is None or meter != ("sum" in rows[point][0]):
            continue
        await import_statistics(api, entity_id, attributes.get("friendly_name"), attributes.get("unit_of_measurement"),
                                rows[point], has_sum=meter)
        imported.append(entity_id)
    if imported:
        await wait_statistics(api, imported, end - timedelta(days=days), end)
    return imported

"""The add-on's options: schema, defaults, and the typed result after validation.

``SCHEMA`` and ``DEFAULTS`` are the ``schema:`` and ``options:`` of ``config.yaml``, written again
here because the running add-on has no access to its own ``config.yaml``; a test keeps the two
identical. Inside the Supervisor the options arrive validated in ``/data/options.json``; the
standalone add-on reads a JSON or YAML file. Both go through ``parse_options``, so a malformed
file is refused with the option's name and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import json
import math
from pathlib import Path
import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from .bounded_json import InputTooLarge, check_bounds, excerpt
from .mcp_servers.topics import topic_filter_problem
from .option_types import OptionError, validate

ENTITY_ID = r"^[a-z0-9_]+\.[a-z0-9_]+$"
CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# Bounds the schema cannot say (see the note on str(1,) below); a price is per kWh in any currency.
MAX_NAME_CHARS = 64
MAX_MODEL_CHARS = 200
MAX_TOPIC_CHARS = 256
MAX_PRICE = 1000.0
MAX_OPTIONS_CHARS = 1024 * 1024

SCHEMA: dict[str, Any] = {
    "ollama_url": "url?",
    "model": "str",
    "light_model": "str",
    "entities": [f"match({ENTITY_ID})"],
    "tariff": [{"start": f"match({CLOCK_TIME})", "price": "float"}],
    "comfort_min": "float(10,35)",
    "comfort_max": "float(10,35)",
    "autopilot": "bool",
    "backfill_days": "int(0,365)",
    "raw_retention_days": "int(1,3650)",
    "optimize_every_minutes": "int(0,1440)",
    "log_level": "list(debug|info|warning|error)",
    "mcp_port": "port",
    "mqtt_host": "str?",
    "mqtt_port": "port?",
    "mqtt_username": "str?",
    "mqtt_password": "password?",
    "mqtt_allowed_topics": ["str?"],
    "mqtt_read_topics": ["str?"],
    # A home battery, all optional: without capacity_kwh the site has none (see BATTERY_DEFAULTS).
    "battery": {
        "capacity_kwh": "float(0.1,1000)?",
        "max_power_kw": "float(0.1,1000)?",
        "round_trip_efficiency": "float(50,100)?",  # percent
        "min_soc": "int(0,100)?",  # percent of the capacity
        "max_soc": "int(0,100)?",
        "soc_entity": f"match({ENTITY_ID})?",  # a sensor with the state of charge in %
        "cycle_cost": "float(0,10)?",  # wear per kWh discharged, in the tariff's currency
    },
    # Appliances whose run can wait for cheaper hours: a fixed power for a fixed time inside a daily window.
    "deferrable_loads": [{
        "name": "str",
        "power_kw": "float(0.05,50)",
        "run_hours": "float(0.25,24)",
        "earliest": f"match({CLOCK_TIME})?",  # local time; the window runs to latest, past midnight when it must
        "latest": f"match({CLOCK_TIME})?",
        "entity": f"match({ENTITY_ID})?",  # the appliance's switch, named in the recommendation
    }],
    # An electric car charged at home, all optional: without energy_kwh there is none (see _ev).
    "ev": {
        "energy_kwh": "float(0.5,200)?",  # into the car each day, by ready_by
        "max_power_kw": "float(0.5,50)?",
        "ready_by": f"match({CLOCK_TIME})?",
        "plugged_in": f"match({CLOCK_TIME})?",  # when it is plugged in; without it, all day until ready_by
        "entity": f"match({ENTITY_ID})?",  # the charger's switch, named in the recommendation
    },
    # Which entity plays a role, where the names EAIO reads roles from choose wrongly (all optional).
    "roles": {role: f"match({ENTITY_ID})?" for role in ("load", "pv", "outdoor", "indoor", "hvac_power",
                                                         "occupancy", "light", "setpoint")},
    # The grid's carbon intensity (gCO2eq/kWh, g/kWh or kg/kWh; the unit is checked when a run reads it).
    "carbon_entity": f"match({ENTITY_ID})?",
}

DEFAULTS: dict[str, Any] = {
    "model": "qwen2.5:7b",
    "light_model": "qwen2.5:1.5b",
    "entities": [],
    "tariff": [{"start": "00:00", "price": 0.30}],
    "comfort_min": 20.0,
    "comfort_max": 24.0,
    "autopilot": False,
    "backfill_days": 30,
    "raw_retention_days": 30,
    "optimize_every_minutes": 60,
    "log_level": "info",
    "mcp_port": 8100,
    "battery": {},
    "deferrable_loads": [],
    "ev": {},
    "roles": {},
}

# What a battery's empty fields mean.
BATTERY_DEFAULTS: dict[str, float] = {"round_trip_efficiency": 90.0, "min_soc": 10, "max_soc": 100, "cycle_cost": 0.0}
DAY_MINUTES = 24 * 60
EV_CHARGER_EFFICIENCY = 0.9  # the share of the energy drawn that ends up in the car (the engine's default)

OptionsError = OptionError


@dataclass(frozen=True)
class TariffPeriod:
    """The energy price from ``start`` (minutes after midnight, local time) until the next period."""

    start_minute: int
    price: float


@dataclass(frozen=True)
class BatteryOptions:
    """The owner's home battery: energies in kWh, power on the AC side, state of charge in %."""

    capacity_kwh: float
    max_power_kw: float  # both directions
    round_trip_efficiency: float  # a fraction, 0.5..1
    min_soc: float  # % of the capacity the battery keeps
    max_soc: float  # % it is filled to at most
    soc_entity: str | None = None  # a sensor with the state of charge in %; without it min_soc is assumed
    cycle_cost: float = 0.0  # wear per kWh discharged, in the tariff's currency


@dataclass(frozen=True)
class DeferrableLoad:
    """An appliance run to place in a daily window: ``power_kw`` for ``run_hours``.

    The window starts at ``earliest_minute`` (local minutes after midnight) and lasts
    ``window_minutes`` (up to a day; it runs past midnight when latest is before earliest).
    """

    name: str
    key: str  # the name as a slug, unique among the loads
    power_kw: float
    run_hours: float
    earliest_minute: int
    window_minutes: int
    entity: str | None = None


@dataclass(frozen=True)
class EvOptions:
    """An electric car: ``energy_kwh`` into it each day by ``ready_by_minute``, plugged in from
    ``plugged_in_minute`` (local minutes after midnight; the same as ready_by: plugged in all day)."""

    energy_kwh: float
    max_power_kw: float
    ready_by_minute: int
    plugged_in_minute: int
    entity: str | None = None

    @property
    def window_minutes(self) -> int:
        return (self.ready_by_minute - self.plugged_in_minute) % DAY_MINUTES or DAY_MINUTES


@dataclass(frozen=True)
class Options:
    """Validated options."""

    ollama_url: str | None
    model: str
    light_model: str
    entities: tuple[str, ...]
    tariff: tuple[TariffPeriod, ...]  # sorted by start; the last one runs past midnight to the first
    comfort_min: float
    comfort_max: float
    autopilot: bool
    backfill_days: int
    raw_retention_days: int
    log_level: str
    optimize_every_minutes: int = 60  # 0: no scheduled runs (only on request and on events)
    mcp_port: int = 8100
    mqtt_host: str | None = None  # the MCP mqtt tools' broker; without it they say MQTT is not configured
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_allowed_topics: tuple[str, ...] = ()  # MQTT filters (+, #) the mqtt_publish tool may publish to
    # Filters mqtt_read_retained may read; empty: the publish topics and EAIO's MQTT devices' topics.
    mqtt_read_topics: tuple[str, ...] = ()
    battery: BatteryOptions | None = None
    deferrable_loads: tuple[DeferrableLoad, ...] = ()
    ev: EvOptions | None = None
    roles: Mapping[str, str] = field(default_factory=dict, hash=False)  # role -> the entity the owner chose
    carbon_entity: str | None = None  # a sensor of the grid's carbon intensity; without it plans know no carbon

    @property
    def learned_entities(self) -> tuple[str, ...]:
        """The entities the collector learns from besides EAIO's own: ``entities``, the battery's sensor,
        the entities chosen for roles and the carbon-intensity sensor."""
        extra = (self.battery.soc_entity,) if self.battery is not None and self.battery.soc_entity else ()
        carbon = (self.carbon_entity,) if self.carbon_entity else ()
        return tuple(dict.fromkeys(self.entities + extra + tuple(self.roles.values()) + carbon))

    def price_at(self, minute_of_day: int) -> float:
        """The tariff's price at a local minute of the day (0..1439)."""
        price = self.tariff[-1].price  # before the first start, the last period still runs
        for period in self.tariff:
            if period.start_minute <= minute_of_day:
                price = period.price
        return price


def parse_options(raw: Any) -> Options:
    """Validate raw options (a mapping) and return them typed; OptionError names what is wrong."""
    for section, empty in (("battery", {}), ("roles", {}), ("ev", {}), ("deferrable_loads", [])):
        if isinstance(raw, dict) and section in raw and raw[section] is None:
            raw = {**raw, section: empty}  # "battery:" with nothing under it in a YAML file
    valid = validate(SCHEMA, raw, DEFAULTS)
    periods = [TariffPeriod(_minutes(item["start"]), float(item["price"])) for item in valid["tariff"]]
    if not periods:
        raise OptionError("tariff", "needs at least one period (start and price)")
    starts = [p.start_minute for p in periods]
    if len(set(starts)) != len(starts):
        duplicate = next(valid["tariff"][i]["start"] for i, s in enumerate(starts) if starts.count(s) > 1)
        raise OptionError("tariff", f"two periods start at {duplicate}")
    if valid["comfort_min"] >= valid["comfort_max"]:
        raise OptionError("comfort_min", f"{valid['comfort_min']:g} °C must be below comfort_max "
                                         f"({valid['comfort_max']:g} °C)")
    if valid["backfill_days"] > valid["raw_retention_days"]:
        # Readings older than the retention are purged, so fetching them would be wasted work.
        raise OptionError("backfill_days", f"{valid['backfill_days']} days is longer than "
                                           f"raw_retention_days ({valid['raw_retention_days']})")
    for key in ("model", "light_model"):
        # Not str(1,): the Supervisor compares a string with the range's numbers and refuses every value.
        if not valid[key].strip():
            raise OptionError(key, "must not be empty")
        _bounded_text(key, valid[key], MAX_MODEL_CHARS)
    for index, item in enumerate(valid["tariff"]):
        if not -MAX_PRICE <= item["price"] <= MAX_PRICE:
            raise OptionError(f"tariff[{index}].price", f"{item['price']:g} per kWh is outside "
                                                       f"{-MAX_PRICE:g} to {MAX_PRICE:g}")
    for index, item in enumerate(valid["deferrable_loads"]):
        _bounded_text(f"deferrable_loads[{index}].name", item["name"], MAX_NAME_CHARS)
    if (url := valid.get("ollama_url")) and urlsplit(url).scheme.lower() not in ("http", "https"):
        raise OptionError("ollama_url", f"'{excerpt(url)}' must start with http:// or https://")
    for key in ("mqtt_host", "mqtt_username"):
        if valid.get(key):
            _bounded_text(key, valid[key], MAX_NAME_CHARS * 4)
    entities = tuple(dict.fromkeys(valid["entities"]))  # keep order, drop repeats
    for key in ("mqtt_allowed_topics", "mqtt_read_topics"):
        for index, pattern in enumerate(valid.get(key) or []):
            _bounded_text(f"{key}[{index}]", pattern, MAX_TOPIC_CHARS)
            if problem := topic_filter_problem(pattern):
                raise OptionError(f"{key}[{index}]", f"'{pattern}' is not an MQTT topic filter: {problem}")
    return Options(
        ollama_url=valid.get("ollama_url"),
        model=valid["model"],
        light_model=valid["light_model"],
        entities=entities,
        tariff=tuple(sorted(periods, key=lambda p: p.start_minute)),
        comfort_min=float(valid["comfort_min"]),
        comfort_max=float(valid["comfort_max"]),
        autopilot=valid["autopilot"],
        backfill_days=valid["backfill_days"],
        raw_retention_days=valid["raw_retention_days"],
        log_level=valid["log_level"],
        optimize_every_minutes=valid["optimize_every_minutes"],
        mcp_port=valid["mcp_port"],
        mqtt_host=valid.get("mqtt_host") or None,
        mqtt_port=valid.get("mqtt_port", 1883),
        mqtt_username=valid.get("mqtt_username") or None,
        mqtt_password=valid.get("mqtt_password") or None,
        mqtt_allowed_topics=tuple(dict.fromkeys(valid.get("mqtt_allowed_topics") or [])),
        mqtt_read_topics=tuple(dict.fromkeys(valid.get("mqtt_read_topics") or [])),
        battery=_battery(valid.get("battery") or {}),
        deferrable_loads=_deferrable_loads(valid.get("deferrable_loads") or []),
        ev=_ev(valid.get("ev") or {}),
        roles={role: entity for role, entity in (valid.get("roles") or {}).items() if entity},
        carbon_entity=valid.get("carbon_entity") or None,
    )


def _bounded_text(path: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise OptionError(path, f"'{excerpt(text, 40)}' is longer than {limit} characters")
    if any(ord(ch) < 32 for ch in text):
        raise OptionError(path, f"'{excerpt(text, 40)}' holds a control character (a line break?)")


def _battery(valid: dict[str, Any]) -> BatteryOptions | None:
    """The battery from its validated fields; None when there is none (no capacity and nothing else)."""
    if "capacity_kwh" not in valid:
        if valid:
            given = ", ".join(sorted(valid))
            raise OptionError("battery.capacity_kwh", f"missing: a battery needs its capacity (given: {given}); "
                                                      "leave every battery field empty when there is none")
        return None
    if "max_power_kw" not in valid:
        raise OptionError("battery.max_power_kw", "missing: the most the battery charges or discharges, in kW")
    fields = {**BATTERY_DEFAULTS, **valid}
    if fields["min_soc"] >= fields["max_soc"]:
        raise OptionError("battery.min_soc", f"{fields['min_soc']}% must be below max_soc ({fields['max_soc']}%)")
    return BatteryOptions(
        capacity_kwh=float(fields["capacity_kwh"]),
        max_power_kw=float(fields["max_power_kw"]),
        round_trip_efficiency=float(fields["round_trip_efficiency"]) / 100.0,
        min_soc=float(fields["min_soc"]),
        max_soc=float(fields["max_soc"]),
        soc_entity=valid.get("soc_entity") or None,
        cycle_cost=float(fields["cycle_cost"]),
    )


def _slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower()))


def _deferrable_loads(valid: list[dict[str, Any]]) -> tuple[DeferrableLoad, ...]:
    """The appliances from their validated fields, each window checked against its run."""
    loads: list[DeferrableLoad] = []
    keys: dict[str, str] = {}
    for index, item in enumerate(valid):
        where = f"deferrable_loads[{index}]"
        name = item["name"].strip()
        key = _slug(name)
        if not key:
            raise OptionError(f"{where}.name", "needs a letter or digit (e.g. dishwasher)")
        if key == "ev":
            raise OptionError(f"{where}.name", f"'{name}' is the car's name here; describe a car under ev")
        if key in keys:
            raise OptionError(f"{where}.name", f"'{name}' is the same as '{keys[key]}'; each appliance needs its "
                                               "own name")
        keys[key] = name
        earliest, latest = item.get("earliest"), item.get("latest")
        if earliest is not None and latest is not None:
            if earliest == latest:
                raise OptionError(f"{where}.latest", f"{latest} is the same as earliest: the window is empty "
                                                     "(leave both empty for any time of day)")
            start = _minutes(earliest)
            window = (_minutes(latest) - start) % DAY_MINUTES
        elif earliest is not None:
            start, window = _minutes(earliest), DAY_MINUTES
        elif latest is not None:
            start, window = _minutes(latest), DAY_MINUTES
        else:
            start, window = 0, DAY_MINUTES
        run_hours = float(item["run_hours"])
        # The plan starts runs on whole hours inside the window, and a run takes whole hours.
        fits = _whole_hours(start, window)
        if fits < math.ceil(run_hours - 1e-9):
            span = "the whole day" if window == DAY_MINUTES else f"{earliest}-{latest}"
            raise OptionError(f"{where}.latest", f"the window {span} holds {fits} whole hour(s); '{name}' runs "
                                                 f"{run_hours:g} h ({math.ceil(run_hours - 1e-9)} whole hour(s))")
        loads.append(DeferrableLoad(name, key, float(item["power_kw"]), run_hours, start, window,
                                    item.get("entity") or None))
    return tuple(loads)


def _ev(valid: dict[str, Any]) -> EvOptions | None:
    """The car from its validated fields; None when every field is empty."""
    if not valid:
        return None
    for name, meaning in (("energy_kwh", "the energy to charge into the car each day, in kWh"),
                          ("max_power_kw", "the charger's most power, in kW"),
                          ("ready_by", "when the car must be charged (HH:MM)")):
        if name not in valid:
            raise OptionError(f"ev.{name}", f"missing: {meaning}; leave every ev field empty when there is none")
    ready = _minutes(valid["ready_by"])
    plugged = _minutes(valid["plugged_in"]) if "plugged_in" in valid else ready
    if "plugged_in" in valid and plugged == ready:
        raise OptionError("ev.plugged_in", f"{valid['plugged_in']} is the same as ready_by: no time to charge "
                                           "(leave it empty when the car is plugged in all day)")
    ev = EvOptions(float(valid["energy_kwh"]), float(valid["max_power_kw"]), ready, plugged,
                   valid.get("entity") or None)
    hours = _whole_hours(plugged, ev.window_minutes)
    most = hours * ev.max_power_kw * EV_CHARGER_EFFICIENCY
    if ev.energy_kwh > most + 1e-9:
        raise OptionError("ev.energy_kwh", f"{ev.energy_kwh:g} kWh cannot be charged in the {hours} whole hour(s) "
                                           f"before {valid['ready_by']} at {ev.max_power_kw:g} kW (at most "
                                           f"{most:.1f} kWh with {EV_CHARGER_EFFICIENCY:.0%} charger efficiency)")
    return ev


def _whole_hours(start_minute: int, window_minutes: int) -> int:
    """Whole clock hours inside a window (the plan's hours begin on the hour)."""
    first = -(-start_minute // 60) * 60
    return max(0, (start_minute + window_minutes - first) // 60)


def load_options(path: Path) -> Options:
    """Read an options file (JSON or YAML) and validate it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OptionError("(file)", f"cannot read {path}: {exc.strerror or exc}") from None
    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        check_bounds(text, max_chars=MAX_OPTIONS_CHARS)
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except InputTooLarge as exc:
        raise OptionError("(file)", f"{path} is refused: {exc}") from None
    except RecursionError:  # nesting the bracket count cannot see (YAML's block style)
        raise OptionError("(file)", f"{path} is refused: nested too deep") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise OptionError("(file)", f"{path} is not valid {kind}: {excerpt(str(exc), 300)}") from None
    return parse_options({} if raw is None else raw)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)

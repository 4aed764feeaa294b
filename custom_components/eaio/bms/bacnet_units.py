"""BACnet engineering units and object types as Home Assistant units, device classes and platforms.

Plain strings only (the protocol layer imports nothing from Home Assistant); the values are
the ones Home Assistant's unit and device-class constants hold. Units are the standard
BACnet engineering-unit names (``degreesCelsius``, ``kilowattHours``) as the BACnet client
reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

SENSOR = "sensor"
NUMBER = "number"
BINARY_SENSOR = "binary_sensor"
SWITCH = "switch"
SELECT = "select"

MEASUREMENT = "measurement"
TOTAL = "total"
TOTAL_INCREASING = "total_increasing"


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """How a value in one BACnet unit shows in Home Assistant.

    ``scale`` converts the device's number to ``unit`` (value * scale); a write divides by
    it. It is 1 except where Home Assistant has no unit for the device's own, so that the
    device class still applies.
    """

    unit: str | None
    device_class: str | None = None
    state_class: str | None = MEASUREMENT
    scale: float = 1.0


def _info(
    unit: str | None,
    device_class: str | None = None,
    state_class: str | None = MEASUREMENT,
    scale: float = 1.0,
) -> UnitInfo:
    return UnitInfo(unit, device_class, state_class, scale)


_ENERGY = "energy"
_UNITS: dict[str, UnitInfo] = {
    # temperature
    "degreesCelsius": _info("°C", "temperature"),
    "degreesFahrenheit": _info("°F", "temperature"),
    "degreesKelvin": _info("K", "temperature"),
    "deltaDegreesKelvin": _info("K"),  # a difference, not a temperature
    # humidity and plain shares
    "percentRelativeHumidity": _info("%", "humidity"),
    "percent": _info("%"),
    # power
    "milliwatts": _info("mW", "power"),
    "watts": _info("W", "power"),
    "kilowatts": _info("kW", "power"),
    "megawatts": _info("MW", "power"),
    "btusPerHour": _info("BTU/h"),  # not a power unit Home Assistant 2025.4 accepts
    "voltAmperes": _info("VA", "apparent_power"),
    "voltAmperesReactive": _info("var", "reactive_power"),
    "powerFactor": _info(None, "power_factor"),
    # energy: meters count up, which the Energy dashboard needs to know
    "wattHours": _info("Wh", _ENERGY, TOTAL_INCREASING),
    "kilowattHours": _info("kWh", _ENERGY, TOTAL_INCREASING),
    "megawattHours": _info("MWh", _ENERGY, TOTAL_INCREASING),
    "joules": _info("J", _ENERGY, TOTAL_INCREASING),
    "kilojoules": _info("kJ", _ENERGY, TOTAL_INCREASING),
    "megajoules": _info("MJ", _ENERGY, TOTAL_INCREASING),
    # electrical
    "millivolts": _info("mV", "voltage"),
    "volts": _info("V", "voltage"),
    "kilovolts": _info("kV", "voltage"),
    "milliamperes": _info("mA", "current"),
    "amperes": _info("A", "current"),
    "hertz": _info("Hz", "frequency"),
    "kilohertz": _info("kHz", "frequency"),
    # pressure
    "pascals": _info("Pa", "pressure"),
    "hectopascals": _info("hPa", "pressure"),
    "kilopascals": _info("kPa", "pressure"),
    "millibars": _info("mbar", "pressure"),
    "bars": _info("bar", "pressure"),
    "poundsForcePerSquareInch": _info("psi", "pressure"),
    # air quality and light
    "partsPerMillion": _info("ppm"),  # carbon_dioxide when the name says CO2: see unit_info
    "partsPerBillion": _info("ppb"),
    "microgramsPerCubicMeter": _info("µg/m³"),
    "milligramsPerCubicMeter": _info("mg/m³"),
    "luxes": _info("lx", "illuminance"),
    "wattsPerSquareMeter": _info("W/m²", "irradiance"),
    "decibels": _info("dB", "sound_pressure"),
    # flow
    "cubicMetersPerHour": _info("m³/h", "volume_flow_rate"),
    # Home Assistant has no L/s for volume flow rate: shown in L/min.
    "litersPerSecond": _info("L/min", "volume_flow_rate", scale=60.0),
    "litersPerMinute": _info("L/min", "volume_flow_rate"),
    "cubicFeetPerMinute": _info("ft³/min", "volume_flow_rate"),
    "usGallonsPerMinute": _info("gal/min", "volume_flow_rate"),
    # speed, length, volume, time
    "metersPerSecond": _info("m/s", "speed"),
    "kilometersPerHour": _info("km/h", "speed"),
    "millimeters": _info("mm", "distance"),
    "centimeters": _info("cm", "distance"),
    "meters": _info("m", "distance"),
    "kilometers": _info("km", "distance"),
    # A volume is a meter's count as often as a tank's content: "total" allows both
    # directions, which Home Assistant requires of the volume device class.
    "liters": _info("L", "volume", TOTAL),
    "cubicMeters": _info("m³", "volume", TOTAL),
    "milliseconds": _info("ms", "duration"),
    "seconds": _info("s", "duration"),
    "minutes": _info("min", "duration"),
    "hours": _info("h", "duration"),
    "days": _info("d", "duration"),
    "noUnits": _info(None),
}

_CO2_NAME = re.compile(r"co2|co₂|carbon[\s_-]*dioxide", re.IGNORECASE)


def unit_info(units: str | None, object_name: str | None = None) -> UnitInfo:
    """Home Assistant unit, device class and state class for a BACnet engineering unit.

    An unknown or missing unit keeps the value as a plain measurement without a unit;
    ``partsPerMillion`` becomes carbon dioxide only when the object's name says CO2.
    """
    if units is None:
        return UnitInfo(None)
    info = _UNITS.get(units)
    if info is None:
        return UnitInfo(None)
    if units == "partsPerMillion" and object_name and _CO2_NAME.search(object_name):
        return _info("ppm", "carbon_dioxide")
    return info


def known_units() -> frozenset[str]:
    """The BACnet unit names this module maps."""
    return frozenset(_UNITS)


# Object types whose Present_Value the platforms below represent.
_INPUTS = {"analogInput": SENSOR, "binaryInput": BINARY_SENSOR, "multiStateInput": SENSOR}
# Outputs are commandable by definition.
_OUTPUTS = {"analogOutput": NUMBER, "binaryOutput": SWITCH, "multiStateOutput": SELECT}
# Values are commandable only when they have a priority array.
_VALUES = {
    "analogValue": (NUMBER, SENSOR),
    "binaryValue": (SWITCH, BINARY_SENSOR),
    "multiStateValue": (SELECT, SENSOR),
}
SUPPORTED_OBJECT_TYPES = frozenset(_INPUTS) | frozenset(_OUTPUTS) | frozenset(_VALUES)
MULTISTATE_OBJECT_TYPES = frozenset({"multiStateInput", "multiStateOutput", "multiStateValue"})


def platform_for(object_type: str, commandable: bool) -> str | None:
    """The entity platform for an object: ``sensor``, ``number``, ``binary_sensor``,
    ``switch`` or ``select``; None for object types EAIO does not map.

    A multi-state object shown as a sensor is an enum sensor (options from its state text).
    """
    if object_type in _INPUTS:
        return _INPUTS[object_type]
    if object_type in _OUTPUTS:
        return _OUTPUTS[object_type]
    if object_type in _VALUES:
        writable, read_only = _VALUES[object_type]
        return writable if commandable else read_only
    return None

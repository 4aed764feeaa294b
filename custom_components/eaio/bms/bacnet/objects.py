"""BACnet object identifiers, what the client reports about devices and objects, and errors.

Nothing here touches the network or the BACnet stack's classes except ``to_python``, which
turns the stack's decoded values into plain Python ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
import struct
from typing import Any

from ..bacnet_units import UnitInfo, platform_for, unit_info

# An object as (standard object-type name, instance): ("analogValue", 3).
type ObjectId = tuple[str, int]
# A Present_Value as Python sees it: analog → float, binary → bool (active = True),
# multi-state → int (state number, from 1), other enumerations → their name.
type Value = float | int | bool | str | None

ABBREVIATIONS: dict[str, str] = {
    "AI": "analogInput", "AO": "analogOutput", "AV": "analogValue",
    "BI": "binaryInput", "BO": "binaryOutput", "BV": "binaryValue",
    "MSI": "multiStateInput", "MSO": "multiStateOutput", "MSV": "multiStateValue",
}  # fmt: skip
_SHORT = {name: short for short, name in ABBREVIATIONS.items()}
_MAX_INSTANCE = 4194303  # 22 bits; 4194303 itself is the wildcard
_ID_TEXT = re.compile(r"^\s*([A-Za-z][A-Za-z-]*)\s*[:,]\s*(\d+)\s*$")


def _camel(name: str) -> str:
    """``analog-input`` → ``analogInput``; camel case passes through."""
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def parse_object_id(text: str) -> ObjectId:
    """``AV:3``, ``analogValue:3``, ``analog-value,3`` → ``("analogValue", 3)``."""
    match = _ID_TEXT.match(text)
    if not match:
        raise ValueError(f"not an object identifier (TYPE:INSTANCE, e.g. AV:3): {text!r}")
    kind, instance = match.group(1), int(match.group(2))
    kind = ABBREVIATIONS.get(kind.upper(), _camel(kind))
    if instance >= _MAX_INSTANCE:
        raise ValueError(f"instance out of range (0-{_MAX_INSTANCE - 1}): {text!r}")
    return kind, instance


def format_object_id(object_id: ObjectId) -> str:
    """``("analogValue", 3)`` → ``AV:3`` (standard types) or ``trendLog:3``."""
    kind, instance = object_id
    return f"{_SHORT.get(kind, kind)}:{instance}"


class BacnetError(Exception):
    """The device answered a request for one object or property with an error, a reject or
    an abort, or sent something that cannot be decoded. Other objects are not affected."""

    def __init__(self, message: str, *, kind: str = "error", code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "error", "reject", "abort" or "decode"
        self.code = code  # e.g. "unknown-object", "unrecognized-service"


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A device that answered Who-Is, with what its device object says about itself."""

    instance: int
    address: str
    name: str | None = None
    vendor_id: int | None = None
    vendor_name: str | None = None
    model_name: str | None = None
    description: str | None = None
    max_apdu: int | None = None


@dataclass(frozen=True, slots=True)
class BacnetObject:
    """One object of a device's object list, described for mapping to an entity."""

    object_type: str
    instance: int
    name: str
    description: str | None = None
    units: str | None = None  # engineering-unit name, e.g. "degreesCelsius"
    value_type: str = "float"  # type of Present_Value: "float", "bool", "int" or "str"
    writable: bool = False  # commandable: has a priority array
    state_text: tuple[str, ...] | None = None  # multi-state: text of states 1, 2, …
    inactive_text: str | None = None  # binary
    active_text: str | None = None  # binary
    present_value: Value = None  # as read while describing the object

    @property
    def object_id(self) -> ObjectId:
        return self.object_type, self.instance

    @property
    def platform(self) -> str | None:
        """Entity platform (see bacnet_units.platform_for)."""
        return platform_for(self.object_type, self.writable)

    @property
    def unit_info(self) -> UnitInfo:
        return unit_info(self.units, self.name)


@dataclass(slots=True)
class ReadResult:
    """Present values, per-object errors, and how many requests reading them took."""

    values: dict[ObjectId, Value] = field(default_factory=dict)
    errors: dict[ObjectId, str] = field(default_factory=dict)
    requests: int = 0


@dataclass(slots=True)
class ObjectListResult:
    """The described objects of a device, objects that could not be described, requests."""

    objects: list[BacnetObject] = field(default_factory=list)
    errors: dict[ObjectId, str] = field(default_factory=dict)
    requests: int = 0


def value_type_for(object_type: str) -> str:
    """Python type of an object type's Present_Value (see ``Value``)."""
    if object_type.startswith("analog"):
        return "float"
    if object_type.startswith("binary"):
        return "bool"
    if object_type.startswith("multiState"):
        return "int"
    return "str"


def shortest_float32(number: float) -> float:
    """The shortest decimal that is the same float32: 21.7, not 21.700000762939453."""
    raw = struct.pack(">f", number)
    for digits in range(6, 10):
        candidate = float(f"{number:.{digits}g}")
        if struct.pack(">f", candidate) == raw:
            return candidate
    return number


def to_python(value: Any) -> Value:
    """A value decoded by the BACnet stack as a plain Python value (see ``Value``).

    Dispatches on class names so this module needs no stack import: Real is float32,
    Double float64, BinaryPV ``active``/``inactive``, other enumerations keep their name.
    """
    kinds = {cls.__name__ for cls in type(value).__mro__}
    if "Null" in kinds or value is None:
        return None
    if "BinaryPV" in kinds:
        return str(value) == "active"
    if "Boolean" in kinds or isinstance(value, bool):
        return bool(value)
    if "Enumerated" in kinds:
        return str(getattr(value, "attr", None) or value)
    if "Double" in kinds:
        return float(value)
    if "Real" in kinds:
        return shortest_float32(float(value))
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return int(value)
    return str(value)

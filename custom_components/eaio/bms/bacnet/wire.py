"""Between the BACnet stack's values and EAIO's: errors, identifiers, property lists, writes.

The stack has no type information; its objects are ``Any`` here and leave as the plain
types of ``objects.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any

from bacpypes3.apdu import AbortPDU, ErrorPDU, RejectPDU
from bacpypes3.basetypes import BinaryPV
from bacpypes3.primitivedata import ObjectIdentifier, Real, Unsigned
from bacpypes3.vendor import get_vendor_info

from ..bacnet_units import MULTISTATE_OBJECT_TYPES
from .objects import BacnetError, BacnetObject, ObjectId, Value, to_python, value_type_for

type Ref = tuple[ObjectId, str, int | None]  # object, property, array index

# Priority 6 is reserved for the device's own minimum on/off times (clause 19.2.3).
MIN_ON_OFF_PRIORITY = 6


def describe_error(err: Any) -> BacnetError:
    """An error, reject or abort answer as a BacnetError."""
    if isinstance(err, ErrorPDU):
        error_class, error_code = str(err.errorClass), str(err.errorCode)
        return BacnetError(f"{error_class}: {error_code}", kind="error", code=error_code)
    if isinstance(err, RejectPDU):
        reason = str(err.apduAbortRejectReason)
        return BacnetError(f"rejected: {reason}", kind="reject", code=reason)
    if isinstance(err, AbortPDU):
        reason = str(err.apduAbortRejectReason)
        return BacnetError(f"aborted: {reason}", kind="abort", code=reason)
    # A property error inside a ReadPropertyMultiple answer (ErrorType).
    error_class, error_code = str(err.errorClass), str(err.errorCode)
    return BacnetError(f"{error_class}: {error_code}", kind="error", code=error_code)


def to_identifier(object_id: ObjectId) -> Any:
    return ObjectIdentifier(object_id)


def from_identifier(identifier: Any) -> ObjectId:
    return str(identifier[0].attr), int(identifier[1])


def cast_present_value(vendor_id: int | None, object_id: ObjectId, property_value: Any) -> Value:
    """The Present_Value of a COV notification, decoded as its object type defines it."""
    vendor_info = get_vendor_info(vendor_id or 0)
    object_class = vendor_info.get_object_class(to_identifier(object_id)[0])
    if object_class is None:
        raise BacnetError(f"unknown object type {object_id[0]}", kind="decode")
    property_type = object_class.get_property_type(property_value.propertyIdentifier)
    if property_type is None:
        raise BacnetError("no present-value type", kind="decode")
    return to_python(property_value.value.cast_out(property_type))


def check_priority(priority: int) -> None:
    if not 1 <= priority <= 16 or priority == MIN_ON_OFF_PRIORITY:
        raise ValueError(f"priority must be 1-16 except 6 (minimum on/off), got {priority}")


def group_by_object(refs: Sequence[Ref]) -> list[tuple[ObjectId, list[Ref]]]:
    """Consecutive properties of one object: one read-access specification each."""
    groups: list[tuple[ObjectId, list[Ref]]] = []
    for ref in refs:
        if groups and groups[-1][0] == ref[0]:
            groups[-1][1].append(ref)
        else:
            groups.append((ref[0], [ref]))
    return groups


def describe_refs(object_id: ObjectId) -> list[Ref]:
    """The properties that describe an object for entity mapping."""
    kind = object_id[0]
    props = ["objectName", "description", "presentValue"]
    if kind.startswith("analog"):
        props.append("units")
    elif kind.startswith("binary"):
        props += ["inactiveText", "activeText"]
    if kind in MULTISTATE_OBJECT_TYPES:
        props.append("stateText")
    refs: list[Ref] = [(object_id, prop, None) for prop in props]
    if not kind.endswith("Input"):
        # Element 0 of an array is its length: a cheap "has a priority array" probe.
        refs.append((object_id, "priorityArray", 0))
    return refs


def build_object(object_id: ObjectId, values: dict[Ref, Any]) -> BacnetObject:
    """The object from its describe_refs values; BacnetError when name or value is missing."""

    def get(prop: str, index: int | None = None) -> Any:
        value = values.get((object_id, prop, index))
        return None if isinstance(value, BacnetError) else value

    for required in ("objectName", "presentValue"):
        value = values.get((object_id, required, None))
        if value is None or isinstance(value, BacnetError):
            raise value if isinstance(value, BacnetError) else BacnetError(f"no {required}", kind="decode")
    state_text = get("stateText")
    units = get("units")
    inactive, active, description = get("inactiveText"), get("activeText"), get("description")
    return BacnetObject(
        object_type=object_id[0],
        instance=object_id[1],
        name=str(get("objectName")),
        description=str(description) if description is not None else None,
        # A proprietary unit has no standard name: keep its number (it maps to no unit).
        units=str(getattr(units, "attr", None) or int(units)) if units is not None else None,
        value_type=value_type_for(object_id[0]),
        writable=get("priorityArray", 0) is not None,
        state_text=tuple(str(text) for text in state_text) if state_text is not None else None,
        inactive_text=str(inactive) if inactive is not None else None,
        active_text=str(active) if active is not None else None,
        present_value=to_python(get("presentValue")),
    )


def encode_present_value(object_type: str, value: Value) -> Any:
    """Present_Value for a write, in the type the object type requires."""
    if value is None:
        raise ValueError("use relinquish() to release a command, not a write of None")
    if object_type.startswith("analog"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{object_type} needs a finite number, got {value!r}")
        return Real(float(value))
    if object_type.startswith("binary"):
        if isinstance(value, str):
            if value not in ("active", "inactive"):
                raise ValueError(f"{object_type} needs active/inactive or a bool, got {value!r}")
            return BinaryPV(value)
        if value not in (0, 1):
            raise ValueError(f"{object_type} needs active/inactive or a bool, got {value!r}")
        return BinaryPV("active" if value else "inactive")
    if object_type.startswith("multiState"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{object_type} needs a state number from 1, got {value!r}")
        return Unsigned(value)
    raise ValueError(f"writing {object_type} is not supported")

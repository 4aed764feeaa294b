"""The Supervisor's option-type grammar: check a ``schema:`` block and validate options against it.

The same grammar serves two purposes. The tests check ``config.yaml``'s schema with it, so the
Supervisor will accept the add-on; and the add-on validates its own options with it, so a
standalone user's options file gets the same checks (and the same defaults) as the UI's.

Grammar of one element (the Supervisor's own pattern): ``bool``, ``email``, ``url``, ``port``,
``device`` or ``device(subsystem=NAME)``, ``str``/``password``/``int`` with an optional
``(min,max)`` of non-negative integers, ``float`` with optional ``(min,max)`` of non-negative
decimals, ``match(REGEX)``, ``list(a|b|c)``; any of them may end in ``?`` (optional). A schema
value is an element, a list holding exactly one element or one dict, or a dict of schema values;
a list may not hold a list.
"""

from __future__ import annotations

from dataclasses import dataclass
import difflib
import math
import re
from typing import Any
from urllib.parse import urlsplit

from .bounded_json import excerpt

_ELEMENT = re.compile(
    r"^(?:"
    r"(?P<bool>bool)"
    r"|(?P<email>email)"
    r"|(?P<url>url)"
    r"|(?P<port>port)"
    r"|(?P<device>device)(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|(?P<str>str)(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|(?P<password>password)(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|(?P<int>int)(?:\((?P<i_min>\d+)?,(?P<i_max>\d+)?\))?"
    r"|(?P<float>float)(?:\((?P<f_min>[\d.]+)?,(?P<f_max>[\d.]+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")(?P<optional>\?)?$"
)
_KINDS = ("bool", "email", "url", "port", "device", "str", "password", "int", "float")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "on", "enable", "1"}
_FALSE = {"false", "no", "off", "disable", "0"}


class SchemaError(ValueError):
    """The schema itself breaks the grammar."""


class OptionError(ValueError):
    """An option's value does not fit its schema; ``path`` names the option (``tariff[1].price``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"option '{path}': {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Element:
    """One parsed schema element."""

    kind: str  # bool, email, url, port, device, str, password, int, float, match, list
    optional: bool
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None  # match(...)
    choices: tuple[str, ...] = ()  # list(a|b)


def parse_element(text: str) -> Element:
    """Parse one element string; SchemaError if it is not in the grammar."""
    if not isinstance(text, str):
        raise SchemaError(f"{text!r} is not a type string")
    found = _ELEMENT.fullmatch(text)
    if found is None:
        raise SchemaError(f"'{text}' is not a Supervisor option type")
    optional = found.group("optional") is not None
    if found.group("match") is not None:
        pattern = found.group("match")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SchemaError(f"'{text}': the pattern does not compile ({exc})") from None
        return Element("match", optional, pattern=pattern)
    if found.group("list") is not None:
        choices = tuple(found.group("list").split("|"))
        if any(not choice for choice in choices):
            raise SchemaError(f"'{text}': empty choice")
        return Element("list", optional, choices=choices)
    kind = next(k for k in _KINDS if found.group(k))
    bounds: list[float | None] = [None, None]
    for i, suffix in enumerate(("min", "max")):
        raw = found.group(f"{kind[0]}_{suffix}") if kind in ("str", "password", "int", "float") else None
        if raw is not None:
            try:
                bounds[i] = float(raw)
            except ValueError:  # "1.2.3" passes the pattern's [\d.]+
                raise SchemaError(f"'{text}': {raw} is not a number") from None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise SchemaError(f"'{text}': minimum above maximum")
    return Element(kind, optional, bounds[0], bounds[1])


def check_schema(schema: Any, path: str = "") -> None:
    """Raise SchemaError naming the first place where ``schema`` breaks the grammar."""
    if not isinstance(schema, dict):
        raise SchemaError(f"{path or 'schema'}: a schema is a mapping of option names to types")
    for key, value in schema.items():
        where = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str):
            raise SchemaError(f"{where}: option names are strings")
        _check_value(value, where)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, str):
        try:
            parse_element(value)
        except SchemaError as exc:
            raise SchemaError(f"{where}: {exc}") from None
    elif isinstance(value, list):
        if len(value) != 1:
            raise SchemaError(f"{where}: a list type holds exactly one element type")
        inner = value[0]
        if isinstance(inner, list):
            raise SchemaError(f"{where}: a list may not hold a list")
        _check_value(inner, f"{where}[]")
    elif isinstance(value, dict):
        check_schema(value, where)
    else:
        raise SchemaError(f"{where}: {value!r} is neither a type string, a list nor a mapping")


def validate(schema: dict[str, Any], options: Any, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``options`` against ``schema`` the way the Supervisor does, with two differences.

    Missing options take their value from ``defaults`` (the Supervisor fills them in from
    ``config.yaml`` before the add-on starts; a standalone options file may leave them out), and
    an unknown option is an error rather than a warning: a typo in a hand-written file should not
    silently fall back to a default.
    """
    if not isinstance(options, dict):
        raise OptionError("(top level)", "options are a mapping of names to values")
    merged = {**(defaults or {}), **options}
    return _validate_dict(schema, merged, "")


def _validate_dict(schema: dict[str, Any], value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise OptionError(path, f"expected a mapping, got {_describe(value)}")
    unknown = [key for key in value if key not in schema]
    if unknown:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, [str(k) for k in schema], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise OptionError(_join(path, key), f"unknown option{hint}")
    out: dict[str, Any] = {}
    for key, typ in schema.items():
        where = _join(path, key)
        if key not in value or value[key] is None:
            if not _is_optional(typ):
                raise OptionError(where, "missing")
            continue
        out[key] = _validate_value(typ, value[key], where)
    return out


def _validate_value(typ: Any, value: Any, path: str) -> Any:
    if isinstance(typ, list):
        if not isinstance(value, list):
            raise OptionError(path, f"expected a list, got {_describe(value)}")
        return [_validate_value(typ[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(typ, dict):
        return _validate_dict(typ, value, path)
    return _validate_element(parse_element(typ), value, path)


def _validate_element(element: Element, value: Any, path: str) -> Any:
    kind = element.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise OptionError(path, f"expected true or false, got {value!r}")
    if kind in ("int", "port"):
        number = _number(value, path, integer=True)
        if kind == "port":
            return int(_in_range(number, 1, 65535, path))
        return int(_in_range(number, element.minimum, element.maximum, path))
    if kind == "float":
        return _in_range(_number(value, path, integer=False), element.minimum, element.maximum, path)
    if isinstance(value, (dict, list)):
        raise OptionError(path, f"expected a text value, got {_describe(value)}")
    text = str(value)
    if kind in ("str", "password", "device"):
        _in_range(len(text), element.minimum, element.maximum, path, what="length")
        return text
    if kind == "email":
        if not _EMAIL.fullmatch(text):
            raise OptionError(path, f"'{excerpt(text)}' is not an e-mail address")
        return text
    if kind == "url":
        parts = urlsplit(text)
        if not parts.scheme or not parts.netloc:
            raise OptionError(path, f"'{excerpt(text)}' is not a URL (scheme and host, e.g. http://host:11434)")
        return text
    if kind == "match":
        assert element.pattern is not None
        # In full: with re.match a "$" also matches before a trailing newline ("sensor.x\n" passed).
        if not re.fullmatch(element.pattern, text):
            raise OptionError(path, f"'{excerpt(text)}' does not match {element.pattern}")
        return text
    if kind == "list":
        if text not in element.choices:
            raise OptionError(path, f"'{excerpt(text)}' is not one of {', '.join(element.choices)}")
        return text
    raise OptionError(path, f"unsupported type {kind}")  # unreachable: parse_element knows every kind


def _number(value: Any, path: str, *, integer: bool) -> float:
    if isinstance(value, bool):
        raise OptionError(path, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(path, f"expected a number, got {_describe(value)}") from None
    if not math.isfinite(number):
        raise OptionError(path, f"expected a finite number, got {value!r}")
    if integer and number != int(number):
        raise OptionError(path, f"expected a whole number, got {value!r}")
    return number


def _in_range(number: float, low: float | None, high: float | None, path: str, what: str = "value") -> float:
    if low is not None and number < low:
        raise OptionError(path, f"{what} {number:g} is below the minimum {low:g}")
    if high is not None and number > high:
        raise OptionError(path, f"{what} {number:g} is above the maximum {high:g}")
    return number


def _is_optional(typ: Any) -> bool:
    # As the Supervisor: a list's element type decides (["str?"]); mappings are never optional.
    if isinstance(typ, list) and typ:
        typ = typ[0]
    return isinstance(typ, str) and typ.endswith("?")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)

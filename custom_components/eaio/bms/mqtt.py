"""MQTT points: where a value sits in a topic's payload, its type, unit and valid range.

Parsing and validation only; subscribing is the integration's job (through Home
Assistant's own MQTT connection), so this module imports no MQTT client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
import math
from pathlib import Path
import re
from typing import Any

import yaml

from .plausibility import excerpt, shorten
from .profiles import ProfileError

MQTT_PROFILES_DIR = Path(__file__).parent / "mqtt_profiles"
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
# One dotted segment of a path: a name with optional [n] indexes (``sensors[0]``), or indexes alone.
_PATH_SEGMENT = re.compile(r"[^.\[\]]+(?:\[\d+\])*|(?:\[\d+\])+")
_POINT_FIELDS = {
    "key", "name", "topic", "json_path", "type", "unit", "device_class", "state_class", "min", "max",
    "max_age", "precision", "icon", "enabled", "true_values", "false_values",
}  # fmt: skip
_TYPES = {"float", "int", "bool", "string"}
DEFAULT_TRUE = ("true", "on", "1", "yes", "open", "detected", "occupied")
DEFAULT_FALSE = ("false", "off", "0", "no", "closed", "clear", "unoccupied")

MqttValue = float | int | bool | str

# A sensor's message is a few hundred bytes. Bounds keep a hostile or broken publisher from
# costing more than a refusal: the parser and the schema validator recurse per level.
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets nest deeper than ``limit`` (outside strings), without parsing."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the common case costs two counts
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class PayloadError(ValueError):
    """A payload is not what the point expects; ``reason`` is a short stable key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MqttPoint:
    """One value taken from a topic (the whole payload, or a JSON path inside it)."""

    key: str
    name: str
    topic: str  # relative to the device's base topic unless it starts with "/"
    json_path: str | None = None
    value_type: str = "float"
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_age: float | None = None  # seconds of silence before the point is unavailable
    precision: int | None = None
    icon: str | None = None
    enabled_by_default: bool = True
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE

    def full_topic(self, base: str) -> str:
        if self.topic.startswith("/"):
            return self.topic[1:]
        return f"{base.rstrip('/')}/{self.topic}" if self.topic else base.rstrip("/")


@dataclass(frozen=True, slots=True)
class MqttProfile:
    profile_id: str
    name: str
    points: tuple[MqttPoint, ...]
    manufacturer: str | None = None
    model: str | None = None
    schema: dict[str, Any] | None = None  # JSON schema every JSON payload must satisfy
    source: str = ""


def extract(document: Any, path: str) -> Any:
    """Follow a dotted JSON path with [n] indexes: ``sensors[0].temperature``."""
    current = document
    for name, index in _PATH_TOKEN.findall(path):
        if name:
            if not isinstance(current, dict) or name not in current:
                raise PayloadError("missing_field", f"no field '{name}' at '{path}'")
            current = current[name]
        else:
            if not isinstance(current, list) or int(index) >= len(current):
                raise PayloadError("missing_field", f"no item [{index}] at '{path}'")
            current = current[int(index)]
    return current


def _convert(point: MqttPoint, raw: Any) -> MqttValue:
    if point.value_type == "string":
        if isinstance(raw, (dict, list)):
            raise PayloadError("wrong_type", f"{point.key}: expected text, got {type(raw).__name__}")
        return str(raw)
    if point.value_type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in point.true_values:
            return True
        if text in point.false_values:
            return False
        raise PayloadError("wrong_type", f"{point.key}: expected on/off, got {excerpt(raw)}")
    if isinstance(raw, (bool, dict, list)):
        raise PayloadError("wrong_type", f"{point.key}: expected a number, got {excerpt(raw)}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise PayloadError("wrong_type", f"{point.key}: expected a number, got {excerpt(raw)}") from None
    if not math.isfinite(number):
        raise PayloadError("wrong_type", f"{point.key}: {excerpt(raw)} is not a finite number")
    low = point.minimum if point.minimum is not None else -math.inf
    high = point.maximum if point.maximum is not None else math.inf
    if not low <= number <= high:
        raise PayloadError("out_of_range", f"{point.key}: {number:g} is outside {low:g}..{high:g}")
    if point.value_type == "int":
        if number != int(number):
            raise PayloadError("wrong_type", f"{point.key}: expected a whole number, got {excerpt(raw)}")
        return int(number)
    return number


@dataclass(slots=True)
class TopicParser:
    """Turns one topic's payload into values of the points that read it."""

    points: list[MqttPoint]
    validate_schema: Callable[[Any], str | None] | None = None
    wants_json: bool = field(init=False)

    def __post_init__(self) -> None:
        self.wants_json = any(p.json_path for p in self.points)

    def parse(self, payload: bytes | str) -> tuple[dict[str, MqttValue], dict[str, str]]:
        """Values per point key, and the reason per point key that could not be read.

        A payload that is not valid JSON (when JSON is expected) or that fails the schema
        fails every point of the topic; otherwise each point stands or falls alone.
        """
        every = [p.key for p in self.points]
        if len(payload) > MAX_PAYLOAD_BYTES:
            return {}, dict.fromkeys(every, f"too large: {len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
        document: Any = None
        if self.wants_json:
            if json_too_deep(text):
                return {}, dict.fromkeys(every, f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels")
            try:
                document = json.loads(text)
            except (ValueError, RecursionError) as err:
                return {}, dict.fromkeys(every, f"malformed JSON: {shorten(str(err))}")
            if self.validate_schema is not None and (problem := self.validate_schema(document)):
                return {}, dict.fromkeys((p.key for p in self.points), f"schema: {problem}")
        values: dict[str, MqttValue] = {}
        errors: dict[str, str] = {}
        for point in self.points:
            try:
                raw = extract(document, point.json_path) if point.json_path else text.strip()
                values[point.key] = _convert(point, raw)
            except PayloadError as err:
                if err.reason != "missing_field":  # a partial update says nothing of the rest
                    errors[point.key] = str(err)
        return values, errors


def _parse_point(raw: Any, index: int, source: str) -> MqttPoint:
    if not isinstance(raw, dict):
        raise ProfileError(source, f"points[{index}] must be a mapping")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ProfileError(
            source, f"points[{index}]: key must be lower-case letters, digits and '_', got {key!r}"
        )
    unknown = set(raw) - _POINT_FIELDS
    if unknown:
        raise ProfileError(source, f"unknown field(s): {', '.join(sorted(unknown))}", key)
    value_type = raw.get("type", "float")
    if value_type not in _TYPES:
        raise ProfileError(source, f"unknown type '{value_type}' (allowed: {', '.join(sorted(_TYPES))})", key)
    for name in ("min", "max", "max_age"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ProfileError(source, f"{name} must be a number, got {value!r}", key)
    if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
        raise ProfileError(source, f"min {raw['min']} is greater than max {raw['max']}", key)
    if raw.get("max_age") is not None and raw["max_age"] <= 0:
        raise ProfileError(source, "max_age must be positive", key)
    topic = raw.get("topic", "")
    if not isinstance(topic, str) or "+" in topic or "#" in topic:
        raise ProfileError(source, "topic must be a plain topic without wildcards", key)
    json_path = raw.get("json_path")
    if json_path is not None and (
        not isinstance(json_path, str) or not all(_PATH_SEGMENT.fullmatch(s) for s in json_path.split("."))
    ):
        raise ProfileError(source, f"invalid json_path {json_path!r}", key)
    return MqttPoint(
        key=key,
        name=str(raw.get("name") or key.replace("_", " ").capitalize()),
        topic=topic,
        json_path=json_path,
        value_type=value_type,
        unit=raw.get("unit"),
        device_class=raw.get("device_class"),
        state_class=raw.get("state_class"),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        max_age=raw.get("max_age"),
        precision=raw.get("precision"),
        icon=raw.get("icon"),
        enabled_by_default=bool(raw.get("enabled", True)),
        true_values=tuple(str(v).lower() for v in raw.get("true_values", DEFAULT_TRUE)),
        false_values=tuple(str(v).lower() for v in raw.get("false_values", DEFAULT_FALSE)),
    )


def parse_mqtt_profile(data: Any, source: str, profile_id: str) -> MqttProfile:
    """Validate an MQTT device profile; errors name the file, the point and the problem."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ProfileError(source, "a profile must be a mapping with 'name' and 'points'")
    unknown = set(data) - {"name", "manufacturer", "model", "description", "schema", "points"}
    if unknown:
        raise ProfileError(source, f"unknown field(s): {', '.join(sorted(unknown))}")
    raw_points = data.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        raise ProfileError(source, "'points' must be a non-empty list")
    schema = data.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise ProfileError(source, "'schema' must be a JSON schema mapping")
    points = [_parse_point(raw, i, source) for i, raw in enumerate(raw_points)]
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ProfileError(source, "duplicate key", next(k for k in keys if keys.count(k) > 1))
    return MqttProfile(
        profile_id=profile_id,
        name=data["name"],
        points=tuple(points),
        manufacturer=data.get("manufacturer"),
        model=data.get("model"),
        schema=schema,
        source=source,
    )


def load_mqtt_profiles() -> dict[str, MqttProfile]:
    """The shipped MQTT profiles (blocking I/O: run in an executor)."""
    profiles = {}
    for path in sorted(MQTT_PROFILES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        profiles[path.stem] = parse_mqtt_profile(data, path.name, path.stem)
    return profiles


class BurstLimiter:
    """Lets the first of a burst through, then one summary per quiet window: no log floods."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self._window = window
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether to report now, and how many were held back since the last report."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._window:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False, 0
        self._last[key] = now
        return True, self._suppressed.pop(key, 0)

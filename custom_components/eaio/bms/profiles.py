"""Device profiles: point maps stored as YAML files, validated before use.

Shipped profiles live beside this module; a user's own point maps live in Home
Assistant's config folder (``eaio/profiles/*.yaml``) and pass the same validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import itertools
from pathlib import Path
import re
from typing import Any

import yaml

from .planner import DEFAULT_MAX_GAP
from .points import DataType, Order, Point, RegisterType

SHIPPED_DIR = Path(__file__).parent / "profiles"
USER_SUBDIR = Path("eaio") / "profiles"
MAX_ADDRESS = 65535
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

_PROFILE_FIELDS = {"name", "manufacturer", "model", "description", "max_gap", "serial", "points"}
_POINT_FIELDS = {
    "key", "name", "register", "address", "type", "word_order", "byte_order", "length",
    "scale", "offset", "precision", "unit", "device_class", "state_class", "writable",
    "min", "max", "step", "enabled", "icon", "valid_min", "valid_max", "max_rate",
}  # fmt: skip

# A caller-supplied check for what only the caller can judge (for Home Assistant: that a
# device class and unit go together). Returns a problem description, or None.
PointCheck = Callable[[Point], str | None]


class ProfileError(ValueError):
    """A profile failed validation; the message names the file, the point and the problem."""

    def __init__(self, source: str, problem: str, point: str | None = None) -> None:
        where = f"{source}: point '{point}'" if point else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.point = point
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated device profile."""

    profile_id: str
    name: str
    points: tuple[Point, ...]
    manufacturer: str | None = None
    model: str | None = None
    description: str | None = None
    max_gap: int = DEFAULT_MAX_GAP
    # The key of the string point that holds the device's serial number: what identifies the
    # device wherever it is on the network.
    serial: str | None = None
    source: str = ""
    user: bool = False
    by_key: dict[str, Point] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {p.key: p for p in self.points})


def _enum(cls: type[Any], raw: Any, what: str, source: str, key: str) -> Any:
    try:
        return cls(str(raw).lower())
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ProfileError(source, f"unknown {what} '{raw}' (allowed: {allowed})", key) from None


def _number(raw: Any, what: str, source: str, key: str, *, integer: bool = False) -> Any:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ProfileError(source, f"{what} must be a number, got {raw!r}", key)
    if integer and not isinstance(raw, int):
        raise ProfileError(source, f"{what} must be a whole number, got {raw!r}", key)
    return raw


def _parse_point(raw: Any, index: int, source: str, check: PointCheck | None) -> Point:
    if not isinstance(raw, dict):
        raise ProfileError(source, f"points[{index}] must be a mapping")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ProfileError(
            source,
            f"points[{index}]: key must be lower-case letters, digits and '_', got {key!r}",
        )
    unknown = set(raw) - _POINT_FIELDS
    if unknown:
        raise ProfileError(source, f"unknown field(s): {', '.join(sorted(unknown))}", key)
    if "register" not in raw or "address" not in raw:
        raise ProfileError(source, "'register' and 'address' are required", key)
    register = _enum(RegisterType, raw["register"], "register type", source, key)
    address = _number(raw["address"], "address", source, key, integer=True)
    if not 0 <= address <= MAX_ADDRESS:
        raise ProfileError(source, f"address {address} is outside 0..{MAX_ADDRESS}", key)
    default_type = "bool" if register.is_bit else "uint16"
    data_type = _enum(DataType, raw.get("type", default_type), "data type", source, key)
    if register.is_bit and data_type is not DataType.BOOL:
        raise ProfileError(source, f"{register.value} points are bool, not {data_type.value}", key)
    length = _number(raw.get("length", 0), "length", source, key, integer=True)
    if data_type is DataType.STRING and not 1 <= length <= 125:
        raise ProfileError(source, "string points need a length of 1..125 registers", key)
    scale = _number(raw.get("scale", 1.0), "scale", source, key)
    if scale == 0:
        raise ProfileError(source, "scale must not be 0", key)
    writable = raw.get("writable", False)
    if not isinstance(writable, bool):
        raise ProfileError(source, "writable must be true or false", key)
    if writable and not register.is_writable_table:
        raise ProfileError(source, f"{register.value} registers are read-only; writable must be false", key)
    if writable and data_type is DataType.STRING:
        raise ProfileError(source, "string points cannot be writable", key)
    minimum = _number(raw.get("min"), "min", source, key)
    maximum = _number(raw.get("max"), "max", source, key)
    step = _number(raw.get("step"), "step", source, key)
    if writable and not register.is_bit and (minimum is None or maximum is None):
        # Every write is bounded: a writable register without bounds is refused.
        raise ProfileError(source, "writable registers need both min and max", key)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ProfileError(source, f"min {minimum} is greater than max {maximum}", key)
    if step is not None and step <= 0:
        raise ProfileError(source, "step must be positive", key)
    precision = _number(raw.get("precision"), "precision", source, key, integer=True)
    valid_min = _number(raw.get("valid_min"), "valid_min", source, key)
    valid_max = _number(raw.get("valid_max"), "valid_max", source, key)
    if valid_min is not None and valid_max is not None and valid_min > valid_max:
        raise ProfileError(source, f"valid_min {valid_min} is greater than valid_max {valid_max}", key)
    max_rate = _number(raw.get("max_rate"), "max_rate", source, key)
    if max_rate is not None and (max_rate <= 0 or raw.get("state_class") != "total_increasing"):
        raise ProfileError(source, "max_rate must be positive and is for total_increasing counters", key)
    point = Point(
        key=key,
        name=str(raw.get("name") or key.replace("_", " ").capitalize()),
        register_type=register,
        address=address,
        data_type=data_type,
        word_order=_enum(Order, raw.get("word_order", "big"), "word order", source, key),
        byte_order=_enum(Order, raw.get("byte_order", "big"), "byte order", source, key),
        length=length,
        scale=float(scale),
        offset=float(_number(raw.get("offset", 0.0), "offset", source, key)),
        precision=precision,
        unit=raw.get("unit"),
        device_class=raw.get("device_class"),
        state_class=raw.get("state_class"),
        writable=writable,
        minimum=minimum,
        maximum=maximum,
        step=step,
        valid_min=valid_min,
        valid_max=valid_max,
        max_rate=max_rate,
        enabled_by_default=bool(raw.get("enabled", True)),
        icon=raw.get("icon"),
    )
    if point.end - 1 > MAX_ADDRESS:
        raise ProfileError(source, f"spans past address {MAX_ADDRESS}", key)
    if check is not None and (problem := check(point)) is not None:
        raise ProfileError(source, problem, key)
    return point


def parse_profile(
    data: Any, source: str, profile_id: str, *, user: bool = False, check: PointCheck | None = None
) -> Profile:
    """Validate parsed profile data. Raises ProfileError naming source, point and problem."""
    if not isinstance(data, dict):
        raise ProfileError(source, "a profile must be a mapping with 'name' and 'points'")
    unknown = set(data) - _PROFILE_FIELDS
    if unknown:
        raise ProfileError(source, f"unknown field(s): {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(source, "'name' is required")
    raw_points = data.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        raise ProfileError(source, "'points' must be a non-empty list")
    max_gap = _number(data.get("max_gap", DEFAULT_MAX_GAP), "max_gap", source, "-", integer=True)
    if not 0 <= max_gap <= 100:
        raise ProfileError(source, f"max_gap must be within 0..100, got {max_gap}")
    points: list[Point] = []
    seen: dict[str, Point] = {}
    for index, raw in enumerate(raw_points):
        point = _parse_point(raw, index, source, check)
        if point.key in seen:
            raise ProfileError(source, "duplicate key", point.key)
        seen[point.key] = point
        points.append(point)
    _check_overlaps(points, source)
    serial = data.get("serial")
    if serial is not None and (serial not in seen or seen[serial].data_type is not DataType.STRING):
        raise ProfileError(source, f"'serial' must be the key of a string point, got {serial!r}")
    return Profile(
        profile_id=profile_id,
        name=name.strip(),
        points=tuple(points),
        manufacturer=data.get("manufacturer"),
        model=data.get("model"),
        description=data.get("description"),
        max_gap=max_gap,
        serial=serial,
        source=source,
        user=user,
    )


def _check_overlaps(points: Iterable[Point], source: str) -> None:
    by_table: dict[RegisterType, list[Point]] = {}
    for point in points:
        by_table.setdefault(point.register_type, []).append(point)
    for table_points in by_table.values():
        ordered = sorted(table_points, key=lambda p: p.address)
        for before, after in itertools.pairwise(ordered):
            if after.address < before.end:
                raise ProfileError(
                    source,
                    f"overlaps '{before.key}' at {after.register_type.value} address {after.address}",
                    after.key,
                )


def load_profile_file(path: Path, *, user: bool = False, check: PointCheck | None = None) -> Profile:
    """Read and validate one profile file (blocking I/O: run it in an executor)."""
    source = path.name if not user else str(USER_SUBDIR / path.name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProfileError(source, f"cannot be read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ProfileError(source, f"is not valid YAML: {err}") from err
    prefix = "user:" if user else ""
    return parse_profile(data, source, prefix + path.stem, user=user, check=check)


@dataclass(slots=True)
class ProfileCatalog:
    """Every profile found, and the files that were refused with their reasons."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def load_catalog(config_dir: Path | None, check: PointCheck | None = None) -> ProfileCatalog:
    """Load the shipped profiles and the user's point maps (blocking: use an executor)."""
    catalog = ProfileCatalog()
    sources: list[tuple[Path, bool]] = [(p, False) for p in sorted(SHIPPED_DIR.glob("*.yaml"))]
    if config_dir is not None:
        user_dir = config_dir / USER_SUBDIR
        if user_dir.is_dir():
            sources += [(p, True) for p in sorted(user_dir.glob("*.y*ml"))]
    for path, user in sources:
        try:
            profile = load_profile_file(path, user=user, check=check)
        except ProfileError as err:
            catalog.errors[err.source] = str(err)
            continue
        catalog.profiles[profile.profile_id] = profile
    return catalog

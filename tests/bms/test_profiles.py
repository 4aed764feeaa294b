"""Profiles: the shipped ones load, and bad ones are refused naming file, point and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from custom_components.eaio.bms.points import DataType, RegisterType
from custom_components.eaio.bms.profiles import (
    ProfileError,
    load_catalog,
    load_profile_file,
    parse_profile,
)


def test_shipped_profiles_are_valid() -> None:
    catalog = load_catalog(None)
    assert catalog.errors == {}
    assert {"three_phase_meter", "single_phase_meter", "pv_inverter", "hvac_unit"} <= set(catalog.profiles)
    hvac = catalog.profiles["hvac_unit"]
    setpoint = hvac.by_key["cooling_setpoint"]
    assert setpoint.writable and setpoint.minimum == 18 and setpoint.maximum == 30
    assert hvac.by_key["compressor_running"].register_type is RegisterType.DISCRETE
    meter = catalog.profiles["three_phase_meter"]
    assert meter.by_key["import_energy"].data_type is DataType.FLOAT32
    assert meter.by_key["import_energy"].state_class == "total_increasing"


def _point(**overrides: object) -> dict[str, object]:
    return {"key": "temp", "register": "holding", "address": 0, "type": "int16", **overrides}


@pytest.mark.parametrize(
    ("point", "problem"),
    [
        (_point(type="flaot32"), "unknown data type 'flaot32'"),
        (_point(register="holdings"), "unknown register type 'holdings'"),
        (_point(address=70000), "address 70000 is outside 0..65535"),
        (_point(address="12"), "address must be a number"),
        (_point(writable=True), "writable registers need both min and max"),
        (_point(writable=True, min=30, max=10), "min 30 is greater than max 10"),
        (_point(register="input", writable=True, min=0, max=1), "input registers are read-only"),
        (_point(register="coil", type="int16"), "coil points are bool, not int16"),
        (_point(type="string"), "string points need a length"),
        (_point(scale=0), "scale must not be 0"),
        (_point(unit_of_measure="V"), "unknown field(s): unit_of_measure"),
        (_point(address=65535, type="float32"), "spans past address 65535"),
    ],
)
def test_point_problems_are_named(point: dict[str, object], problem: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "Test", "points": [point]}, "my_device.yaml", "my_device")
    assert str(err.value).startswith("my_device.yaml: point 'temp': ")
    assert problem in str(err.value)
    assert err.value.point == "temp"


def test_profile_level_problems() -> None:
    with pytest.raises(ProfileError, match="'points' must be a non-empty list"):
        parse_profile({"name": "x", "points": []}, "a.yaml", "a")
    with pytest.raises(ProfileError, match="'name' is required"):
        parse_profile({"points": [_point()]}, "a.yaml", "a")
    with pytest.raises(ProfileError, match="point 'temp': duplicate key"):
        parse_profile({"name": "x", "points": [_point(), _point(address=5)]}, "a.yaml", "a")
    with pytest.raises(ProfileError, match="point 'b': overlaps 'temp' at holding address 1"):
        parse_profile(
            {"name": "x", "points": [_point(type="int32"), _point(key="b", address=1)]}, "a.yaml", "a"
        )


def test_caller_check_is_applied() -> None:
    with pytest.raises(ProfileError, match="point 'temp': nope"):
        parse_profile({"name": "x", "points": [_point()]}, "a.yaml", "a", check=lambda p: "nope")


def test_user_point_maps_are_offered_and_bad_ones_reported(tmp_path: Path) -> None:
    folder = tmp_path / "eaio" / "profiles"
    folder.mkdir(parents=True)
    (folder / "boiler.yaml").write_text(
        "name: My boiler\npoints:\n  - {key: flow_temperature, register: input, address: 3, "
        "type: int16, scale: 0.1, unit: '°C'}\n"
    )
    (folder / "broken.yaml").write_text("name: Broken\npoints:\n  - {key: x, register: input, address: -1}\n")
    (folder / "not_yaml.yaml").write_text("name: [unclosed\n")
    catalog = load_catalog(tmp_path)
    assert catalog.profiles["user:boiler"].user
    assert catalog.profiles["user:boiler"].by_key["flow_temperature"].scale == 0.1
    assert "three_phase_meter" in catalog.profiles
    assert catalog.errors["eaio/profiles/broken.yaml"] == (
        "eaio/profiles/broken.yaml: point 'x': address -1 is outside 0..65535"
    )
    assert "is not valid YAML" in catalog.errors["eaio/profiles/not_yaml.yaml"]


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"gone\.yaml: cannot be read"):
        load_profile_file(tmp_path / "gone.yaml")

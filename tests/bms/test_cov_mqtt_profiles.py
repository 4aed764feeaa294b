"""MQTT device profiles: a profile author's mistakes are named (file, point, problem), and each
point's payload is read, or refused with its reason, by the type the profile gives it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.eaio.bms.mqtt import MqttPoint, TopicParser, parse_mqtt_profile
from custom_components.eaio.bms.profiles import ProfileError

GOOD_POINT: dict[str, Any] = {"key": "temperature", "json_path": "temperature"}


@pytest.mark.parametrize(
    ("data", "point", "problem"),
    [
        (["not", "a", "mapping"], None, "a profile must be a mapping with 'name' and 'points'"),
        ({"name": "X", "points": [GOOD_POINT], "vendor": "Y"}, None, "unknown field(s): vendor"),
        ({"name": "X", "points": []}, None, "'points' must be a non-empty list"),
        ({"name": "X", "points": [GOOD_POINT], "schema": "object"}, None, "'schema' must be a JSON schema mapping"),
        ({"name": "X", "points": ["temperature"]}, None, "points[0] must be a mapping"),
        ({"name": "X", "points": [{"key": "Temp"}]}, None, "points[0]: key must be lower-case letters, digits and '_', got 'Temp'"),
        ({"name": "X", "points": [{"key": "t", "scale": 2}]}, "t", "unknown field(s): scale"),
        ({"name": "X", "points": [{"key": "t", "type": "double"}]}, "t", "unknown type 'double' (allowed: bool, float, int, string)"),
        ({"name": "X", "points": [{"key": "t", "min": "0"}]}, "t", "min must be a number, got '0'"),
        ({"name": "X", "points": [{"key": "t", "max": True}]}, "t", "max must be a number, got True"),
        ({"name": "X", "points": [{"key": "t", "min": 5, "max": 1}]}, "t", "min 5 is greater than max 1"),
        ({"name": "X", "points": [{"key": "t", "max_age": 0}]}, "t", "max_age must be positive"),
        ({"name": "X", "points": [{"key": "t", "topic": "room/+/t"}]}, "t", "topic must be a plain topic without wildcards"),
        ({"name": "X", "points": [{"key": "t", "json_path": "sensors[first].t"}]}, "t", "invalid json_path 'sensors[first].t'"),
        ({"name": "X", "points": [{"key": "t", "json_path": "room..t"}]}, "t", "invalid json_path 'room..t'"),
        ({"name": "X", "points": [GOOD_POINT, GOOD_POINT]}, "temperature", "duplicate key"),
    ],
)  # fmt: skip
def test_a_faulty_profile_names_its_problem(data: Any, point: str | None, problem: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_mqtt_profile(data, "room.yaml", "room")
    assert err.value.source == "room.yaml"
    assert err.value.point == point
    assert err.value.problem == problem


def test_a_valid_profile_keeps_its_points_and_their_defaults() -> None:
    profile = parse_mqtt_profile(
        {
            "name": "Door contact",
            "points": [
                {"key": "door_open", "topic": "contact", "type": "bool", "enabled": False,
                 "true_values": ["OPEN"], "false_values": ["SHUT"]},
                {"key": "link_quality", "topic": "/bridge/state", "json_path": "links[1].quality", "type": "int"},
            ],
        },
        "door.yaml",
        "door",
    )  # fmt: skip
    door, link = profile.points
    assert door.name == "Door open" and not door.enabled_by_default
    assert door.true_values == ("open",) and door.false_values == ("shut",)
    assert door.full_topic("home/hall/door/") == "home/hall/door/contact"
    # A leading '/' means a topic of its own, not one under the device's base topic.
    assert link.full_topic("home/hall/door") == "bridge/state"
    assert MqttPoint("state", "State", "").full_topic("home/hall/door/") == "home/hall/door"
    # The path syntax the reader follows is the one the validator accepts (it once refused it).
    payload = json.dumps({"links": [{"quality": 10}, {"quality": 87}]})
    assert TopicParser([link]).parse(payload) == ({"link_quality": 87}, {})


def _parse(point: MqttPoint, payload: str) -> tuple[dict[str, Any], dict[str, str]]:
    return TopicParser([point]).parse(payload.encode())


def test_each_type_reads_its_payload_or_says_why_not() -> None:
    text = MqttPoint("mode", "Mode", "mode", json_path="mode", value_type="string")
    assert _parse(text, '{"mode": "eco"}') == ({"mode": "eco"}, {})
    assert _parse(text, '{"mode": {"a": 1}}') == ({}, {"mode": "mode: expected text, got dict"})

    door = MqttPoint("door", "Door", "door", value_type="bool")
    assert _parse(door, " Closed ") == ({"door": False}, {})
    assert _parse(door, "ON") == ({"door": True}, {})
    assert _parse(door, "ajar") == ({}, {"door": "door: expected on/off, got 'ajar'"})
    flag = MqttPoint("flag", "Flag", "flag", json_path="flag", value_type="bool")
    assert _parse(flag, '{"flag": true}') == ({"flag": True}, {})

    power = MqttPoint("power", "Power", "power", minimum=0, maximum=10_000)
    assert _parse(power, "1250.5") == ({"power": 1250.5}, {})
    assert _parse(power, "lots") == ({}, {"power": "power: expected a number, got 'lots'"})
    assert _parse(power, "inf") == ({}, {"power": "power: 'inf' is not a finite number"})
    assert _parse(power, "12000") == ({}, {"power": "power: 12000 is outside 0..10000"})
    nested = MqttPoint("power", "Power", "power", json_path="power")
    assert _parse(nested, '{"power": true}') == ({}, {"power": "power: expected a number, got True"})

    count = MqttPoint("count", "Count", "count", value_type="int")
    assert _parse(count, "7") == ({"count": 7}, {})
    assert _parse(count, "7.5") == ({}, {"count": "count: expected a whole number, got '7.5'"})


def test_json_paths_follow_lists_and_a_partial_update_is_not_an_error() -> None:
    first = MqttPoint("first", "First", "", json_path="sensors[0].t")
    second = MqttPoint("second", "Second", "", json_path="sensors[1].t")
    parser = TopicParser([first, second])
    assert parser.parse(json.dumps({"sensors": [{"t": 20.5}, {"t": 21}]})) == (
        {"first": 20.5, "second": 21.0},
        {},
    )
    # Only the first sensor reported: the second keeps its value rather than failing.
    assert parser.parse(json.dumps({"sensors": [{"t": 19.0}]})) == ({"first": 19.0}, {})
    assert parser.parse(json.dumps({"sensors": {"t": 19.0}})) == ({}, {})
    assert parser.parse("not json") == ({}, {"first": "malformed JSON: Expecting value: line 1 column 1 (char 0)",
                                            "second": "malformed JSON: Expecting value: line 1 column 1 (char 0)"})  # fmt: skip

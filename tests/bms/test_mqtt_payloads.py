"""Hostile MQTT payloads are bounded: depth, size and the length of what is reported."""

from __future__ import annotations

import json

from custom_components.eaio.bms.mqtt import (
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    MqttPoint,
    TopicParser,
    json_too_deep,
)

POINTS = [MqttPoint("temperature", "Temperature", "", json_path="temperature", minimum=-40, maximum=80)]


def test_deep_nesting_is_refused_without_recursion() -> None:
    parser = TopicParser(POINTS)
    # 10,000 levels in 20 kB: enough to exhaust the JSON decoder's recursion.
    values, errors = parser.parse(b"[" * 10_000 + b"]" * 10_000)
    assert values == {}
    assert errors == {"temperature": f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels"}
    # The report's 100,000 levels (200 kB) are refused for their size before anything else.
    _values, errors = parser.parse(b"[" * 100_000 + b"]" * 100_000)
    assert errors == {"temperature": f"too large: 200000 bytes (at most {MAX_PAYLOAD_BYTES})"}
    # Unbalanced, too: the depth is counted before anything is parsed.
    _values, errors = parser.parse(b'{"a":' * 10_000)
    assert errors["temperature"].startswith("malformed JSON: nested deeper")


def test_depth_ignores_brackets_inside_strings_and_allows_real_documents() -> None:
    document = {"temperature": 21.5, "note": "[" * 500, "deep": [[[[{"x": [1]}]]]]}
    assert not json_too_deep(json.dumps(document))
    assert TopicParser(POINTS).parse(json.dumps(document).encode()) == ({"temperature": 21.5}, {})
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    assert not json_too_deep(json.dumps(nested))
    assert json_too_deep(json.dumps([nested]))


def test_oversized_payload_is_refused_before_decoding() -> None:
    values, errors = TopicParser(POINTS).parse(b" " * (MAX_PAYLOAD_BYTES + 1))
    assert values == {}
    assert errors == {
        "temperature": f"too large: {MAX_PAYLOAD_BYTES + 1} bytes (at most {MAX_PAYLOAD_BYTES})"
    }


def test_reasons_carry_only_an_excerpt_of_the_payload() -> None:
    plain = TopicParser([MqttPoint("power", "Power", "power")])
    _values, errors = plain.parse(("x" * 60_000).encode())
    assert len(errors["power"]) < 120 and "(60002 characters)" in errors["power"]
    _values, errors = TopicParser(POINTS).parse(json.dumps({"temperature": "y" * 60_000}).encode())
    assert len(errors["temperature"]) < 120

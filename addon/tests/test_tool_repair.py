"""The repairs of small models' tool calls: unambiguous ones are made, the rest left to the schema check.

Through a real MCP session (the SDK's in-memory pair) with the two zone tools of test_tool_bridge.
"""

from __future__ import annotations

from eaio_addon.llm import ToolBridge
from eaio_addon.llm.tool_repair import calls_in_text, repair_arguments, repair_name
import pytest

from tests.test_tool_bridge import mcp_session

KNOWN = ["energy_status", "energy_history", "energy_forecast", "energy_list_recommendations",
         "energy_verified_savings"]
HISTORY = {"type": "object", "properties": {"entity_id": {"type": "string"}, "hours": {"type": "integer"}},
           "required": ["entity_id"]}


@pytest.mark.parametrize(("given", "meant"), [
    ("energy_forecast", "energy_forecast"), ("functions.energy_forecast", "energy_forecast"),
    ("Energy-Forecast", "energy_forecast"), ("get_forecast", "energy_forecast"), ("forecast", "energy_forecast"),
    ("get_recommendations", "energy_list_recommendations"), ("verified_savings", "energy_verified_savings"),
    ("eaio.energy_status", "energy_status"),
])
def test_tool_names_repaired(given: str, meant: str) -> None:
    assert repair_name(given, KNOWN)[0] == meant


@pytest.mark.parametrize("given", ["get_energy", "open_all_windows", "weather"])
def test_ambiguous_or_unknown_names_left_alone(given: str) -> None:
    assert repair_name(given, KNOWN) == (given, None)


def test_arguments_repaired() -> None:
    fixed, notes = repair_arguments({"entity": "sensor.load", "hour": "48"}, HISTORY)
    assert fixed == {"entity_id": "sensor.load", "hours": 48}
    assert len(notes) == 3
    assert repair_arguments('{"entity_id": "sensor.load"}', HISTORY)[0] == {"entity_id": "sensor.load"}
    assert repair_arguments({"parameters": {"entity_id": "sensor.load"}}, HISTORY)[0] == {"entity_id": "sensor.load"}
    # Unknown extras are left out; an unclear value keeps its type for the schema check to refuse.
    assert repair_arguments({"entity_id": "sensor.load", "verbose": True}, HISTORY)[0] == {"entity_id": "sensor.load"}
    assert repair_arguments({"entity_id": "sensor.load", "hours": "many"}, HISTORY)[0]["hours"] == "many"


def test_calls_written_as_text() -> None:
    assert calls_in_text('Sure! {"name": "energy_forecast", "arguments": {"hours": 24}}', KNOWN) == [
        ("energy_forecast", {"hours": 24})]
    assert calls_in_text('```json\n{"tool_calls": [{"function": {"name": "energy_status", "arguments": {}}}]}\n```',
                         KNOWN) == [("energy_status", {})]
    assert calls_in_text("Let me check: energy_forecast({\"hours\": 12})", KNOWN) == [
        ("energy_forecast", '{"hours": 12}')]
    assert calls_in_text('The answer is {"kwh": 12}', KNOWN) == []
    assert calls_in_text('{"name": "launch_rocket", "arguments": {}}', KNOWN) == []


async def test_bridge_repairs_then_validates() -> None:
    async with mcp_session() as (session, recorder):
        bridge = await ToolBridge.from_session(session)
        outcome = await bridge.call("functions.set_setpoint", {"zone": "office", "temperature": "21"})
        # "temperature" could be "celsius" only by meaning, not by spelling: not guessed, refused clearly.
        assert not outcome.ok and "celsius" in str(outcome.error)
        outcome = await bridge.call("setpoint", {"Zone": "office", "celsius": "21"})
        assert outcome.ok and outcome.name == "set_setpoint", outcome
        assert recorder.setpoints == [("office", 21.0)]
        assert outcome.repairs == ("tool name 'setpoint' read as 'set_setpoint'", "argument 'Zone' read as 'zone'",
                                   "argument 'celsius' '21' read as 21.0")
        # A bound is the schema's to refuse, never repaired.
        outcome = await bridge.call("set_setpoint", {"zone": "office", "celsius": 40})
        assert not outcome.ok and "maximum" in str(outcome.error)
        # Without repairs (what the benchmark compares against) the same call is refused.
        bridge.repair = False
        assert not (await bridge.call("setpoint", {"zone": "office", "celsius": 21})).ok
        assert recorder.setpoints == [("office", 21.0)]

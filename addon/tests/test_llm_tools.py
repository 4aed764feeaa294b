"""The bounded tool-calling loop: Ollama test server for the model, a real MCP session for the tools."""

from __future__ import annotations

from typing import Any

from eaio_addon.llm import LocalLlm, ToolBridge

from tests.ollama_server import ChatStep, Script, start_server
from tests.test_tool_bridge import mcp_session

MODEL = "eaio-test:3b"
LIGHT = "eaio-test:1b"
QUESTION = [{"role": "user", "content": "Set the office to 21 degrees"}]


async def _llm(steps: list[ChatStep], **kwargs: Any) -> tuple[Any, LocalLlm]:
    server = await start_server(Script(models=[MODEL, LIGHT], chat=steps))
    llm = LocalLlm(server.url, MODEL, LIGHT, memory_probe=lambda: 30.0, **kwargs)
    await llm.start()
    assert llm.available
    return server, llm


async def test_answer_without_tool_calls() -> None:
    server, llm = await _llm([ChatStep(content="Which zone do you mean?")])
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge)
        assert answer.text == "Which zone do you mean?"
        assert answer.error is None and answer.rounds == 1 and answer.tool_calls == [] and answer.model == MODEL
        (request,) = server.chat_requests()
        assert {t["function"]["name"] for t in request["tools"]} == {"zone_status", "set_setpoint"}
    finally:
        await llm.close()
        await server.stop()


async def test_numbers_without_a_tool_are_asked_for_once() -> None:
    """A reply with numbers but no tool call behind them: the model is told once to call the tool."""
    steps = [ChatStep(content="The office is at 22.5 °C."),
             ChatStep(tool_calls=[{"name": "zone_status", "arguments": {"zone": "office"}}]),
             ChatStep(content="The office is at 23.0 °C.")]
    server, llm = await _llm(steps)
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge)
        assert answer.text == "The office is at 23.0 °C." and answer.rounds == 3
        assert [c["name"] for c in answer.tool_calls] == ["zone_status"] and answer.tool_calls[0]["ok"]
        nudged = server.chat_requests()[1]["messages"]
        assert nudged[-2] == {"role": "assistant", "content": "The office is at 22.5 °C."}
        assert nudged[-1]["role"] == "user" and "call the tool" in nudged[-1]["content"]
    finally:
        await llm.close()
        await server.stop()


async def test_bad_arguments_refused_fed_back_and_loop_continues() -> None:
    steps = [
        ChatStep(tool_calls=[{"name": "set_setpoint", "arguments": {"zone": "office", "celsius": 40}}]),
        ChatStep(tool_calls=[{"name": "set_setpoint", "arguments": {"zone": "office", "celsius": 21}}]),
        ChatStep(content="Done: the office is set to 21 °C."),
    ]
    server, llm = await _llm(steps)
    try:
        async with mcp_session() as (session, recorder):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge)
            assert recorder.setpoints == [("office", 21.0)]
        assert answer.text == "Done: the office is set to 21 °C." and answer.error is None
        assert answer.rounds == 3
        first, second = answer.tool_calls
        assert first["name"] == "set_setpoint" and first["ok"] is False
        assert "celsius: 40 is greater than the maximum of 26" in first["error"]
        assert second == {"name": "set_setpoint", "arguments": {"zone": "office", "celsius": 21}, "ok": True,
                          "error": None, "repairs": []}
        second_request = server.chat_requests()[1]["messages"]
        assert second_request[1]["role"] == "assistant"
        assert second_request[1]["tool_calls"][0]["function"]["arguments"] == {"zone": "office", "celsius": 40}
        assert second_request[2]["role"] == "tool" and second_request[2]["tool_name"] == "set_setpoint"
        assert "greater than the maximum of 26" in second_request[2]["content"]
        third_request = server.chat_requests()[2]["messages"]
        assert third_request[-1] == {"role": "tool", "tool_name": "set_setpoint",
                                     "content": "office setpoint now 21.0 °C"}
    finally:
        await llm.close()
        await server.stop()


async def test_unknown_tool_fed_back() -> None:
    steps = [
        ChatStep(tool_calls=[{"name": "open_all_windows", "arguments": {}}]),
        ChatStep(content="I cannot open windows."),
    ]
    server, llm = await _llm(steps)
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge)
        assert answer.text == "I cannot open windows." and answer.error is None
        (call,) = answer.tool_calls
        assert call["ok"] is False and "unknown tool 'open_all_windows'" in call["error"]
        assert "unknown tool" in server.chat_requests()[1]["messages"][-1]["content"]
    finally:
        await llm.close()
        await server.stop()


async def test_tool_call_without_bridge_refused() -> None:
    steps = [ChatStep(tool_calls=[{"name": "zone_status", "arguments": {"zone": "office"}}]),
             ChatStep(content="No tools here.")]
    server, llm = await _llm(steps)
    try:
        answer = await llm.ask_with_tools(QUESTION, None)
        assert answer.text == "No tools here."
        assert answer.tool_calls[0]["ok"] is False and "no tools are available" in answer.tool_calls[0]["error"]
        assert not server.chat_requests()[0].get("tools")
    finally:
        await llm.close()
        await server.stop()


async def test_rounds_bound() -> None:
    looping = [ChatStep(tool_calls=[{"name": "zone_status", "arguments": {"zone": "office"}}]) for _ in range(10)]
    server, llm = await _llm(looping)
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge, max_rounds=3)
        assert answer.rounds == 3
        assert len(server.chat_requests()) == 3
        assert len(answer.tool_calls) == 3 and all(c["ok"] for c in answer.tool_calls)
        assert answer.error == "stopped after 3 rounds without a final answer"
    finally:
        await llm.close()
        await server.stop()


async def test_slow_reply_past_loop_timeout() -> None:
    steps = [ChatStep(tool_calls=[{"name": "zone_status", "arguments": {"zone": "office"}}]),
             ChatStep(content="late", delay_s=1.5)]
    server, llm = await _llm(steps)
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge, timeout_s=0.5)
        assert answer.text == "" and answer.rounds == 2
        assert "within" in (answer.error or "")
        assert answer.tool_calls[0]["ok"] is True
    finally:
        await llm.close()
        await server.stop()


async def test_server_going_away_mid_loop() -> None:
    steps = [ChatStep(tool_calls=[{"name": "zone_status", "arguments": {"zone": "office"}}]), ChatStep(drop=True)]
    server, llm = await _llm(steps)
    try:
        async with mcp_session() as (session, _):
            bridge = await ToolBridge.from_session(session)
            answer = await llm.ask_with_tools(QUESTION, bridge)
        assert answer.rounds == 2 and len(answer.tool_calls) == 1
        assert "unreachable" in (answer.error or "")
        assert llm.status()["state"] == "unreachable" and not llm.available
    finally:
        await llm.close()
        await server.stop()


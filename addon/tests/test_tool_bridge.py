"""ToolBridge against a real MCP session (the SDK's in-memory JSON-RPC pair) with two tools."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import socket
from typing import Annotated, Any

from eaio_addon.llm import ToolBridge
from mcp import Client
from mcp.server.mcpserver import MCPServer
from ollama import Tool
from pydantic import Field
import pytest
import uvicorn

from tests.helpers import wait_until


class ZoneRecorder:
    """What the MCP tools were really called with: a refused call must leave no trace here."""

    def __init__(self) -> None:
        self.setpoints: list[tuple[str, float]] = []


def make_mcp_server(recorder: ZoneRecorder) -> MCPServer:
    server = MCPServer("eaio-test-tools")

    @server.tool(description="Current temperature and setpoint of a zone")
    def zone_status(zone: Annotated[str, Field(description="zone name")]) -> str:
        known = dict(recorder.setpoints)
        if zone not in ("office", "lobby"):
            raise ValueError(f"no zone {zone}")
        return f"{zone}: 22.5 °C, setpoint {known.get(zone, 21.0)} °C"

    @server.tool(description="Set a zone's heating setpoint")
    def set_setpoint(
        zone: Annotated[str, Field(description="zone name")],
        celsius: Annotated[float, Field(ge=16, le=26, description="setpoint")],
    ) -> str:
        recorder.setpoints.append((zone, celsius))
        return f"{zone} setpoint now {celsius} °C"

    return server


@asynccontextmanager
async def mcp_session() -> AsyncIterator[tuple[Any, ZoneRecorder]]:
    """A connected client session; a context manager (not a fixture) so the SDK's task group
    is entered and left in the same task."""
    recorder = ZoneRecorder()
    async with Client(make_mcp_server(recorder), mode="legacy") as client:
        yield client.session, recorder


async def test_tools_listed_in_ollama_format() -> None:
    async with mcp_session() as (session, _):
        bridge = await ToolBridge.from_session(session)
        tools = {t["function"]["name"]: t for t in bridge.ollama_tools()}
        assert set(tools) == {"zone_status", "set_setpoint"}
        setpoint = tools["set_setpoint"]
        assert setpoint["type"] == "function"
        assert setpoint["function"]["description"] == "Set a zone's heating setpoint"
        params = setpoint["function"]["parameters"]
        assert params["type"] == "object"
        assert sorted(params["required"]) == ["celsius", "zone"]
        assert params["properties"]["celsius"]["type"] == "number"
        # Bounds Ollama's format cannot carry are kept in the description for the model to read.
        assert "minimum 16" in params["properties"]["celsius"]["description"]
        assert "maximum 26" in params["properties"]["celsius"]["description"]


async def test_tools_pass_the_official_client_tool_model() -> None:
    async with mcp_session() as (session, _):
        bridge = await ToolBridge.from_session(session)
        for tool in bridge.ollama_tools():
            parsed = Tool.model_validate(tool)
            assert parsed.function is not None and parsed.function.parameters is not None
            assert parsed.function.parameters.properties


async def test_allow_list_limits_tools() -> None:
    async with mcp_session() as (session, _):
        bridge = await ToolBridge.from_session(session, allow={"zone_status"})
        assert bridge.names == ["zone_status"]
        outcome = await bridge.call("set_setpoint", {"zone": "office", "celsius": 20})
        assert not outcome.ok and "unknown tool" in (outcome.error or "")


async def test_valid_call_runs_through_the_session() -> None:
    async with mcp_session() as (session, recorder):
        bridge = await ToolBridge.from_session(session)
        outcome = await bridge.call("set_setpoint", {"zone": "office", "celsius": 20.5})
        assert outcome.ok, outcome.error
        assert outcome.content == "office setpoint now 20.5 °C"
        assert recorder.setpoints == [("office", 20.5)]
        status = await bridge.call("zone_status", {"zone": "office"})
        assert status.ok and "setpoint 20.5" in status.content


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"zone": "office", "celsius": 40}, "celsius: 40 is greater than the maximum of 26"),
        ({"zone": "office"}, "'celsius' is a required property"),
        ({"zone": "office", "celsius": "warm"}, "celsius: 'warm' is not of type 'number'"),
        (["office", 20], "must be a JSON object"),
    ],
)
async def test_invalid_arguments_refused_without_running(
    arguments: Any, expected: str
) -> None:
    async with mcp_session() as (session, recorder):
        bridge = await ToolBridge.from_session(session)
        outcome = await bridge.call("set_setpoint", arguments)
        assert not outcome.ok
        assert expected in (outcome.error or "")
        assert recorder.setpoints == []


async def test_unknown_tool_refused() -> None:
    async with mcp_session() as (session, _):
        bridge = await ToolBridge.from_session(session)
        outcome = await bridge.call("open_all_windows", {})
        assert not outcome.ok
        assert "unknown tool 'open_all_windows'" in (outcome.error or "")
        assert "zone_status" in (outcome.error or "")


async def test_tool_error_reported() -> None:
    async with mcp_session() as (session, _):
        bridge = await ToolBridge.from_session(session)
        outcome = await bridge.call("zone_status", {"zone": "attic"})
        assert not outcome.ok
        assert "zone_status reported an error" in (outcome.error or "")


async def test_bridge_over_streamable_http() -> None:
    """The same bridge over the transport the add-on serves: streamable HTTP on loopback."""
    recorder = ZoneRecorder()
    app = make_mcp_server(recorder).streamable_http_app()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started, within=10, what="MCP HTTP server started")
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            bridge = await ToolBridge.from_session(client.session)
            assert set(bridge.names) == {"zone_status", "set_setpoint"}
            refused = await bridge.call("set_setpoint", {"zone": "lobby", "celsius": 12})
            assert not refused.ok and "less than the minimum of 16" in (refused.error or "")
            done = await bridge.call("set_setpoint", {"zone": "lobby", "celsius": 19})
            assert done.ok and done.content == "lobby setpoint now 19.0 °C"
        assert recorder.setpoints == [("lobby", 19.0)]
    finally:
        server.should_exit = True
        await serving

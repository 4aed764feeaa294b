"""The running add-on serves its MCP tools: started by Runtime.start, reachable with its API token."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

from eaio_addon.mcp_servers import open_client_session
from eaio_addon.options import parse_options
from eaio_addon.runtime import Runtime, Settings
from mcp_types import CallToolResult, TextContent
import pytest

from .fake_ha import FakeHomeAssistant
from .helpers import wait_until


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    ha = FakeHomeAssistant()
    ha.services[("eaio", "submit_recommendations")] = lambda data: {"accepted": len(data["recommendations"])}
    await ha.start()
    settings = Settings(mode="standalone", ha_ws_url=f"ws://127.0.0.1:{ha.port}/api/websocket",
                        ha_token=ha.token, data_dir=tmp_path / "data",
                        options=parse_options({"optimize_every_minutes": 0}), host="127.0.0.1", port=0,
                        reconnect_cap=0.2, recorder_lag=0.0, registry_debounce=0.05)
    running = Runtime(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        await ha.stop()


def _json(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    return json.loads(block.text)


async def test_the_runtime_serves_mcp_with_its_token(runtime: Runtime) -> None:
    url = runtime.mcp_url()
    assert url.endswith("/mcp") and f":{runtime.port}/" not in url  # its own port, not the API's
    await runtime.submit_recommendations([{"id": "rec-1", "title": "Shift the dishwasher"}])
    async with open_client_session(url, runtime.api_token) as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert {"energy_status", "modbus_write_point", "bacnet_discover", "mqtt_publish"} <= names
        status = _json(await session.call_tool("energy_status", {}))
        assert status["open_recommendations"] == 1
        assert "health" in status
        recs = _json(await session.call_tool("energy_list_recommendations", {}))["recommendations"]
        assert [r["id"] for r in recs] == ["rec-1"]
    with pytest.raises(PermissionError):
        async with open_client_session(url, "not-the-token"):
            pass


async def test_without_the_agents_backend_the_store_answers(runtime: Runtime) -> None:
    runtime.energy_backend = None
    await runtime.submit_recommendations([{"id": "rec-2", "title": "Lower the night setpoint"}])
    async with open_client_session(runtime.mcp_url("energy"), runtime.api_token) as session:
        status = _json(await session.call_tool("energy_status", {}))
        assert status["open_recommendations"] == 1
        assert status["health"]["status"] in ("ok", "degraded")
        recs = _json(await session.call_tool("energy_list_recommendations", {}))["recommendations"]
        assert [r["id"] for r in recs] == ["rec-2"]
        refused = await session.call_tool("energy_apply_recommendation", {"recommendation_id": "rec-2"})
        assert refused.is_error
        block = refused.content[0]
        assert isinstance(block, TextContent) and "needs the agents" in block.text


async def test_stop_closes_the_mcp_port(runtime: Runtime) -> None:
    url = runtime.mcp_url()
    await runtime.stop()

    async def refused() -> bool:
        try:
            async with open_client_session(url, runtime.api_token, request_timeout=2):
                return False
        except Exception:
            return True

    await wait_until(refused, within=10, what="the MCP port closed")

"""The savings the owner could have, over MCP: the running agents' backend replays the home battery
over the last days three ways; a backend without the agents says it cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import escape
import json
from pathlib import Path
from typing import Any

from eaio_addon.agents.energy_backend import AddonEnergyBackend
from eaio_addon.agents.memory import AgentMemory
from eaio_addon.ingress_page import render_page
from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, StoreEnergyBackend, open_client_session
from eaio_addon.mcp_servers.backend import EnergyBackend
from eaio_addon.store import Store
from mcp_types import CallToolResult, TextContent
import pytest

from tests.agents_site import Sink, hour_now, make_orchestrator, open_filled

TOKEN = "savings-test-token"
BATTERY = {"capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 90, "min_soc": 10, "max_soc": 100}


class NoFieldBus:
    """Home Assistant's services are not what these tools use."""

    async def call(self, payload: dict[str, Any]) -> Any:
        raise ConnectionError("not used here")

    async def call_service(self, domain: str, service: str, data: dict[str, Any] | None = None, *,
                           return_response: bool = False) -> Any:  # fmt: skip
        raise ConnectionError("not used here")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_filled(tmp_path / "eaio.db", hour_now())
    try:
        yield opened
    finally:
        await opened.close()


def _text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_the_tool_reports_plan_perfect_foresight_and_rule(store: Store) -> None:
    orchestrator = make_orchestrator(store, Sink(), {"battery": BATTERY})
    result = await orchestrator.run("test")
    assert result.status == "ok", result.errors

    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    agents = AddonEnergyBackend(store, orchestrator, AgentMemory(store), lambda: None, health)
    current: list[EnergyBackend] = [agents]
    mcp = McpHttpServer(lambda: current[0], NoFieldBus, MqttSettings(None), lambda: TOKEN)
    await mcp.start("127.0.0.1", 0)
    try:
        async with open_client_session(mcp.url("energy"), TOKEN) as session:
            answer = await session.call_tool("energy_savings_potential", {"days": 7})
            assert not answer.is_error, answer.content
            report = json.loads(_text(answer))
            assert report["controllable"] == "battery" and report["days"] == 7
            plan, perfect, rule = report["plan_followed"], report["perfect_foresight"], report["simple_rule"]
            assert report["cost_without_battery"] > 0
            # The evening peak at 0.50 against 0.20: a full cycle a day pays even with the losses.
            assert perfect["saving"] > 0.5
            assert 0 < plan["saving"] <= perfect["saving"] + 0.01
            assert rule["saving"] == 0.0  # no PV to store, and the rule never buys for the battery
            assert report["plan_share_of_perfect_pct"] == pytest.approx(100 * plan["saving"] / perfect["saving"],
                                                                         abs=0.2)  # fmt: skip
            refused = await session.call_tool("energy_savings_potential", {"days": 3})
            assert refused.is_error  # at least a week
            current[0] = StoreEnergyBackend(store, health)
            without = await session.call_tool("energy_savings_potential", {})
            assert without.is_error and "needs the agents" in _text(without)
    finally:
        await mcp.stop()


async def test_the_page_shows_the_report_made_once_per_run(store: Store) -> None:
    orchestrator = make_orchestrator(store, Sink(), {"battery": BATTERY})
    result = await orchestrator.run("test")
    assert result.status == "ok", result.errors

    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    agents = AddonEnergyBackend(store, orchestrator, AgentMemory(store), lambda: None, health)
    report = await agents.page_potential(days=7)
    assert isinstance(report, dict) and report["days"] == 7
    assert await agents.page_potential(days=7) is report  # the page refreshes; the replay is made once per run
    # Thirty days asked of a store that holds fewer: the reason, not a broken page.
    short = await agents.page_potential()
    assert isinstance(short, str) and "hours missing" in short
    page = render_page({"health": {"status": "ok"}, "potential": report, "currency": "EUR"})
    assert "What the battery could have saved" in page
    saving = report["plan_followed"]["saving"]
    assert f"With EAIO&#x27;s plans followed</th><td>saves {saving:.2f} EUR" in page
    assert "With the self-consumption rule" in page and "With perfect foresight" in page
    # Without a battery in the options the page says why there is no report.
    plain = AddonEnergyBackend(store, make_orchestrator(store, Sink(), {}), AgentMemory(store), lambda: None, health)
    why = await plain.page_potential()
    assert why == "no home battery in the options: nothing to report"
    assert escape(why) in render_page({"health": {"status": "ok"}, "potential": why})

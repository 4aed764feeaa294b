"""The ``energy`` tools: the building's status, history, forecast, optimization and recommendations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, runtime_checkable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .backend import CHANGES, MAX_HISTORY_HOURS, READS, EnergyBackend

CATEGORY = "energy"

BackendGetter = Callable[[], EnergyBackend]


@runtime_checkable
class SavingsSource(Protocol):
    """A backend that can replay the battery over past days (the running agents' can)."""

    async def savings_potential(self, days: int) -> dict[str, Any]: ...

# The backend's own refusals (unknown id, no forecast yet, link down) are the caller's answer;
# anything else stays an unexpected error, which the SDK reports without internals.
EXPECTED = (LookupError, ValueError, PermissionError, ConnectionError, TimeoutError)


async def answer[T](call: Awaitable[T]) -> T:
    try:
        return await call
    except EXPECTED as exc:
        raise ToolError(str(exc) or type(exc).__name__) from exc


def add_energy_tools(server: MCPServer, backend: BackendGetter) -> None:
    """Register the energy tools; ``backend`` is asked on every call, so a later backend takes over."""
    meta = {"category": CATEGORY}

    async def energy_status() -> dict[str, Any]:
        """The building's and the add-on's status now: health, last optimization run, open recommendations."""
        return await answer(backend().status())

    async def energy_history(
        entity_id: Annotated[str, Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$", description="e.g. sensor.total_power")],
        hours: Annotated[int, Field(ge=1, le=MAX_HISTORY_HOURS, description="how far back")] = 24,
    ) -> dict[str, Any]:
        """Hourly history (mean, min, max, delta) of one entity the add-on collects."""
        return await answer(backend().history(entity_id, hours))

    async def energy_forecast(hours: Annotated[int, Field(ge=1, le=168)] = 24) -> dict[str, Any]:
        """The load forecast (kW; p10, p50, p90) for the next hours, from the last optimization run."""
        return await answer(backend().forecast(hours))

    async def energy_run_optimization() -> dict[str, Any]:
        """Run the optimization workflow now and return its outcome (recommendations, what is missing)."""
        return await answer(backend().run_optimization())

    async def energy_list_recommendations() -> dict[str, Any]:
        """The open recommendations with their estimated and verified savings."""
        return {"recommendations": await answer(backend().recommendations())}

    async def energy_apply_recommendation(
        recommendation_id: Annotated[str, Field(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        """Apply a recommendation through Home Assistant (eaio.apply_recommendation, bounded and audited)."""
        return await answer(backend().apply_recommendation(recommendation_id))

    async def energy_dismiss_recommendation(
        recommendation_id: Annotated[str, Field(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        """Dismiss a recommendation; one dismissed repeatedly is not proposed again in the same form."""
        return await answer(backend().dismiss_recommendation(recommendation_id))

    async def energy_verified_savings() -> dict[str, Any]:
        """Savings measured after applied recommendations (against the forecast baseline)."""
        return await answer(backend().verified_savings())

    async def energy_savings_potential(
        days: Annotated[int, Field(ge=7, le=60, description="how many past days")] = 30,
    ) -> dict[str, Any]:
        """What the home battery would have saved over the last days: with EAIO's plans followed, with
        perfect foresight, and with the simple self-consumption rule (where EAIO helps and where it cannot)."""
        source = backend()
        if not isinstance(source, SavingsSource):
            raise ToolError("the savings report needs the agents, which are not running")
        return await answer(source.savings_potential(days))

    changes = (energy_run_optimization, energy_apply_recommendation, energy_dismiss_recommendation)
    for fn in (energy_status, energy_history, energy_forecast, energy_run_optimization,
               energy_list_recommendations, energy_apply_recommendation, energy_dismiss_recommendation,
               energy_verified_savings, energy_savings_potential):
        server.add_tool(fn, meta=meta, structured_output=False, annotations=CHANGES if fn in changes else READS)

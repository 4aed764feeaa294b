"""What the MCP servers call: the energy backend and Home Assistant's services (both as Protocols).

The servers hold no logic of their own: the energy tools ask an ``EnergyBackend`` (the running
add-on's agents implement it), the field-bus tools ask Home Assistant through ``HaServices``
(``HaLink`` satisfies it), so every device write goes through ``eaio.write_point`` and keeps the
integration's bounds and audit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
import time
from typing import Any, Protocol, runtime_checkable

from mcp_types import ToolAnnotations

from ..store import Store, StoreDb

MAX_HISTORY_HOURS = 24 * 90

# Hints for MCP clients (they may ask before a call that changes something).
READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)


@runtime_checkable
class EnergyBackend(Protocol):
    async def status(self) -> dict[str, Any]: ...
    async def history(self, entity_id: str, hours: int) -> dict[str, Any]: ...
    async def forecast(self, hours: int) -> dict[str, Any]: ...
    async def run_optimization(self) -> dict[str, Any]: ...
    async def recommendations(self) -> list[dict[str, Any]]: ...
    async def apply_recommendation(self, rec_id: str) -> dict[str, Any]: ...
    async def dismiss_recommendation(self, rec_id: str) -> dict[str, Any]: ...
    async def verified_savings(self) -> dict[str, Any]: ...


@runtime_checkable
class HaServices(Protocol):
    async def call(self, payload: dict[str, Any]) -> Any: ...
    async def call_service(self, domain: str, service: str, data: dict[str, Any] | None = None, *,
                           return_response: bool = False) -> Any: ...


class StoreEnergyBackend:
    """The energy backend before the agents provide theirs: answers from the store and the runtime.

    Applying and dismissing need the agents' outbox path to Home Assistant, so those say they are
    unavailable instead of acting some other way.
    """

    def __init__(self, store: Store, health: Callable[[], Awaitable[dict[str, Any]]],
                 optimize: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
        self._store = store
        self._health = health
        self._optimize = optimize

    async def status(self) -> dict[str, Any]:
        return {"health": await self._health(),
                "open_recommendations": len(await self._store.call(StoreDb.recommendations))}

    async def history(self, entity_id: str, hours: int) -> dict[str, Any]:
        if not 1 <= hours <= MAX_HISTORY_HOURS:
            raise ValueError(f"hours must be 1..{MAX_HISTORY_HOURS}")
        now = time.time()
        rows = await self._store.call(StoreDb.hourly, entity_id, now - hours * 3600, now, now)
        if not rows:
            known = [e.entity_id for e in await self._store.call(StoreDb.entities)]
            raise LookupError(f"no history for {entity_id}; the store has: {', '.join(known) or 'nothing yet'}")
        return {"entity_id": entity_id, "hours": [
            {"start": datetime.fromtimestamp(r.hour, UTC).isoformat(), "mean": r.mean, "min": r.minimum,
             "max": r.maximum, "delta": r.delta} for r in rows]}

    async def forecast(self, hours: int) -> dict[str, Any]:
        raise LookupError("no forecast: the agents are not running")

    async def run_optimization(self) -> dict[str, Any]:
        if self._optimize is None:
            raise LookupError("optimization is not available: the agents are not running")
        return await self._optimize()

    async def recommendations(self) -> list[dict[str, Any]]:
        recs: list[dict[str, Any]] = await self._store.call(StoreDb.recommendations)
        return recs

    async def apply_recommendation(self, rec_id: str) -> dict[str, Any]:
        raise LookupError("applying needs the agents, which are not running")

    async def dismiss_recommendation(self, rec_id: str) -> dict[str, Any]:
        raise LookupError("dismissing needs the agents, which are not running")

    async def verified_savings(self) -> dict[str, Any]:
        raise LookupError("verified savings need the agents, which are not running")

"""The plan executor: sets each controllable to its slot's value through the one guard."""

from __future__ import annotations

from typing import Any

from homeassistant.core import Context


class PlanExecutor:
    """Placeholder until the executor lands."""

    def controllable_for_key(self, key: str) -> Any:
        return None

    async def async_set_autopilot(self, key: str, on: bool, requester: str, context: Context | None) -> None:
        return None

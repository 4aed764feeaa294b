"""Agent memory in the real store: outcomes recorded, and a twice-dismissed form not proposed again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from eaio_addon.agents.memory import AgentMemory
from eaio_addon.store import Store
import pytest


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[AgentMemory]:
    store = await Store.open(tmp_path)
    yield AgentMemory(store)
    await store.close()


def rec(value: float = 23.0, target: str = "number.hvac_cooling_setpoint", rec_id: str = "hvac-precool") -> dict[str, Any]:
    return {"id": rec_id, "category": "hvac", "title": "Pre-cool", "target_entity": target,
            "proposed_value": value, "action": {"type": "none"}}


def event(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The data of Home Assistant's ``eaio_recommendation`` event, as the integration fires it."""
    return {"type": kind, "config_entry_id": "entry", **body}


async def test_twice_dismissed_is_suppressed_in_the_same_form_only(memory: AgentMemory) -> None:
    await memory.record("proposed", rec())
    assert await memory.on_ha_event(event("dismissed", rec())) == "dismissed"
    assert not await memory.suppressed(rec())  # once is not "repeatedly"
    assert await memory.on_ha_event(event("dismissed", rec(23.2, rec_id="hvac-precool-2"))) == "dismissed"
    assert await memory.suppressed(rec())
    assert await memory.suppressed(rec(22.8))  # within 0.5 °C: the same proposal to a person
    assert not await memory.suppressed(rec(21.0))  # a different value is a new proposal
    assert not await memory.suppressed(rec(target="number.bedroom_setpoint"))
    forms = await memory.dismissed_forms()
    assert [(f.target, n) for f, n in forms] == [("number.hvac_cooling_setpoint", 2)]


async def test_outcomes_and_verified_savings(memory: AgentMemory) -> None:
    await memory.record("proposed", rec())
    assert (await memory.outcomes("hvac-precool"))["state"] == "open"
    assert await memory.on_ha_event(event("new", rec())) is None  # not an outcome
    await memory.on_ha_event(event("applied", rec()))
    await memory.record("verified", rec(), saving_kwh=1.25)
    assert await memory.outcomes("hvac-precool") == {"state": "applied", "verified_savings_kwh": 1.25}
    assert await memory.verified_total() == {"recommendations": 1, "kwh": 1.25,
                                             "by_recommendation": {"hvac-precool": 1.25}}
    with pytest.raises(ValueError, match="unknown decision kind"):
        await memory.record("maybe", rec())

"""The whole workflow on a real store with a synthetic building, through the real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.data import DataAgent
from eaio_addon.agents.memory import AgentMemory
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import Location
from eaio_addon.agents.weather import WeatherAgent
from eaio_addon.options import parse_options
from eaio_addon.store import Store
import pytest

from tests.agents_site import LIGHT, LOCATION, SETPOINT, hour_now, open_filled

TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_filled(tmp_path / "data", hour_now())
    yield s
    await s.close()


class Sink:
    def __init__(self) -> None:
        self.batches: list[tuple[list[dict[str, Any]], bool]] = []

    async def submit(self, recs: Sequence[dict[str, Any]], replace: bool) -> None:
        self.batches.append((list(recs), replace))

    async def open_recs(self) -> list[dict[str, Any]]:
        return self.batches[-1][0] if self.batches else []


def make(store: Store, sink: Sink, **kwargs: Any) -> Orchestrator:
    bus = EventBus()

    async def locate() -> Location:
        return LOCATION

    options = parse_options({"tariff": TARIFF, "comfort_min": 22.0, "comfort_max": 25.0})
    return Orchestrator(bus, options, data=DataAgent(bus, store), weather=WeatherAgent(bus, store),
                        memory=AgentMemory(store), submit=sink.submit, open_recommendations=sink.open_recs,
                        locate=locate, **kwargs)


async def test_a_run_produces_recommendations_from_the_engine(store: Store) -> None:
    sink = Sink()
    orch = make(store, sink)
    await orch.start()
    result = await orch.run("test")
    await orch.stop()
    import json; print(json.dumps(result.recommendations, indent=1))
    assert result.status == "ok", result.errors
    assert result.missing == []
    ids = {r["id"]: r for r in result.recommendations}
    assert sink.batches and sink.batches[0][1] is True
    assert any(r["category"] == "load" for r in ids.values())

"""One optimization run of the agents, end to end, and where its time goes.

A synthetic building (``addon/tests/agents_site.py``: house load, HVAC zone, light and
occupancy, ``--days`` days of hourly states) in a real store; the orchestrator runs the whole
workflow (data + weather → analysis → forecast → hvac, lighting, load → strategy → submit, and
the savings check) through the real engine. Reported: the median and worst wall time of
``--runs`` runs, the median time per step (from each agent's health), and whether the event
loop stayed free: the longest gap between ticks of a 10 ms heartbeat task during the runs.

    PYTHONPATH=addon .venv-addon/bin/python benchmarks/agents_workflow.py --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
import statistics
import tempfile
import time
from typing import Any

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.data import DataAgent
from eaio_addon.agents.memory import AgentMemory
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import Location
from eaio_addon.agents.weather import WeatherAgent
from eaio_addon.options import parse_options
from tests.agents_site import LOCATION, hour_now, open_filled

TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]


async def main(runs: int, days: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_filled(Path(tmp), hour_now(), days=days)
        bus = EventBus()

        async def submit(recs: Sequence[dict[str, Any]], replace: bool) -> None:
            return None

        async def open_recs() -> list[dict[str, Any]]:
            return []

        async def locate() -> Location:
            return LOCATION

        orch = Orchestrator(bus, parse_options({"tariff": TARIFF, "comfort_min": 22.0, "comfort_max": 25.0}),
                            data=DataAgent(bus, store), weather=WeatherAgent(bus, store), memory=AgentMemory(store),
                            submit=submit, open_recommendations=open_recs, locate=locate)
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last - 0.01)
                last = now

        beat = asyncio.create_task(heartbeat())
        walls: list[float] = []
        steps: dict[str, list[float]] = {}
        statuses = set()
        for _ in range(runs):
            started = time.perf_counter()
            result = await orch.run("benchmark")
            walls.append(time.perf_counter() - started)
            statuses.add((result.status, len(result.recommendations)))
            for name, health in orch.health().items():
                if health["last_run_s"] is not None:
                    steps.setdefault(name, []).append(health["last_run_s"])
        stop.set()
        await beat
        await store.close()
    print(f"{runs} runs on {days} days of history: status/recommendations {sorted(statuses)}")
    print(f"wall time: median {statistics.median(walls) * 1000:.0f} ms, worst {max(walls) * 1000:.0f} ms")
    for name, values in steps.items():
        print(f"  {name:9s} median {statistics.median(values) * 1000:7.1f} ms")
    print(f"event loop: longest heartbeat delay {max(gaps) * 1000:.1f} ms over {len(gaps)} ticks")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--days", type=int, default=28)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.days))

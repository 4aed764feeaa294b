"""The analysis agent on a real store: an anomaly found by the engine is announced once, and it triggers a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from eaio_addon.agents.analysis import AnalysisAgent
from eaio_addon.agents.bus import Event, EventBus
from eaio_addon.agents.data import DataAgent
import pytest

from tests.agents_site import open_filled

# An injected hour, not the wall clock's: the building's HVAC load follows the hour of day, and the
# engine's excess against last week drifted past the tolerance for some afternoon hours.
NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)


async def test_an_anomaly_is_announced_once(tmp_path: Path) -> None:
    store = await open_filled(tmp_path, NOW, last_hours_kw=2.0)
    try:
        bus = EventBus()
        heard: list[Event] = []

        async def listen(event: Event) -> None:
            heard.append(event)

        bus.subscribe("anomaly", listen)
        site = await DataAgent(bus, store).collect(NOW)
        agent = AnalysisAgent(bus)
        result = await agent.analyse(site, "UTC", 0.25)
        high = [e for e in result["anomalies"].events if e.direction == "high"]
        assert len(high) == 1 and high[0].hours == 6
        # Against the same hours a week ago (seasonal naive): the 2 kW left running plus the week's +0.3 kW.
        assert high[0].energy_excess_kwh == pytest.approx((2.0 + 0.3) * 6, abs=0.05)
        assert [e.data["hours"] for e in heard] == [6] and heard[0].source == "analysis"
        assert heard[0].data["excess_kwh"] == pytest.approx(13.8, abs=0.05)
        await agent.analyse(site, "UTC", 0.25)  # the same anomaly again: no second announcement
        assert len(heard) == 1
        # Base load and always-on waste come from the engine too: the last week's +0.3 kW.
        assert result["waste"].excess_kw == pytest.approx(0.3, abs=0.02)
        assert result["base_load"].kw == pytest.approx(0.4, abs=0.05)
    finally:
        await store.close()

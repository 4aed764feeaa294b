"""What a person reads is in Home Assistant's time zone and currency (issue 12): Europe/Berlin and euros here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
import re
from zoneinfo import ZoneInfo

from eaio_addon.agents.bus import EventBus
from eaio_addon.agents.candidate import Candidate
from eaio_addon.agents.data import DataAgent
from eaio_addon.agents.explain import TemplateExplainer, template_text
from eaio_addon.agents.memory import AgentMemory
from eaio_addon.agents.orchestrator import Orchestrator
from eaio_addon.agents.site import Location
from eaio_addon.agents.strategy import StrategyAgent, to_recommendation
from eaio_addon.agents.weather import WeatherAgent
from eaio_addon.options import parse_options
from eaio_addon.store import DB_FILE, Store, StoreDb
from eaio_addon.wording import clock, money, per_kwh, span
import pytest

from tests.agents_site import TARIFF, Sink, fill, hour_now

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 6, 13, 30, tzinfo=UTC)  # 14:30 in Berlin (CET, UTC+1)


def test_times_read_in_the_zone_with_the_day_when_it_is_not_today() -> None:
    assert clock(datetime(2026, 12, 6, 14, tzinfo=UTC), "Europe/Berlin", NOW) == "15:00"
    assert clock(datetime(2026, 12, 6, 23, tzinfo=UTC), "Europe/Berlin", NOW) == "tomorrow 00:00"  # midnight there
    assert clock(datetime(2026, 12, 7, 14, tzinfo=UTC), BERLIN, NOW) == "tomorrow 15:00"
    assert clock(datetime(2026, 12, 8, 14, tzinfo=UTC), BERLIN, NOW) == "Tue 15:00"
    # 23:30 UTC is already the 7th in Berlin: "today" is the zone's, not UTC's.
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert clock(datetime(2026, 12, 7, 6, tzinfo=UTC), BERLIN, late) == "07:00"
    # Summer time: 14:00 UTC is 16:00 in Berlin (CEST, UTC+2).
    summer = datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert clock(datetime(2026, 7, 1, 14, tzinfo=UTC), BERLIN, summer) == "16:00"
    assert span(datetime(2026, 12, 7, 7, tzinfo=UTC), datetime(2026, 12, 7, 16, tzinfo=UTC), BERLIN, NOW) == \
        "tomorrow 08:00-17:00"
    assert clock(datetime(2026, 12, 6, 14, tzinfo=UTC), "Not/AZone", NOW) == "14:00"  # unknown: UTC, not a crash


def test_money_carries_the_currency() -> None:
    assert money(0.613, "EUR") == "0.61 EUR" and money(2.0, "") == "2.00"
    assert per_kwh("EUR") == "EUR/kWh" and per_kwh("") == "per kWh"


def _candidate(**extra: object) -> Candidate:
    base: dict[str, object] = {"category": "load", "key": "always-on", "title": "Cut always-on load by 0.30 kW",
                               "action": {"type": "none"}, "kwh_per_day": 7.2, "money_per_day": 2.01,
                               "confidence": 0.6, "method": "base_load_excess"}
    return Candidate(**{**base, **extra})  # type: ignore[arg-type]


def test_the_template_names_the_currency() -> None:
    text = template_text(_candidate(), "EUR")
    assert "7.20 kWh and 2.01 EUR a day" in text
    assert "2.01 EUR a day" in template_text(_candidate(kwh_per_day=0.0), "EUR")


async def test_the_strategy_words_money_in_the_candidates_currency(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    try:
        strategy = StrategyAgent(EventBus(), AgentMemory(store), TemplateExplainer())
        decided = await strategy.decide([_candidate(facts={"currency": "EUR"})], [])
        assert "2.01 EUR a day" in decided.recommendations[0]["description"]
        told = await strategy.decide([_candidate()], [], currency="CHF")
        assert "2.01 CHF a day" in told.recommendations[0]["description"]
    finally:
        await store.close()


def test_a_meter_gets_no_proposed_value() -> None:
    meter = to_recommendation(_candidate(target_entity="sensor.import_energy", proposed_value=0.3), "")
    assert meter["proposed_value"] is None and meter["target_entity"] == "sensor.import_energy"
    setpoint = to_recommendation(_candidate(category="hvac", target_entity="number.zone_setpoint",
                                            proposed_value=24.5, title="Pre-cool to 24.5 °C from 15:00"), "")
    assert setpoint["proposed_value"] == 24.5 and "°C" in setpoint["title"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = StoreDb(tmp_path / DB_FILE)
    fill(db, hour_now())
    db.close()
    opened = await Store.open(tmp_path)
    yield opened
    await opened.close()


async def test_a_run_in_berlin_says_its_times_in_berlin_and_its_money_in_euros(store: Store) -> None:
    bus, sink = EventBus(), Sink()

    async def locate() -> Location:  # Home Assistant set to Europe/Berlin and euros
        return Location(0.0, 0.0, "Europe/Berlin", "EUR")

    orch = Orchestrator(bus, parse_options({"tariff": TARIFF, "comfort_min": 22.0, "comfort_max": 25.0}),
                        data=DataAgent(bus, store), weather=WeatherAgent(bus, store), memory=AgentMemory(store),
                        submit=sink.submit, open_recommendations=sink.open_recs, locate=locate)
    await orch.start()
    result = await orch.run("test")
    await orch.stop()
    assert result.status == "ok", result.errors
    recs = {r["category"]: r for r in result.recommendations}
    hvac = recs["hvac"]
    found = re.fullmatch(r"Pre-(cool|heat) to [\d.]+ °C from (tomorrow )?(\d\d:\d\d)", hvac["title"])
    assert found, hvac["title"]
    # The title's time is the one the engine's reasons give in Berlin time (they said 16:00 while the
    # title said 15:00 before), and "tomorrow" exactly when that day is tomorrow in Berlin.
    shift = re.search(r"Pre-(?:cool|heat) to [\d.]+ °C (\w{3}) (\d\d:\d\d)-", hvac["description"])
    assert shift and shift.group(2) == found.group(3), (hvac["title"], hvac["description"])
    started = datetime.fromtimestamp(result.started_at, UTC)
    tomorrow = (started.astimezone(BERLIN) + timedelta(days=1)).strftime("%a")
    assert (found.group(2) is not None) == (shift.group(1) == tomorrow)
    for rec in result.recommendations:
        if rec["estimated_savings_per_day"] > 0:
            assert "EUR a day" in rec["description"], rec["description"]

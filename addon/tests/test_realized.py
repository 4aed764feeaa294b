"""Realized savings of what the executor carried out: the battery metered against the counterfactual without
its measured power, appliances and the car priced against their window's start, in /api/health's verified
savings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from typing import Any

from eaio_addon.agents.feedback import Feedback
from eaio_addon.agents.realized import battery_realized, executed_hours, shift_realized, total
from eaio_addon.agents.savings import verify_plans
from eaio_addon.agents.site import SiteData
from eaio_addon.agents.swarm import verified_savings
from eaio_addon.engine.series import HourlySeries
from eaio_addon.ha_link import HaLink
from eaio_addon.options import parse_options
import numpy as np
import pytest

from tests.fake_ha import FakeHomeAssistant

T0 = datetime(2026, 12, 6, 16, tzinfo=UTC)  # 16:00 UTC: the peak of the tariff below (UTC site)
TARIFF = [{"start": "00:00", "price": 0.20}, {"start": "16:00", "price": 0.50}, {"start": "21:00", "price": 0.20}]
HOUR = timedelta(hours=1)


def _price(at: datetime) -> float:
    return 0.50 if 16 <= at.hour < 21 else 0.20


def test_a_discharge_in_the_peak_saves_what_it_covered() -> None:
    # 10 kWh battery, efficiencies 0.95: 60 % -> 40 % over the hour is 2 kWh out of the cells, 1.9 kWh AC.
    soc = [(T0.timestamp(), 60.0), ((T0 + HOUR).timestamp(), 40.0)]
    found = battery_realized([T0], soc, lambda t: 2.5, lambda t: 0.0, _price, 10.0, 0.95, 0.95, T0 + HOUR)
    assert found is not None and found.hours == 1
    assert found.kwh == pytest.approx(1.9)  # import avoided
    assert found.saving == pytest.approx(1.9 * 0.50)
    # The band: two readings known to half a percent each, independent hours.
    assert found.band == pytest.approx(1.645 * 0.50 * 0.1 / math.sqrt(6) / 0.95)
    # A discharge larger than the load is exported for nothing: only the load is saved.
    small = battery_realized([T0], soc, lambda t: 1.0, lambda t: 0.0, _price, 10.0, 0.95, 0.95, T0 + HOUR)
    assert small is not None and small.saving == pytest.approx(1.0 * 0.50)
    # An hour the readings do not reach the end of is not counted (a state holds until the next one, so the
    # same readings count it once they cover it).
    assert battery_realized([T0 + HOUR], soc, lambda t: 1.0, lambda t: 0.0, _price, 10.0, 0.95, 0.95, T0 + HOUR) is None
    idle = battery_realized([T0 + HOUR], soc, lambda t: 1.0, lambda t: 0.0, _price, 10.0, 0.95, 0.95, T0 + 2 * HOUR)
    assert idle is not None and idle.saving == 0.0 and idle.hours == 1


def test_charging_from_the_grid_costs_what_it_drew() -> None:
    cheap = T0 - 4 * HOUR
    soc = [(cheap.timestamp(), 20.0), ((cheap + HOUR).timestamp(), 39.0)]
    found = battery_realized([cheap], soc, lambda t: 0.5, lambda t: 0.0, _price, 10.0, 0.95, 0.95, T0)
    assert found is not None and found.kwh == pytest.approx(-2.0) and found.saving == pytest.approx(-2.0 * 0.20)


def test_an_appliance_run_later_is_priced_against_its_window_start() -> None:
    ran = {T0 + 5 * HOUR: 1.2, T0 + 6 * HOUR: 1.2}  # 21:00 and 22:00 at 0.20, not 16:00 and 17:00 at 0.50
    found = shift_realized("dishwasher", ran, lambda t: T0, _price)
    assert found is not None and found.saving == pytest.approx(2 * 1.2 * 0.30) and found.band == 0.0
    assert total([found])["saving"] == pytest.approx(0.72)


def test_only_what_was_carried_out_counts() -> None:
    executions = [
        {"key": "battery", "slot_start": T0.isoformat(), "value": None, "commanded": None, "outcome": "set",
         "dry_run": False},
        {"key": "battery", "slot_start": (T0 + HOUR).isoformat(), "value": 2.0, "commanded": 2.0,
         "outcome": "dry_run", "dry_run": True},
        {"key": "battery", "slot_start": (T0 + 2 * HOUR).isoformat(), "value": 2.0, "commanded": None,
         "outcome": "paused", "dry_run": False},
        {"key": "car", "slot_start": T0.isoformat(), "value": 7.0, "commanded": 7.0, "outcome": "set",
         "dry_run": False},
    ]
    assert executed_hours(executions, "battery") == {T0: None}
    assert executed_hours(executions, "car") == {T0: 7.0}


# --- from the integration's record, over the link -------------------------------------------------------


async def test_verified_savings_per_controllable_and_in_total(ha: FakeHomeAssistant, link: HaLink) -> None:
    options = parse_options({"tariff": TARIFF, "battery": {"capacity_kwh": 10, "max_power_kw": 3,
                                                           "round_trip_efficiency": 90},
                             "deferrable_loads": [{"name": "Dishwasher", "power_kw": 1.2, "run_hours": 2,
                                                   "earliest": "16:00", "latest": "23:00"}]})
    asked: list[dict[str, Any]] = []

    def executions(msg: dict[str, Any]) -> list[dict[str, Any]]:
        asked.append(msg)
        rows = [{"plan_id": "p", "key": "battery", "slot_start": (T0 + k * HOUR).isoformat(), "value": None,
                 "commanded": None, "dry_run": False, "outcome": "set", "at": (T0 + k * HOUR).isoformat()}
                for k in range(2)]
        rows += [{"plan_id": "p", "key": "dishwasher", "slot_start": (T0 + k * HOUR).isoformat(), "value": True,
                  "commanded": True, "dry_run": False, "outcome": "set", "at": ""} for k in (5, 6)]
        return rows

    ha.commands["eaio/plan/executions"] = executions
    ha.commands["eaio/controllables"] = lambda msg: [{"plan_key": "battery", "feedback_entity": "sensor.soc"}]
    ha.history["sensor.soc"] = [(T0.timestamp() + 60, "80"), ((T0 + HOUR).timestamp() + 60, "60"),
                                ((T0 + 2 * HOUR).timestamp() + 60, "45")]
    load = HourlySeries(T0 - 24 * HOUR, np.full(48, 2.0))
    site = SiteData(T0, series={"load": load})
    now = T0 + 8 * HOUR
    # The readings come a minute after each hour: the SoC at 17:00 is the one of 16:01 (a sensor's lag).
    result = await verify_plans(Feedback(link), site, options, now, "UTC")
    assert asked and datetime.fromisoformat(asked[0]["since"]) == now - timedelta(days=30)
    assert result is not None
    battery = result["by_controllable"]["battery"]
    assert battery["hours"] == 1  # 16:00 has no reading at its start (the first comes at 16:01)
    eff = math.sqrt(0.9)
    assert battery["kwh"] == pytest.approx(min(2.0, 2.0 * eff), abs=1e-3)  # 80 -> 60 % of 10 kWh covers the load
    assert battery["saving"] == pytest.approx(battery["kwh"] * 0.50, abs=1e-3) and battery["band"] > 0
    dish = result["by_controllable"]["dishwasher"]
    assert dish["saving"] == pytest.approx(2 * 1.2 * 0.30, abs=1e-3) and dish["band"] == 0.0
    assert result["total"]["saving"] == pytest.approx(battery["saving"] + dish["saving"], abs=2e-3)
    # /api/health: "Verified energy savings" counts both; the plan's part with its band under "plan".
    health = verified_savings({"recommendations": 1, "kwh": 3.0, "by_recommendation": {"r": 3.0}}, result)
    assert health is not None and health["kwh"] == pytest.approx(3.0 + result["total"]["kwh"], abs=1e-3)
    assert health["plan"] is result and health["by_recommendation"] == {"r": 3.0}
    assert verified_savings(None, None) is None


async def test_an_integration_that_keeps_no_record_reports_nothing(link: HaLink) -> None:
    options = parse_options({"tariff": TARIFF, "battery": {"capacity_kwh": 10, "max_power_kw": 3}})
    assert await verify_plans(Feedback(link), None, options, T0, "UTC") is None  # unknown_command: no error


def test_the_add_on_page_shows_them() -> None:
    from eaio_addon.agents.plots import realized_rows
    from eaio_addon.ingress_page import render_page

    plan = {"days": 30, "notes": [], "total": {"saving": 1.25, "band": 0.1, "kwh": 2.5, "hours": 3},
            "by_controllable": {"battery": {"saving": 1.25, "band": 0.1, "kwh": 2.5, "hours": 3, "method": "m"}}}
    rows = realized_rows({"kwh": 2.5, "plan": plan}, "EUR")
    assert rows[0] == ("battery", "1.25 EUR ± 0.10 EUR, 2.50 kWh of import avoided, 3 h")
    assert rows[-1][0] == "Total, last 30 days"
    assert "nothing yet" in realized_rows(None)[0][1]
    page = render_page({"health": {"status": "ok", "verified_savings": {"plan": plan}}, "currency": "EUR"})
    assert "<h2>Realized savings</h2>" in page and "1.25 EUR ± 0.10 EUR" in page

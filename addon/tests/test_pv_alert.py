"""The PV alert: a dead array in the site's history becomes a recommendation with the engine's
evidence; a working one raises nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eaio_addon.agents.pv_alert import KEY, pv_alert
from eaio_addon.agents.site import Location, RunContext, SiteData
from eaio_addon.engine.pv import clear_sky_ghi
from eaio_addon.engine.series import HourlySeries
from eaio_addon.options import parse_options
import numpy as np

WHERE = Location(34.1, -117.4, "America/Los_Angeles", "USD")
START = datetime(2024, 5, 1, 8, tzinfo=UTC)
DAYS = 40


def _context(dead_days: int) -> RunContext:
    cs = clear_sky_ghi(START, DAYS * 24, WHERE.latitude, WHERE.longitude).values
    pv = 3.0 * cs / 1000.0
    if dead_days:
        pv[-dead_days * 24 :] *= 0.03
    now = START + timedelta(days=DAYS)
    site = SiteData(now, {"pv": HourlySeries(START, pv)}, {"pv": "sensor.solar_power"})
    ctx = RunContext("r", parse_options({}), now, tz=WHERE.tz, location=WHERE, site=site)
    ctx.price = HourlySeries(now, np.full(48, 0.3))
    return ctx


def test_a_dead_array_raises_a_recommendation_with_evidence() -> None:
    candidate = pv_alert(_context(dead_days=8))
    assert candidate is not None
    assert candidate.key == KEY and candidate.category == "load" and candidate.action == {"type": "none"}
    assert candidate.reasons[0] == "PV produced 3% of expected over 8 days"
    assert "3%" in candidate.title and "since 2024-06-02" in candidate.title  # in the home's zone
    assert candidate.target_entity == "sensor.solar_power"
    # The energy it is missing a day, priced at what the home buys instead.
    assert candidate.kwh_per_day > 10.0
    assert abs(candidate.money_per_day - 0.3 * candidate.kwh_per_day) < 0.01


def test_a_working_array_raises_nothing() -> None:
    assert pv_alert(_context(dead_days=0)) is None


def test_no_pv_or_no_location_raises_nothing() -> None:
    ctx = _context(dead_days=8)
    ctx.location = None
    assert pv_alert(ctx) is None
    assert pv_alert(RunContext("r", parse_options({}), START)) is None

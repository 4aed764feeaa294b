"""The savings the owner could have: the battery over a past period with EAIO's plans followed,
with perfect foresight and with the self-consumption rule, from the same measured hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eaio_addon.engine.optimize import Battery
from eaio_addon.engine.optimize.potential import savings_potential
from eaio_addon.engine.series import HourlySeries
import numpy as np
import pytest

START = datetime(2025, 3, 3, tzinfo=UTC)
BEFORE = START - timedelta(days=8)
DAYS = 10
HOURS = (DAYS + 8 + 3) * 24
HOUR_OF_DAY = np.arange(HOURS) % 24


def _home(noise: float = 0.0, seed: int = 0) -> tuple[HourlySeries, HourlySeries, HourlySeries]:
    rng = np.random.default_rng(seed)
    load = 0.5 + 1.5 * ((HOUR_OF_DAY >= 17) & (HOUR_OF_DAY < 22)) + noise * rng.random(HOURS)
    pv = np.clip(3.0 * np.sin(np.pi * (HOUR_OF_DAY - 6) / 12), 0.0, None)
    price = np.where((HOUR_OF_DAY >= 16) & (HOUR_OF_DAY < 21), 0.5, 0.2)
    return HourlySeries(BEFORE, load), HourlySeries(BEFORE, pv), HourlySeries(BEFORE, price)


def _battery() -> Battery:
    return Battery.with_round_trip(6.0, 3.0, 0.9)


def test_exact_forecasts_follow_perfect_foresight_and_beat_the_rule() -> None:
    load, pv, price = _home()
    report = savings_potential(load, pv, price, _battery(), start=START, days=DAYS, tz=UTC, issued_load=load)
    assert report.cost_without > 0 and report.days == DAYS
    pf, followed, rule = report.perfect_foresight, report.plan_followed, report.simple_rule
    assert followed.saving == pytest.approx(pf.saving, rel=1e-6)  # same forecasts as the future: same plans
    assert pf.saving >= rule.saving - 1e-9 and rule.saving > 0
    assert report.share_of_perfect == pytest.approx(1.0, rel=1e-6)
    assert report.notes == ()


def test_without_issued_forecasts_the_plan_uses_last_week_and_says_so() -> None:
    load, pv, price = _home(noise=1.0, seed=3)
    report = savings_potential(load, pv, price, _battery(), start=START, days=DAYS, tz=UTC)
    assert any("a week earlier" in n for n in report.notes)
    assert report.plan_followed.saving <= report.perfect_foresight.saving + 1e-6
    assert report.plan_followed.saving > 0.5 * report.perfect_foresight.saving


def test_missing_load_is_refused_with_what_is_missing() -> None:
    load, pv, price = _home()
    values = load.values.copy()
    values[: 20 * 24] = np.nan  # the period and the week before it
    with pytest.raises(ValueError, match="hours missing"):
        savings_potential(HourlySeries(BEFORE, values), pv, price, _battery(), start=START, days=DAYS, tz=UTC)

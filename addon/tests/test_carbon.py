"""The grid's carbon intensity for the plan: the unit conversion and the last day repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eaio_addon.engine.carbon import kg_per_kwh_factor, last_day_repeated
from eaio_addon.engine.series import HourlySeries
import numpy as np
import pytest

START = datetime(2026, 3, 10, 5, tzinfo=UTC)


def test_units_convert_to_kg_per_kwh() -> None:
    assert kg_per_kwh_factor("gCO2eq/kWh") == 1e-3
    assert kg_per_kwh_factor("g/kWh") == 1e-3
    assert kg_per_kwh_factor("kg/kWh") == 1.0
    assert kg_per_kwh_factor(" gCO₂eq/kWh") == 1e-3  # as some sensors spell it
    for other in ("lb/MWh", "%", "W", "", None):
        assert kg_per_kwh_factor(other) is None


def test_the_last_day_is_repeated_from_the_plans_start() -> None:
    # Three days of history; the last day is 100 + hour index, earlier days something else.
    first = START - timedelta(days=3)
    values = np.full(72, 999.0)
    values[48:] = 100.0 + np.arange(24)
    forecast = last_day_repeated(HourlySeries(first, values), START, 48)
    assert forecast is not None and forecast.start == START and len(forecast) == 48
    # Hour k of the plan is the same hour a day before it.
    assert list(forecast.values[:24]) == list(100.0 + np.arange(24))
    assert list(forecast.values[24:]) == list(100.0 + np.arange(24))


def test_hours_without_a_reading_keep_the_value_before_them() -> None:
    values = np.full(30, np.nan)
    values[0] = 300.0  # before the last day: carried into its first hours
    values[10] = 200.0
    values[20] = -5.0  # no intensity: missing, the 200 goes on
    forecast = last_day_repeated(HourlySeries(START - timedelta(hours=30), values), START, 24)
    assert forecast is not None
    assert list(forecast.values[:4]) == [300.0] * 4  # hours -24..-21 (history index 6..9)
    assert list(forecast.values[4:]) == [200.0] * 20


def test_less_than_a_day_gives_no_forecast() -> None:
    short = HourlySeries(START - timedelta(hours=23), np.full(23, 250.0))
    assert last_day_repeated(short, START, 48) is None
    gap = np.full(24, 250.0)
    gap[:3] = np.nan  # the day before starts unknown
    assert last_day_repeated(HourlySeries(START - timedelta(hours=24), gap), START, 48) is None
    assert last_day_repeated(HourlySeries(START - timedelta(hours=24), np.full(24, np.nan)), START, 48) is None
    whole = last_day_repeated(HourlySeries(START - timedelta(hours=24), np.full(24, 250.0)), START, 3)
    assert whole is not None and list(whole.values) == [250.0] * 3
    with pytest.raises(ValueError):
        last_day_repeated(short, START, 0)


def test_history_ending_early_is_carried_to_the_start() -> None:
    # The sensor's last row is six hours before the plan: it has held its state since.
    values = 100.0 + np.arange(30, dtype=np.float64)
    forecast = last_day_repeated(HourlySeries(START - timedelta(hours=36), values), START, 24)
    assert forecast is not None
    assert list(forecast.values[:18]) == list(100.0 + np.arange(12, 30))
    assert list(forecast.values[18:]) == [129.0] * 6

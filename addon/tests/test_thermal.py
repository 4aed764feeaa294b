"""Thermal model identification: recovers known RC parameters, refuses bad data clearly."""

from __future__ import annotations

from datetime import UTC, datetime
import math

from eaio_addon.engine.series import HourlySeries
from eaio_addon.engine.thermal import ThermalFitError, ThermalModel, fit_thermal_model
import numpy as np
import pytest

TRUE = {"a": 0.85, "b_out": 0.15, "b_solar": 0.002, "b_hvac": -0.6, "c": 0.3}


def simulate_zone(days: int = 30, seed: int = 1, noise: float = 0.1, **params: float) -> dict[str, np.ndarray]:
    p = {**TRUE, **params}
    rng = np.random.default_rng(seed)
    n = 24 * days
    k = np.arange(n)
    outdoor = 25 + 6 * np.sin((k % 24 - 9) / 24 * 2 * np.pi) + np.cumsum(rng.normal(0, 0.05, n))
    solar = np.clip(900 * np.sin((k % 24 - 6) / 12 * np.pi), 0, None) * rng.uniform(0.5, 1, n)
    power = rng.choice([0.0, 1.5, 3.0], n)
    temp = np.empty(n)
    temp[0] = 24.0
    for i in range(n - 1):
        temp[i + 1] = (
            p["a"] * temp[i] + p["b_out"] * outdoor[i] + p["b_solar"] * solar[i] + p["b_hvac"] * power[i] + p["c"]
            + rng.normal(0, noise)
        )  # fmt: skip
    return {"indoor": temp + rng.normal(0, 0.02, n), "outdoor": outdoor, "solar": solar, "power": power}


def test_recovers_known_rc_parameters_from_noisy_data() -> None:
    d = simulate_zone()
    model = fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], d["power"])
    assert model.a == pytest.approx(TRUE["a"], abs=0.01)
    assert model.b_out == pytest.approx(TRUE["b_out"], abs=0.01)
    assert model.b_solar == pytest.approx(TRUE["b_solar"], rel=0.05)
    assert model.b_hvac == pytest.approx(TRUE["b_hvac"], rel=0.03)
    true_tau = -1 / math.log(TRUE["a"])
    assert model.time_constant_h == pytest.approx(true_tau, rel=0.05)
    assert model.ua_kw_per_k == pytest.approx((1 - TRUE["a"]) / 0.6, rel=0.05)
    assert model.mode == "cooling"
    assert model.outdoor_gain == pytest.approx(1.0, abs=0.1)
    q = model.quality
    assert q is not None
    assert q.samples == 24 * 30 - 1
    assert q.rmse_one_step == pytest.approx(0.1, abs=0.02)  # the process noise
    assert q.r2_one_step > 0.99 and q.r2_change > 0.95
    assert q.rmse_24h < 0.5 and q.rmse_simulation < 0.5
    assert "time constant" in model.describe()


def test_series_with_gaps_and_state_input() -> None:
    d = simulate_zone(seed=2)
    indoor = d["indoor"].copy()
    indoor[100:110] = np.nan  # a sensor outage: transitions touching it are skipped
    start = datetime(2026, 7, 1, tzinfo=UTC)
    state = d["power"] / 3.0
    model = fit_thermal_model(
        HourlySeries(start, indoor),
        HourlySeries(start, d["outdoor"]),
        HourlySeries(start, d["solar"]),
        hvac_state=HourlySeries(start, state),
        rated_kw=3.0,
    )
    assert model.b_hvac == pytest.approx(TRUE["b_hvac"], rel=0.03)
    assert model.quality is not None and model.quality.samples == 24 * 30 - 1 - 11


def test_simulate_follows_the_difference_equation() -> None:
    m = ThermalModel(a=0.9, b_out=0.1, b_solar=0.001, b_hvac=-0.5, c=0.2)
    out, sun, hv = np.array([30.0, 31.0]), np.array([0.0, 500.0]), np.array([2.0, 0.0])
    temps = m.simulate(25.0, out, sun, hv)
    first = 0.9 * 25 + 0.1 * 30 + 0 - 1.0 + 0.2
    assert temps[0] == 25.0
    assert temps[1] == pytest.approx(first)
    assert temps[2] == pytest.approx(0.9 * first + 3.1 + 0.5 + 0.2)


def test_refuses_too_little_data() -> None:
    d = simulate_zone(days=2)
    with pytest.raises(ThermalFitError) as err:
        fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], d["power"])
    assert err.value.code == "insufficient_data"
    assert "47 usable" in err.value.message


def test_refuses_hvac_that_never_changes() -> None:
    d = simulate_zone()
    with pytest.raises(ThermalFitError) as err:
        fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], np.full(d["power"].shape, 2.0))
    assert err.value.code == "no_variation"


def test_refuses_hvac_without_effect() -> None:
    d = simulate_zone(b_hvac=0.0)
    with pytest.raises(ThermalFitError) as err:
        fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], d["power"])
    assert err.value.code == "hvac_effect_not_identified"


def test_refuses_unstable_decay() -> None:
    # A zone that runs away from outdoor temperature (a > 1): not a thermal mass.
    d = simulate_zone(days=10, a=1.02, b_out=0.0, c=-0.3, noise=0.05)
    with pytest.raises(ThermalFitError) as err:
        fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], d["power"], max_rmse_24h=1e9)
    assert err.value.code == "decay_out_of_range"


def test_refuses_negative_outdoor_gain() -> None:
    d = simulate_zone(b_out=-0.1, c=5.0)
    with pytest.raises(ThermalFitError) as err:
        fit_thermal_model(d["indoor"], d["outdoor"], d["solar"], d["power"])
    assert err.value.code == "outdoor_gain_negative"


def test_model_refuses_unphysical_parameters_directly() -> None:
    with pytest.raises(ValueError, match="outside"):
        ThermalModel(a=1.1, b_out=0.1, b_solar=0.0, b_hvac=-0.5, c=0.0)
    with pytest.raises(ValueError, match="no effect"):
        ThermalModel(a=0.9, b_out=0.1, b_solar=0.0, b_hvac=0.0, c=0.0)

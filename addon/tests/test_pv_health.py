"""PV health: a dead or heavily shaded array is told from bad weather, its evidence is stated,
and the forecaster falls back to the measured output instead of what the array used to make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eaio_addon.engine.pv import PvForecaster, clear_sky_ghi
from eaio_addon.engine.pv_health import OK, UNDERPERFORMING, UNKNOWN, assess
from eaio_addon.engine.series import FloatArray, HourlySeries
import numpy as np

LAT, LON = 34.1, -117.4
START = datetime(2024, 4, 1, 8, tzinfo=UTC)  # local solar midnight is about 07:50 UTC
DAYS = 60


def _sky(seed: int) -> tuple[FloatArray, FloatArray]:
    """Clear-sky irradiance and a measured one with a random cloudiness per day (some overcast)."""
    cs = clear_sky_ghi(START, DAYS * 24, LAT, LON).values
    rng = np.random.default_rng(seed)
    clearness = np.repeat(rng.choice([0.15, 0.5, 0.8, 0.95], size=DAYS, p=[0.15, 0.2, 0.3, 0.35]), 24)
    return cs, cs * clearness


def _array(kw: float, ghi: FloatArray, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    noise = (1.0 + 0.05 * rng.standard_normal(ghi.size)).clip(0.8, 1.2)
    return np.asarray(kw * 0.8 * ghi / 1000.0 * noise, dtype=np.float64)


def test_a_healthy_array_under_changing_weather_is_ok() -> None:
    cs, ghi = _sky(1)
    pv = HourlySeries(START, _array(4.0, ghi, 2))
    with_sun = assess(pv, cs, LON, irradiance=HourlySeries(START, ghi))
    assert with_sun.status == OK and with_sun.share is not None and 0.6 < with_sun.share <= 1.1
    assert with_sun.reference == "own_history"
    blind = assess(pv, cs, LON)  # no measured sun: clear sky is the yardstick
    assert blind.status == OK


def test_an_array_that_dies_is_reported_with_its_evidence_within_a_week() -> None:
    cs, ghi = _sky(3)
    values = _array(4.0, ghi, 4)
    dead_from = 40  # day the inverter trips: 2 % of the output from then on
    values[dead_from * 24 :] *= 0.02
    detected: dict[str, int] = {}
    for day in range(dead_from, DAYS):
        hours = (day + 1) * 24
        pv = HourlySeries(START, values[:hours])
        for name, irradiance in (("sun", HourlySeries(START, ghi[:hours])), ("blind", None)):
            health = assess(pv, cs[:hours], LON, irradiance=irradiance)
            if health.status == UNDERPERFORMING and name not in detected:
                detected[name] = day - dead_from + 1
                assert health.share is not None and health.share < 0.05
                assert health.evidence.startswith(f"PV produced {health.share:.0%} of expected over ")
                assert health.since is not None
                assert abs(health.since - (START + timedelta(days=dead_from))) < timedelta(hours=12)  # its first hour of daylight
    assert detected["sun"] <= 4  # three days with enough sun to tell
    assert detected["blind"] <= 7  # five days under a tenth of a clear day


def test_a_week_of_overcast_is_not_a_dead_array() -> None:
    cs, ghi = _sky(5)
    ghi[-7 * 24 :] = 0.18 * cs[-7 * 24 :]  # a week of heavy overcast at the end
    pv = HourlySeries(START, _array(4.0, ghi, 6))
    assert assess(pv, cs, LON, irradiance=HourlySeries(START, ghi)).status == OK
    assert assess(pv, cs, LON).status == OK


def test_an_array_that_never_worked_is_judged_against_its_nameplate() -> None:
    cs, ghi = _sky(7)
    pv = HourlySeries(START, _array(4.0, ghi, 8) * 0.01)
    assert assess(pv, cs, LON).status == UNKNOWN  # no nameplate, no good day ever: cannot tell
    health = assess(pv, cs, LON, capacity_kw=4.0)
    assert health.status == UNDERPERFORMING and health.reference == "nameplate"


def test_a_small_array_is_learnt_at_its_size_not_flagged() -> None:
    cs, ghi = _sky(9)
    pv = HourlySeries(START, _array(0.8, ghi, 10))  # configured as 4 kW, a fifth of that in fact
    health = assess(pv, cs, LON, capacity_kw=4.0, irradiance=HourlySeries(START, ghi))
    assert health.status == OK and health.effective_kw is not None
    assert 0.6 < health.effective_kw < 1.2


def test_forecaster_falls_back_to_measured_output_of_a_dead_array() -> None:
    _, ghi = _sky(11)
    values = _array(4.0, ghi, 12)
    values[-8 * 24 :] *= 0.01
    model = PvForecaster(LAT, LON, capacity_kw=4.0).fit(HourlySeries(START, values))
    assert model.health is not None and model.health.underperforming
    forecast = model.predict(START + DAYS * 24 * HOUR_DELTA, 48)
    assert forecast.method == "measured_fallback"
    assert any(n.startswith("PV produced") for n in forecast.notes)
    healthy_day = float(values[: 7 * 24].sum()) / 7
    assert float(forecast.p50.sum()) / 2 < 0.05 * healthy_day
    # With weather given the fallback holds too: the weather fit would promise the old output.
    weather = {"solar": HourlySeries(START, np.concatenate([ghi, ghi[:48]]))}
    fitted = PvForecaster(LAT, LON).fit(HourlySeries(START, values), weather)
    again = fitted.predict(START + DAYS * 24 * HOUR_DELTA, 48, {"solar": HourlySeries(START + DAYS * 24 * HOUR_DELTA,
                                                                                       ghi[:48])})
    assert again.method == "measured_fallback"
    assert float(again.p50.sum()) / 2 < 0.05 * healthy_day


def test_forecaster_of_a_producing_array_never_falls_back_to_nameplate_for_zero_output() -> None:
    """Measured days with no output forecast none, not the nameplate's guess."""
    cs, _ = _sky(13)
    zero = np.zeros(10 * 24)
    model = PvForecaster(LAT, LON, capacity_kw=4.0).fit(HourlySeries(START, zero))
    forecast = model.predict(START + 10 * 24 * HOUR_DELTA, 24)
    assert float(forecast.p50.max()) == 0.0
    assert cs.max() > 500  # the forecast hours had sun to promise


HOUR_DELTA = timedelta(hours=1)

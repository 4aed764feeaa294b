"""Optimizer: every bound and the energy balance hold, plans make sense, refusals are clear."""

from __future__ import annotations

from datetime import datetime, timedelta
import re
from zoneinfo import ZoneInfo

from eaio_addon.engine.optimize import (
    Battery,
    DeferrableRun,
    EVCharge,
    HvacSpec,
    Plan,
    PlanInfeasible,
    SiteInputs,
    lp as lp_module,
    make_plan,
    plan_battery,
)
from eaio_addon.engine.optimize.execute import PlanFollower
from eaio_addon.engine.thermal import ThermalModel
import numpy as np
import pytest

TZ = ZoneInfo("America/Los_Angeles")
START = datetime(2026, 7, 1, 0, tzinfo=TZ)
TOL = 1e-6


def hours(n: int = 48) -> np.ndarray:
    return np.asarray([(START + timedelta(hours=k)).hour for k in range(n)])


def tou(n: int = 48, cheap: float = 0.20, peak: float = 0.50) -> np.ndarray:
    h = hours(n)
    return np.where((h >= 16) & (h < 21), peak, cheap)


def day_site(n: int = 48, **kwargs: object) -> SiteInputs:
    h = hours(n)
    load = 0.8 + 0.6 * ((h >= 17) & (h < 22))
    pv = np.clip(4.0 * np.sin((h - 6) / 12 * np.pi), 0.0, None)
    carbon = 0.15 + 0.05 * ((h >= 16) & (h < 21))
    return SiteInputs(START, load, pv, tou(n), carbon=carbon, tz=TZ, **kwargs)  # type: ignore[arg-type]


def battery(**kwargs: float) -> Battery:
    return Battery.with_round_trip(6.4, 5.0, 0.9, **kwargs)


def check_balance(site: SiteInputs, plan: Plan) -> None:
    supply = plan.grid_import + site.pv - plan.curtailed
    demand = site.load + plan.grid_export
    if plan.battery is not None:
        supply = supply + plan.battery.discharge_kw
        demand = demand + plan.battery.charge_kw
    for ev in plan.evs:
        demand = demand + ev.power_kw
    for run in plan.deferrables:
        demand = demand + run.power_kw
    if plan.hvac is not None:
        demand = demand + plan.hvac.power_kw
    np.testing.assert_allclose(supply, demand, atol=TOL)
    for arr in (plan.grid_import, plan.grid_export, plan.curtailed):
        assert arr.min() >= -TOL
    assert np.all(plan.curtailed <= site.pv + TOL)
    if site.import_limit_kw is not None:
        assert plan.grid_import.max() <= site.import_limit_kw + TOL
    if site.export_limit_kw is not None:
        assert plan.grid_export.max() <= site.export_limit_kw + TOL


def check_battery(b: Battery, plan: Plan) -> None:
    bp = plan.battery
    assert bp is not None
    assert bp.charge_kw.min() >= -TOL and bp.charge_kw.max() <= b.max_charge_kw + TOL
    assert bp.discharge_kw.min() >= -TOL and bp.discharge_kw.max() <= b.max_discharge_kw + TOL
    assert bp.soc_kwh.min() >= b.soc_min_kwh - TOL and bp.soc_kwh.max() <= b.soc_max + TOL
    assert bp.soc_kwh[0] == pytest.approx(b.initial_soc_kwh)
    dynamics = bp.soc_kwh[:-1] + b.charge_efficiency * bp.charge_kw - bp.discharge_kw / b.discharge_efficiency
    np.testing.assert_allclose(bp.soc_kwh[1:], dynamics, atol=TOL)
    assert np.all(np.minimum(bp.charge_kw, bp.discharge_kw) <= TOL), "charged and discharged at once"


# --- battery ----------------------------------------------------------------------------------


def test_two_price_day_charges_cheap_and_discharges_at_peak() -> None:
    n = 24
    site = SiteInputs(START, np.full(n, 1.0), np.zeros(n), tou(n), tz=TZ)
    b = battery(terminal_value=0.0)
    plan = plan_battery(site, b)
    check_balance(site, plan)
    check_battery(b, plan)
    bp = plan.battery
    assert bp is not None
    peak = tou(n) > 0.3
    assert bp.discharge_kw[~peak].sum() == pytest.approx(0.0, abs=TOL)
    assert bp.charge_kw[peak].sum() == pytest.approx(0.0, abs=TOL)
    # The whole peak (5 h x 1 kW) is covered from energy bought before it.
    np.testing.assert_allclose(bp.discharge_kw[peak], 1.0, atol=TOL)
    assert plan.grid_import[peak].sum() == pytest.approx(0.0, abs=TOL)
    assert bp.charge_kw[: np.flatnonzero(peak)[0]].sum() == pytest.approx(5.0 / 0.9, rel=1e-6)
    assert plan.saving == pytest.approx(5 * 0.5 - 5 / 0.9 * 0.2, rel=1e-6)
    codes = {r.code for r in plan.reasons}
    assert {"plan_summary", "charge_from_grid_low_price", "discharge_peak_price"} <= codes
    peak_reason = next(r for r in plan.reasons if r.code == "discharge_peak_price")
    assert peak_reason.start == START + timedelta(hours=16) and peak_reason.end == START + timedelta(hours=21)
    assert "16:00-21:00" in peak_reason.message


def test_reasons_give_money_in_the_sites_currency() -> None:
    n = 24
    site = SiteInputs(START, np.full(n, 1.0), np.zeros(n), tou(n), tz=TZ, currency="EUR")
    plan = plan_battery(site, battery(terminal_value=0.0))
    summary = next(r for r in plan.reasons if r.code == "plan_summary")
    assert re.search(r"Plan costs \d+\.\d\d EUR against \d+\.\d\d EUR for doing nothing: saves \d+\.\d\d EUR",
                     summary.message), summary.message
    charge = next(r for r in plan.reasons if r.code == "charge_from_grid_low_price")
    assert "0.20 EUR/kWh" in charge.message, charge.message
    # Without a known currency only the number: never another currency's sign.
    plain = plan_battery(SiteInputs(START, np.full(n, 1.0), np.zeros(n), tou(n), tz=TZ), battery(terminal_value=0.0))
    assert "EUR" not in " ".join(r.message for r in plain.reasons) and "$" not in " ".join(r.message for r in plain.reasons)


def test_flat_price_leaves_the_battery_idle_and_says_why() -> None:
    n = 24
    site = SiteInputs(START, np.full(n, 1.0), np.zeros(n), np.full(n, 0.3), tz=TZ)
    plan = plan_battery(site, battery())
    assert plan.battery is not None and plan.battery.charge_kw.max() <= TOL
    idle = [r for r in plan.reasons if r.code == "battery_idle"]
    assert idle and "round-trip" in idle[0].message
    assert plan.saving == pytest.approx(0.0, abs=1e-6)


def test_pv_surplus_is_stored_and_explained() -> None:
    site = day_site()
    b = battery()
    plan = plan_battery(site, b)
    check_balance(site, plan)
    check_battery(b, plan)
    assert any(r.code == "charge_from_pv_surplus" for r in plan.reasons)
    assert plan.totals.cost < plan.baseline.cost
    assert plan.totals.carbon_kg < plan.baseline.carbon_kg


@pytest.mark.parametrize("seed", range(6))
def test_random_instances_respect_every_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 48
    site = SiteInputs(
        START,
        rng.uniform(0.2, 3.0, n),
        np.clip(rng.normal(1.0, 1.5, n), 0, None),
        rng.uniform(0.1, 0.6, n),
        export_price=rng.uniform(0.0, 0.08, n),
        carbon=rng.uniform(0.1, 0.4, n),
        carbon_weight=float(rng.uniform(0, 0.5)),
        import_limit_kw=8.0,
        export_limit_kw=2.0,
        tz=TZ,
    )
    b = Battery(
        10.0, 3.0, 4.0, 0.93, 0.96, soc_min_kwh=1.0, soc_max_kwh=9.0, initial_soc_kwh=float(rng.uniform(1, 9))
    )
    plan = plan_battery(site, b)
    check_balance(site, plan)
    check_battery(b, plan)
    # Battery energy is not sold unless allowed: exports never exceed what PV gives.
    assert np.all(plan.grid_export <= site.pv - plan.curtailed + TOL)
    assert plan.totals.cost + site.carbon_weight * plan.totals.carbon_kg <= (
        plan.baseline.cost + site.carbon_weight * plan.baseline.carbon_kg + 1e-6
    )


def test_negative_price_never_charges_and_discharges_at_once() -> None:
    n = 24
    price = np.full(n, 0.3)
    price[10:13] = -0.2  # paid to consume: the LP would burn energy through the battery
    site = SiteInputs(START, np.full(n, 0.5), np.zeros(n), price, tz=TZ)
    b = battery(initial_soc_kwh=3.0)
    plan = plan_battery(site, b)
    check_balance(site, plan)
    check_battery(b, plan)
    assert any("one battery direction per hour" in note for note in plan.notes)


def test_terminal_soc_floor_is_kept_and_unreachable_floor_is_refused() -> None:
    site = day_site(24)
    b = battery(initial_soc_kwh=3.0, terminal_soc_kwh=5.0)
    plan = plan_battery(site, b)
    assert plan.battery is not None and plan.battery.soc_kwh[-1] >= 5.0 - TOL
    short = SiteInputs(START, np.ones(2), np.zeros(2), np.full(2, 0.2), tz=TZ)
    with pytest.raises(PlanInfeasible) as err:
        plan_battery(short, Battery(20.0, 1.0, 1.0, initial_soc_kwh=0.0, terminal_soc_kwh=10.0))
    assert err.value.code == "terminal_soc_unreachable"
    assert "10 kWh" in err.value.message


def test_default_terminal_value_does_not_dump_the_battery_at_the_horizon_end() -> None:
    # Full battery, cheap hours only at the end of the horizon: emptying it into them would
    # be worth less than keeping the energy for later.
    n = 24
    price = np.full(n, 0.5)
    price[-6:] = 0.2
    site = SiteInputs(START, np.full(n, 0.5), np.zeros(n), price, tz=TZ)
    plan = plan_battery(site, battery(initial_soc_kwh=6.4))
    assert plan.battery is not None
    assert plan.battery.discharge_kw[-6:].sum() == pytest.approx(0.0, abs=1e-6)


def test_reserve_is_held_and_an_impossible_reserve_is_named() -> None:
    site = day_site(24)
    reserve = np.zeros(24)
    reserve[17:21] = 4.0  # keep 4 kWh through the evening, e.g. ahead of a storm
    b = battery(initial_soc_kwh=2.0)
    plan = plan_battery(site, b, reserve_kwh=reserve)
    assert plan.battery is not None
    assert np.all(plan.battery.soc_kwh[18:22] >= 4.0 - TOL)
    check_battery(b, plan)
    tight = np.zeros(24)
    tight[0] = 5.0  # 3 kWh more within the first hour: more than 2 kW can store
    with pytest.raises(PlanInfeasible) as err:
        plan_battery(site, Battery.with_round_trip(6.4, 2.0, 0.9, initial_soc_kwh=2.0), reserve_kwh=tight)
    assert err.value.constraints == ("battery reserve",)
    assert "reserve" in err.value.message


def test_invalid_bounds_are_refused_with_the_field_named() -> None:
    with pytest.raises(PlanInfeasible) as err:
        Battery(6.4, 5.0, 5.0, soc_min_kwh=5.0, soc_max_kwh=4.0)
    assert err.value.code == "invalid_bounds" and "minimum 5 is above maximum 4" in err.value.message
    with pytest.raises(PlanInfeasible, match="initial SoC"):
        Battery(6.4, 5.0, 5.0, initial_soc_kwh=7.0)
    with pytest.raises(PlanInfeasible, match="efficiency"):
        Battery(6.4, 5.0, 5.0, charge_efficiency=1.2)
    with pytest.raises(PlanInfeasible) as missing:
        SiteInputs(START, np.array([1.0, np.nan]), np.zeros(2), np.ones(2))
    assert missing.value.code == "missing_input" and "load" in missing.value.message


# --- EV and deferrable loads -------------------------------------------------------------------


def test_ev_gets_its_energy_by_the_deadline_in_the_cheapest_hours() -> None:
    site = day_site()
    ev = EVCharge("car", 20.0, 7.0, START + timedelta(hours=15), START + timedelta(hours=31))
    plan = make_plan(site, evs=[ev])
    check_balance(site, plan)
    (ep,) = plan.evs
    assert ep.delivered_kwh == pytest.approx(20.0, abs=1e-6)
    assert ep.power_kw.max() <= 7.0 + TOL
    assert ep.power_kw[:15].sum() == pytest.approx(0.0, abs=TOL)
    assert ep.power_kw[31:].sum() == pytest.approx(0.0, abs=TOL)
    peak = tou() > 0.3  # at peak it only takes PV surplus, never grid energy
    assert np.all(ep.power_kw[peak] <= np.maximum(site.pv - site.load, 0.0)[peak] + TOL)
    assert plan.grid_import[peak] == pytest.approx(np.maximum(site.load - site.pv, 0.0)[peak], abs=TOL)
    assert plan.saving > 0  # arriving at 15:00 and charging at once would hit the peak
    assert any(r.code == "ev_charge" for r in plan.reasons)


def test_ev_energy_impossible_in_its_window_is_refused_with_numbers() -> None:
    site = day_site()
    ev = EVCharge("car", 40.0, 7.0, START + timedelta(hours=20), START + timedelta(hours=24))
    with pytest.raises(PlanInfeasible) as err:
        make_plan(site, evs=[ev])
    assert err.value.code == "ev_energy_unreachable"
    assert err.value.constraints == ("ev:car",)
    assert "needs 40 kWh" in err.value.message and "at most 25.2 kWh" in err.value.message


def test_ev_with_deadline_after_the_horizon_only_needs_what_cannot_wait() -> None:
    site = day_site(24)
    ev = EVCharge("car", 30.0, 7.0, START, START + timedelta(hours=27), efficiency=1.0)
    plan = make_plan(site, evs=[ev])
    assert plan.evs[0].required_kwh == pytest.approx(30.0 - 3 * 7.0)
    assert plan.evs[0].delivered_kwh >= 9.0 - 1e-6


def test_deferrable_run_stays_in_its_window_and_goes_to_the_cheapest_hours() -> None:
    site = day_site()
    washer = DeferrableRun("washer", (2.0, 0.5), START + timedelta(hours=6), START + timedelta(hours=22))
    plan = make_plan(site, deferrables=[washer])
    check_balance(site, plan)
    (run,) = plan.deferrables
    assert run.start_index is not None
    assert 6 <= run.start_index <= 20
    assert np.count_nonzero(run.power_kw) == 2
    np.testing.assert_allclose(run.power_kw[run.start_index : run.start_index + 2], [2.0, 0.5])
    # It runs on PV surplus (free) rather than at its earliest start (little PV at 06:00).
    assert 9 <= run.start_index <= 14
    assert any(r.code == "deferrable_scheduled" for r in plan.reasons)


def test_deferrable_window_too_short_is_refused() -> None:
    site = day_site()
    dryer = DeferrableRun("dryer", (3.0, 3.0, 1.0), START + timedelta(hours=10), START + timedelta(hours=12))
    with pytest.raises(PlanInfeasible) as err:
        make_plan(site, deferrables=[dryer])
    assert err.value.code == "deferrable_window_too_short"
    assert "runs 3 h but only 2" in err.value.message


def test_conflicting_limits_name_both_constraints() -> None:
    site = day_site(24, import_limit_kw=3.0)
    ev = EVCharge("car", 20.0, 7.0, START + timedelta(hours=20), START + timedelta(hours=24), efficiency=1.0)
    with pytest.raises(PlanInfeasible) as err:
        make_plan(site, evs=[ev])
    assert err.value.code == "conflicting_constraints"
    assert set(err.value.constraints) == {"import_limit", "ev:car"}
    assert "grid import limited to 3 kW" in err.value.message


# --- HVAC -------------------------------------------------------------------------------------


def zone_model() -> ThermalModel:
    return ThermalModel(a=0.9, b_out=0.1, b_solar=0.001, b_hvac=-0.8, c=0.2)


def hot_day(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    h = hours(n)
    outdoor = 30 + 6 * np.sin((h - 9) / 24 * 2 * np.pi)
    solar = np.clip(800 * np.sin((h - 6) / 12 * np.pi), 0, None)
    return outdoor, solar


def test_hvac_precools_before_the_peak_within_comfort_and_setpoint_bounds() -> None:
    site = day_site()
    outdoor, solar = hot_day()
    spec = HvacSpec(zone_model(), 24.0, outdoor, solar, 21.0, 25.0, 20.0, 28.0, 4.0)
    plan = make_plan(site, hvac=spec)
    check_balance(site, plan)
    hv = plan.hvac
    assert hv is not None
    assert hv.indoor_temp[1:].max() <= 25.0 + 1e-6 and hv.indoor_temp[1:].min() >= 21.0 - 1e-6
    assert hv.setpoint.min() >= 20.0 and hv.setpoint.max() <= 28.0
    assert hv.power_kw.min() >= -TOL and hv.power_kw.max() <= 4.0 + TOL
    assert hv.violation_degree_hours == 0.0
    # The planned temperatures follow the thermal model exactly.
    sim = zone_model().simulate(24.0, outdoor, solar, hv.power_kw)
    np.testing.assert_allclose(hv.indoor_temp, sim, atol=1e-6)
    peak = tou() > 0.3
    assert hv.power_kw[peak].sum() < plan.baseline.import_kwh  # sanity: it ran less at peak
    codes = {r.code for r in plan.reasons}
    assert "precool" in codes
    assert plan.saving > 0


def test_setpoints_stay_in_bounds_even_when_the_band_is_wider() -> None:
    site = day_site(24)
    outdoor, solar = hot_day(24)
    spec = HvacSpec(zone_model(), 23.0, outdoor, solar, 18.0, 30.0, 22.0, 26.0, 4.0)
    plan = make_plan(site, hvac=spec)
    hv = plan.hvac
    assert hv is not None
    assert hv.setpoint.min() >= 22.0 and hv.setpoint.max() <= 26.0
    assert hv.indoor_temp[1:].max() <= 26.0 + 1e-6


def test_unreachable_comfort_is_reported_softly_or_refused_strictly() -> None:
    site = day_site(24)
    outdoor, solar = hot_day(24)
    outdoor = outdoor + 15  # a heat wave the unit cannot fight
    soft = HvacSpec(zone_model(), 24.0, outdoor, solar, 21.0, 24.0, 18.0, 28.0, 2.0)
    plan = make_plan(site, hvac=soft)
    assert plan.hvac is not None and plan.hvac.violation.max() > 0.5
    assert plan.hvac.setpoint.max() <= 28.0
    violation = [r for r in plan.reasons if r.code == "comfort_violation"]
    assert violation and "full power" in violation[0].message
    strict = HvacSpec(zone_model(), 24.0, outdoor, solar, 21.0, 24.0, 18.0, 28.0, 2.0, strict=True)
    with pytest.raises(PlanInfeasible) as err:
        make_plan(site, hvac=strict)
    assert err.value.code == "comfort_unreachable"
    assert "full power" in err.value.message and "24 °C" in err.value.message


def test_heat_pump_preheats_before_the_peak_on_a_cold_day() -> None:
    site = day_site(24)
    h = hours(24)
    outdoor = 2 + 4 * np.sin((h - 9) / 24 * 2 * np.pi)
    heating = ThermalModel(a=0.9, b_out=0.1, b_solar=0.0005, b_hvac=0.9, c=0.3)
    spec = HvacSpec(heating, 20.0, outdoor, np.zeros(24), 19.0, 22.0, 16.0, 24.0, 3.0)
    plan = make_plan(site, hvac=spec)
    hv = plan.hvac
    assert hv is not None and hv.mode == "heating"
    assert hv.indoor_temp[1:].min() >= 19.0 - 1e-6 and hv.indoor_temp[1:].max() <= 22.0 + 1e-6
    assert hv.setpoint.min() >= 16.0 and hv.setpoint.max() <= 24.0
    assert "preheat" in {r.code for r in plan.reasons}
    assert plan.saving > 0
    with pytest.raises(PlanInfeasible, match="comfort_low"):
        make_plan(site, hvac=HvacSpec(heating, 20.0, outdoor, np.zeros(24), np.full(5, 19.0), 22.0, 16.0, 24.0, 3.0))


def test_hvac_bounds_are_validated() -> None:
    outdoor, solar = hot_day(24)
    with pytest.raises(PlanInfeasible, match="setpoint bounds"):
        HvacSpec(zone_model(), 24.0, outdoor, solar, 21.0, 25.0, 26.0, 20.0, 3.0)
    with pytest.raises(PlanInfeasible, match="comfort band"):
        HvacSpec(zone_model(), 24.0, outdoor, solar, 26.0, 22.0, 18.0, 28.0, 3.0)


# --- everything together ----------------------------------------------------------------------


def full_problem() -> tuple[SiteInputs, dict[str, object]]:
    site = day_site()
    outdoor, solar = hot_day()
    parts: dict[str, object] = {
        "battery": battery(initial_soc_kwh=2.0),
        "evs": [EVCharge("car", 15.0, 7.0, START + timedelta(hours=18), START + timedelta(hours=31))],
        "deferrables": [
            DeferrableRun("washer", (2.0, 0.5), START + timedelta(hours=7), START + timedelta(hours=22)),
            DeferrableRun("water heater", (3.0, 3.0), START, START + timedelta(hours=12)),
        ],
        "hvac": HvacSpec(zone_model(), 24.0, outdoor, solar, 21.0, 25.0, 20.0, 28.0, 4.0),
    }
    return site, parts


def test_combined_plan_balances_and_respects_every_part() -> None:
    site, parts = full_problem()
    plan = make_plan(site, **parts)  # type: ignore[arg-type]
    check_balance(site, plan)
    check_battery(parts["battery"], plan)  # type: ignore[arg-type]
    assert plan.evs[0].delivered_kwh == pytest.approx(15.0, abs=1e-6)
    for run, spec in zip(plan.deferrables, parts["deferrables"], strict=True):  # type: ignore[call-overload]
        assert run.start is not None and spec.earliest_start <= run.start
        assert run.start + timedelta(hours=spec.duration_h) <= spec.latest_end
    assert plan.hvac is not None and plan.hvac.violation_degree_hours == 0.0
    assert plan.totals.cost < plan.baseline.cost
    assert plan.reasons[0].code == "plan_summary"


def test_both_solver_bindings_give_the_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    site, parts = full_problem()
    first = make_plan(site, **parts)  # type: ignore[arg-type]
    monkeypatch.setattr(lp_module, "BACKEND", "scipy")
    second = make_plan(site, **parts)  # type: ignore[arg-type]
    assert second.totals.cost == pytest.approx(first.totals.cost, abs=1e-3)
    check_balance(site, second)


# --- executing a plan ------------------------------------------------------------------------


def test_follower_reproduces_a_perfect_forecast_plan_and_never_exports_battery_energy() -> None:
    site = day_site()
    b = battery()
    plan = plan_battery(site, b)
    assert plan.battery is not None
    follower = PlanFollower(b, plan.battery, site.load - site.pv, site.price)
    done = [follower.hour(t, float(site.load[t]), float(site.pv[t])) for t in range(site.hours)]
    charge, discharge = (np.array(x) for x in zip(*done, strict=True))
    grid = np.maximum(site.load - site.pv + charge - discharge, 0.0)
    assert float(grid @ site.price) == pytest.approx(plan.totals.cost, abs=1e-6)

    # Reality: much less load at the peak than forecast. The battery covers it and keeps
    # the rest instead of pushing it into the grid.
    load = site.load * 0.3
    follower = PlanFollower(b, plan.battery, site.load - site.pv, site.price)
    for t in range(site.hours):
        c, d = follower.hour(t, float(load[t]), float(site.pv[t]))
        assert d <= max(load[t] - site.pv[t], 0.0) + TOL
        assert 0 <= c <= b.max_charge_kw + TOL and 0 <= d <= b.max_discharge_kw + TOL
        assert b.soc_min_kwh - TOL <= follower.soc_kwh <= b.soc_max + TOL


def test_follower_makes_up_missing_pv_just_before_the_peak() -> None:
    # The plan counts on PV to fill the battery; the day is cloudy. The follower buys the
    # shortfall in the last cheap hour before the peak, not at night.
    n = 24
    site = day_site(n)
    b = battery()
    plan = plan_battery(site, b)
    assert plan.battery is not None
    follower = PlanFollower(b, plan.battery, site.load - site.pv, site.price)
    pv = site.pv * 0.2
    charged = []
    for t in range(16):
        c, _ = follower.hour(t, float(site.load[t]), float(pv[t]))
        charged.append(c - min(max(pv[t] - site.load[t], 0.0), c))  # grid part
    assert sum(charged[:12]) == pytest.approx(0.0, abs=1e-9)
    assert follower.soc_kwh == pytest.approx(plan.battery.soc_kwh[16], abs=1e-6)


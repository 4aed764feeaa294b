"""A battery plan that does no harm: never expected to cost or emit more than the battery's own
self-consumption mode, and no cycle whose gain lies inside the forecast's error."""

from __future__ import annotations

from datetime import UTC, datetime

from eaio_addon.engine.optimize import (
    Battery,
    SiteInputs,
    plan_battery,
    plan_battery_safe,
    self_consumption,
)
from eaio_addon.engine.optimize.execute import PlanFollower
from eaio_addon.engine.optimize.safe import SELF_CONSUMPTION_NOTE, expected, uncertainty_margin
from eaio_addon.option_types import OptionError
from eaio_addon.options import parse_options
import numpy as np
import pytest

START = datetime(2025, 1, 6, tzinfo=UTC)
H = 24


def _battery(**kwargs: float) -> Battery:
    return Battery.with_round_trip(10.0, 5.0, 0.9, **kwargs)


def _site(price: list[float] | np.ndarray, carbon: list[float] | np.ndarray, load: float = 1.0,
          pv: np.ndarray | None = None) -> SiteInputs:  # fmt: skip
    return SiteInputs(START, np.full(H, load), np.zeros(H) if pv is None else pv, np.asarray(price, dtype=float),
                      carbon=np.asarray(carbon, dtype=float))  # fmt: skip


def test_cheap_dirty_night_is_not_traded_for_carbon() -> None:
    # Night power is cheap and coal-heavy, the evening dear and clean: the cheapest plan buys at
    # night and emits more than leaving the battery alone (which, without PV, does nothing).
    price = [0.1] * 8 + [0.2] * 10 + [0.4] * 6
    carbon = [0.8] * 8 + [0.4] * 10 + [0.3] * 6
    site, battery = _site(price, carbon), _battery()
    cheapest = plan_battery(site, battery)
    own = expected(site, battery, self_consumption(site, battery))
    assert cheapest.battery is not None
    assert expected(site, battery, cheapest.battery).carbon_kg > own.carbon_kg + 0.1  # the harm it does
    safe = plan_battery_safe(site, battery)
    assert safe.battery is not None
    outcome = expected(site, battery, safe.battery)
    assert outcome.carbon_kg <= own.carbon_kg + 1e-6
    assert outcome.cost <= own.cost + 1e-6
    assert safe.totals.carbon_kg <= safe.baseline.carbon_kg + 1e-6  # no more than without a battery


def test_a_clean_cheap_night_is_still_traded() -> None:
    price = [0.1] * 8 + [0.2] * 10 + [0.4] * 6
    carbon = [0.3] * 8 + [0.4] * 10 + [0.6] * 6
    site, battery = _site(price, carbon), _battery()
    safe = plan_battery_safe(site, battery)
    assert safe.battery is not None and safe.battery.discharge_kw[18:].sum() > 4.0
    assert safe.saving > 0.5 * plan_battery(site, battery).saving
    assert SELF_CONSUMPTION_NOTE not in safe.notes


def test_a_plan_worse_than_the_own_mode_falls_back_to_it() -> None:
    # The battery must end nearly full, so the plan buys energy that is only worth the horizon's
    # cheapest price at its end, where self-consumption spends it on the evening peak.
    pv = np.zeros(H)
    pv[10:14] = 4.0
    price = [0.3] * 14 + [0.5] * 10
    site = SiteInputs(START, np.full(H, 1.0), pv, np.asarray(price), carbon=np.full(H, 0.5))
    battery = _battery(initial_soc_kwh=5.0, terminal_soc_kwh=9.0)
    safe = plan_battery_safe(site, battery)
    assert SELF_CONSUMPTION_NOTE in safe.notes
    assert safe.battery is not None
    own = self_consumption(site, battery)
    np.testing.assert_allclose(safe.battery.discharge_kw, own.discharge_kw)
    np.testing.assert_allclose(safe.battery.charge_kw, own.charge_kw)
    assert abs(safe.totals.cost - float(np.dot(price, safe.grid_import))) < 1e-9


def test_a_cycle_inside_the_forecast_error_is_not_made() -> None:
    # Buying at 0.20 to cover 0.225 gains 0.0025 per kWh after the 10 % round-trip loss.
    price = [0.2] * 12 + [0.225] * 12
    site, battery = _site(price, [0.3] * 12 + [0.6] * 12), _battery()  # cleaner when cycled
    assert plan_battery_safe(site, battery).battery is not None
    sure = plan_battery_safe(site, battery, load_band=(np.full(H, 0.99), np.full(H, 1.01)))
    unsure = plan_battery_safe(site, battery, load_band=(np.full(H, 0.3), np.full(H, 2.0)))
    assert sure.battery is not None and unsure.battery is not None
    assert sure.battery.discharge_kw.sum() > 5.0  # a sure forecast: the small gain is taken
    assert unsure.battery.discharge_kw.sum() < 1e-6  # gain inside the error: no cycle
    assert uncertainty_margin(battery, site.price, np.full(H, 0.3), np.full(H, 2.0)) > 0.0025


def test_pv_surplus_is_stored_whatever_the_uncertainty() -> None:
    pv = np.zeros(H)
    pv[10:14] = 4.0
    site = _site([0.3] * 16 + [0.5] * 8, [0.4] * H, pv=pv)
    plan = plan_battery_safe(site, _battery(), load_band=(np.full(H, 0.2), np.full(H, 3.0)))
    assert plan.battery is not None and plan.battery.charge_kw[10:14].sum() > 10.0


def test_wear_cost_stops_a_cycle_that_pays_less_than_it() -> None:
    price = [0.2] * 12 + [0.3] * 12  # gains 0.07 per kWh delivered after the loss
    site = _site(price, [0.3] * 12 + [0.6] * 12)
    assert plan_battery_safe(site, _battery()).battery is not None
    worn = plan_battery_safe(site, _battery(cycle_cost=0.1))
    cheap_wear = plan_battery_safe(site, _battery(cycle_cost=0.02))
    assert worn.battery is not None and cheap_wear.battery is not None
    assert worn.battery.discharge_kw.sum() < 1e-6
    assert cheap_wear.battery.discharge_kw.sum() > 5.0


def test_the_wear_cost_is_an_option_of_the_battery() -> None:
    battery = {"capacity_kwh": 10, "max_power_kw": 3}
    chosen = parse_options({"battery": {**battery, "cycle_cost": 0.05}}).battery
    default = parse_options({"battery": battery}).battery
    assert chosen is not None and chosen.cycle_cost == 0.05
    assert default is not None and default.cycle_cost == 0.0
    with pytest.raises(OptionError, match="cycle_cost"):
        parse_options({"battery": {**battery, "cycle_cost": -1}})


def test_carbon_emitted_beyond_no_battery_so_far_is_paid_back() -> None:
    # Cheap night, dear evening, the evening a little dirtier: a cycle is carbon-neutral enough
    # to be allowed, until the controller says its battery has emitted 2 kg more than none.
    price = [0.1] * 8 + [0.2] * 10 + [0.4] * 6
    carbon = [0.4] * 8 + [0.45] * 10 + [0.5] * 6
    site, battery = _site(price, carbon), _battery()
    own = expected(site, battery, self_consumption(site, battery))
    free = plan_battery_safe(site, battery)
    owing = plan_battery_safe(site, battery, carbon_allowance_kg=-2.0)
    assert free.battery is not None and owing.battery is not None
    assert free.battery.discharge_kw.sum() > 1.0
    assert expected(site, battery, owing.battery).carbon_kg <= own.carbon_kg + 1e-6
    assert owing.battery.discharge_kw.sum() < free.battery.discharge_kw.sum()


def test_following_the_plan_buys_in_the_clean_hours_it_chose() -> None:
    # Equal off-peak prices, a clean night and a dirty afternoon, a dear evening cleaner than
    # the afternoon: the plan buys at night what its carbon cap needs and the rest in the
    # afternoon. Put off to the last cheap hours, all the buying would land in the afternoon
    # and emit more than no battery; told the carbon, the follower buys when the plan did.
    price = np.array([0.2] * 16 + [0.5] * 5 + [0.2] * 3)
    carbon = np.array([0.3] * 6 + [0.5] * 10 + [0.45] * 5 + [0.5] * 3)
    site, battery = _site(price, carbon), _battery()
    plan = plan_battery_safe(site, battery)
    assert plan.battery is not None and plan.battery.discharge_kw[16:21].sum() > 4.0
    no_battery = float(site.load @ carbon)

    def executed(follower: PlanFollower) -> tuple[np.ndarray, float]:
        charge, discharge = np.zeros(H), np.zeros(H)
        for t in range(H):
            charge[t], discharge[t] = follower.hour(t, float(site.load[t]), 0.0)
        return charge, float(np.maximum(site.load + charge - discharge, 0.0) @ carbon)

    told, carbon_told = executed(PlanFollower(battery, plan.battery, site.load, price, carbon=carbon))
    blind, carbon_blind = executed(PlanFollower(battery, plan.battery, site.load, price))
    assert plan.battery.charge_kw[:6].sum() > 2.0
    np.testing.assert_allclose(told, plan.battery.charge_kw, atol=1e-6)
    assert blind[:6].sum() == pytest.approx(0.0, abs=1e-9)
    assert carbon_told <= no_battery + 1e-4 < carbon_blind - 0.1


def test_following_the_plan_still_waits_for_sun_the_forecast_allows() -> None:
    # The same day; the plan expected no PV, but the forecast's optimistic side allows 2 kWh of
    # surplus an hour in the afternoon, and it comes. Told so, the follower waits for it
    # instead of buying at night, and the sun fills the battery for the evening.
    price = np.array([0.2] * 16 + [0.5] * 5 + [0.2] * 3)
    carbon = np.array([0.3] * 6 + [0.5] * 10 + [0.45] * 5 + [0.5] * 3)
    site, battery = _site(price, carbon), _battery()
    plan = plan_battery_safe(site, battery)
    assert plan.battery is not None
    pv = np.zeros(H)
    pv[10:15] = 3.0
    high = np.maximum(pv - site.load, 0.0)

    def grid_bought(follower: PlanFollower) -> float:
        bought = 0.0
        for t in range(H):
            charge, _ = follower.hour(t, float(site.load[t]), float(pv[t]))
            bought += max(charge - max(pv[t] - site.load[t], 0.0), 0.0)
        return bought

    waiting = grid_bought(
        PlanFollower(battery, plan.battery, site.load, price, carbon=carbon, surplus_high=high)
    )
    not_waiting = grid_bought(PlanFollower(battery, plan.battery, site.load, price, carbon=carbon))
    assert waiting == pytest.approx(0.0, abs=1e-6)
    assert not_waiting > 2.0  # bought at night what the sun then brought

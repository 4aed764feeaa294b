"""Executing a battery plan when the hour turns out differently from its forecast.

A plan is made from forecasts; the hour itself brings the measured load and PV. Replaying
the plan's powers blindly is how "execution does not match the plan" happens: a planned
discharge larger than the actual load is exported for nothing, a planned charge "from PV
surplus" on a cloudy hour is not there, a peak that is larger than forecast is left
half-covered while the battery still holds energy. Instead each hour follows the plan's
*intent*, bounded by what the battery can physically do. The intent is read from the
plan's state-of-charge trajectory and the prices:

- **Keep what the plan keeps for dearer hours.** Until the next hour dearer than now, the
  plan's lowest planned state of charge is a floor: energy above it is meant for hours no
  dearer than this one, so it may cover this hour's measured net load instead. Energy
  below it is reserved for dearer hours and is not touched. (With perfect forecasts this
  reproduces the plan's discharges exactly.)
- **Never export battery energy for nothing**: discharge covers at most the measured net
  load (unless the battery may export and the plan exports at that hour).
- **Store PV surplus** whenever there is room: energy that would be exported for nothing
  can only help later hours.
- **Buy from the grid just in time.** The plan's state of charge at the start of its next
  discharge that pays for the round-trip loss is the target. Each hour buys only what the
  remaining hours no dearer than this one, before that discharge, could no longer buy at
  full power. Grid energy is then bought in the last cheap hours, after PV has had its
  chance: PV larger than forecast is stored instead of exported, PV smaller than forecast
  is made up, and the plan's own grid charging (timed as late as equal prices allow) is
  reproduced. When the plan was made with the hours' carbon intensity (a carbon cap or
  weight), buying is put off only to hours that are no dearer *and* no dirtier, and to the
  grid charging the plan itself put in dirtier hours, and the PV surplus an optimistic
  forecast allows there: among equal prices the plan chose its charging hours for their
  carbon, and buying later in a dirtier hour would emit what the plan avoided (measured: the
  battery's carbon then crept above no battery's over a year, and a controller paying that
  back lost most of its cycles), while PV that may still come is worth waiting for (without
  that, homes with large arrays bought at night what the sun then brought).

State of charge and powers stay within the battery's limits whatever the plan says.
"""

from __future__ import annotations

import numpy as np

from ..series import FloatArray
from .result import BatteryPlan
from .spec import Battery

TOL = 1e-6


def kept_floor(soc_kwh: FloatArray, price: FloatArray) -> FloatArray:
    """Per hour ``t`` of a plan (``soc_kwh`` has one value more: the charge at each hour's start and
    the plan's end), the lowest planned charge from the end of ``t`` until the next hour dearer than
    ``t``: what the plan keeps for dearer hours, and so may not be spent at ``t``."""
    price = np.asarray(price, dtype=np.float64)
    h = price.shape[0]
    floor = np.empty(h)
    for t in range(h):
        dearer = np.flatnonzero(price[t + 1 :] > price[t] + 1e-9)
        end = t + 1 + (int(dearer[0]) if dearer.size else h - t - 1)
        floor[t] = float(soc_kwh[t + 1 : end + 1].min())
    return floor


class PlanFollower:
    """Turns a battery plan into each hour's charge and discharge, given measurements.

    ``forecast_net`` (load minus PV, kWh per hour) and ``price`` are what the plan was made
    with: they tell the PV the plan expects to store from grid energy, and dear hours from
    cheap ones. ``soc_kwh`` is the measured state of charge if it differs from the plan's.
    ``carbon`` (kg CO2 per kWh imported), when the plan was made with it, keeps grid buying
    from being put off to dirtier hours, except for ``surplus_high``: the most PV surplus the
    forecast allows in each hour (its optimistic PV less the load), which may still come.
    """

    def __init__(
        self,
        battery: Battery,
        plan: BatteryPlan,
        forecast_net: FloatArray,
        price: FloatArray,
        soc_kwh: float | None = None,
        carbon: FloatArray | None = None,
        surplus_high: FloatArray | None = None,
    ) -> None:
        self.battery = battery
        self.soc_kwh = float(plan.soc_kwh[0] if soc_kwh is None else soc_kwh)
        self.plan = plan
        price = np.asarray(price, dtype=np.float64)
        co2 = None if carbon is None else np.asarray(carbon, dtype=np.float64)
        h = price.shape[0]
        soc = plan.soc_kwh
        round_trip = battery.charge_efficiency * battery.discharge_efficiency
        self.floor = kept_floor(soc, price)
        # target[t]: planned SoC at the next discharge that pays for energy bought at t;
        # coming[t]: what the plan still expects to store before then without buying at t
        # (PV it expects, and grid energy hours no dearer than t could still buy).
        self.target = np.full(h, -np.inf)
        self.coming = np.zeros(h)
        planned_pv = np.minimum(plan.charge_kw, np.maximum(-np.asarray(forecast_net, dtype=np.float64), 0.0))
        free_power = np.maximum(battery.max_charge_kw - planned_pv, 0.0)
        planned_grid = plan.charge_kw - planned_pv
        sun = np.zeros(h) if surplus_high is None else np.asarray(surplus_high, dtype=np.float64)
        room = np.maximum(battery.max_charge_kw - plan.charge_kw, 0.0)
        maybe_pv = np.minimum(np.maximum(sun - planned_pv, 0.0), room)
        discharging = np.flatnonzero(plan.discharge_kw > TOL)
        for t in range(h):
            paying = discharging[(discharging > t) & (price[discharging] * round_trip > price[t] + 1e-9)]
            if paying.size:
                use = int(paying[0])
                between = slice(t + 1, use)
                cheap = price[between] <= price[t] + 1e-9
                dirtier = np.zeros(cheap.shape, dtype=bool) if co2 is None else co2[between] > co2[t] + 1e-12
                self.target[t] = float(soc[use])
                self.coming[t] = battery.charge_efficiency * float(
                    planned_pv[between].sum()
                    + free_power[between][cheap & ~dirtier].sum()
                    + (planned_grid + maybe_pv)[between][cheap & dirtier].sum()
                )

    def hour(self, t: int, load: float, pv: float) -> tuple[float, float]:
        """Charge and discharge (kW, AC side) for hour ``t`` of the plan; updates the SoC."""
        b = self.battery
        net = load - pv
        surplus, deficit = max(-net, 0.0), max(net, 0.0)
        room = max(b.soc_max - self.soc_kwh, 0.0) / b.charge_efficiency
        spare = max(self.soc_kwh - max(self.floor[t], b.soc_min_kwh), 0.0) * b.discharge_efficiency
        cover = deficit
        if b.allow_export:
            cover = max(deficit, float(self.plan.discharge_kw[t]))
        discharge = min(cover, b.max_discharge_kw, spare)
        charge = 0.0
        if discharge <= TOL:
            discharge = 0.0
            stored = self.soc_kwh + min(surplus, room) * b.charge_efficiency
            buy = max(float(self.target[t]) - stored - float(self.coming[t]), 0.0) / b.charge_efficiency
            charge = min(surplus + buy, b.max_charge_kw, room)
        self.soc_kwh += charge * b.charge_efficiency - discharge / b.discharge_efficiency
        self.soc_kwh = min(max(self.soc_kwh, b.soc_min_kwh), b.soc_max)
        return charge, discharge

"""A home battery behind its inverter: the state of charge follows the power actually moved.

The inverter follows the external power setpoint while external control is on, within what the
cells allow (no charging when full, no discharging at the reserve), with a first-order lag like
a real inverter's ramp; otherwise it runs its own self-consumption mode (charge from surplus,
cover the deficit). Time is real seconds, never the building's accelerated day: the state of
charge moves as a real battery's would.
"""

from __future__ import annotations

from dataclasses import dataclass
import math


@dataclass
class BatteryModel:
    capacity_kwh: float = 10.0
    max_power_kw: float = 5.0
    efficiency: float = 0.95  # each way
    reserve_pct: float = 5.0
    soc_pct: float = 50.0
    ramp_s: float = 4.0  # time constant of the inverter's response
    power_kw: float = 0.0  # + charging, AC side
    charged_kwh: float = 0.0
    discharged_kwh: float = 0.0
    _last_t: float | None = None

    def step(self, t: float, *, external: bool, setpoint_kw: float, surplus_kw: float) -> None:
        """Advance to ``t`` (seconds): the power ramps to its target, the state of charge follows."""
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        target = setpoint_kw if external else surplus_kw
        target = max(-self.max_power_kw, min(self.max_power_kw, target))
        if self.soc_pct >= 100.0:
            target = min(target, 0.0)
        if self.soc_pct <= self.reserve_pct:
            target = max(target, 0.0)
        self.power_kw += (target - self.power_kw) * (1.0 - math.exp(-dt / self.ramp_s)) if dt else 0.0
        hours = dt / 3600.0
        if self.power_kw >= 0:
            stored = self.power_kw * hours * self.efficiency
            self.charged_kwh += self.power_kw * hours
        else:
            stored = self.power_kw * hours / self.efficiency
            self.discharged_kwh += -self.power_kw * hours
        self.soc_pct = max(0.0, min(100.0, self.soc_pct + 100.0 * stored / self.capacity_kwh))

"""What a plan returns: schedules, totals against doing nothing, and the reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..series import FloatArray


@dataclass(frozen=True)
class Reason:
    """One sentence of explanation for a part of the plan, with its hours and numbers.

    ``code`` is stable (``charge_from_pv_surplus``, ``charge_from_grid_low_price``,
    ``discharge_peak_price``, ``discharge_cover_load``, ``battery_idle``, ``ev_charge``,
    ``deferrable_scheduled``, ``precool``, ``preheat``, ``coast_through_peak``,
    ``comfort_violation``, ``plan_summary``); ``message`` is for people; ``start``/``end``
    bound the hours it is about (``end`` exclusive).
    """

    code: str
    message: str
    start: datetime
    end: datetime
    attributes: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    """Money and carbon over the plan's hours; export earnings are subtracted from cost."""

    cost: float
    carbon_kg: float
    import_kwh: float
    export_kwh: float


@dataclass(frozen=True)
class BatteryPlan:
    charge_kw: FloatArray
    discharge_kw: FloatArray
    soc_kwh: FloatArray
    """Energy stored at the start of each hour and after the last (``hours + 1`` values)."""

    @property
    def power_kw(self) -> FloatArray:
        """Net battery power, positive when charging."""
        return self.charge_kw - self.discharge_kw


@dataclass(frozen=True)
class EVPlan:
    name: str
    power_kw: FloatArray
    delivered_kwh: float
    """Energy into the car (after charger losses) within this plan."""
    required_kwh: float
    """What this plan had to deliver (less than asked when the deadline is after the plan)."""


@dataclass(frozen=True)
class DeferrablePlan:
    name: str
    start: datetime | None
    """``None`` when the run cannot start within this plan (a later plan places it)."""
    start_index: int | None
    power_kw: FloatArray


@dataclass(frozen=True)
class HvacPlan:
    power_kw: FloatArray
    indoor_temp: FloatArray
    """Planned temperature at the start of each hour and after the last (``hours + 1``)."""
    setpoint: FloatArray
    """Setpoint to command for each hour; always within the configured setpoint bounds."""
    comfort_low: FloatArray
    comfort_high: FloatArray
    """The band the plan keeps: comfort band within the setpoint bounds, per hour end."""
    violation: FloatArray
    """Kelvin outside that band at each hour's end: positive above, negative below."""
    mode: str
    max_power_kw: float

    @property
    def violation_degree_hours(self) -> float:
        return float(abs(self.violation).sum())


@dataclass(frozen=True)
class Expected:
    """What a schedule is expected to cost (with the battery's wear) and emit over the plan, net
    of the energy left in the battery at its end."""

    cost: float
    carbon_kg: float


@dataclass(frozen=True)
class Guard:
    """What a battery's plan was held to: its own self-consumption mode with the same car and
    appliances (``own_mode``), what the plan returned is expected to do (``planned``), the
    forecast-uncertainty margin each kWh cycled had to clear, and whether the plan fell back
    to the own mode."""

    own_mode: Expected
    planned: Expected
    margin: float
    fell_back: bool


@dataclass(frozen=True)
class Plan:
    start: datetime
    hours: int
    grid_import: FloatArray
    grid_export: FloatArray
    curtailed: FloatArray
    """PV the plan cannot use or export (export limit reached)."""
    battery: BatteryPlan | None
    evs: tuple[EVPlan, ...]
    deferrables: tuple[DeferrablePlan, ...]
    hvac: HvacPlan | None
    totals: Totals
    baseline: Totals
    """Doing nothing: battery idle, EVs charged on arrival, runs at their earliest start,
    the HVAC holding the edge of the comfort band like a plain thermostat."""
    comfort_penalty: float
    reasons: tuple[Reason, ...]
    notes: tuple[str, ...] = ()
    guard: Guard | None = None
    """Set by the guarded battery planner (``safe``): what the plan was held to."""

    @property
    def saving(self) -> float:
        return self.baseline.cost - self.totals.cost

    @property
    def carbon_saving_kg(self) -> float:
        return self.baseline.carbon_kg - self.totals.carbon_kg

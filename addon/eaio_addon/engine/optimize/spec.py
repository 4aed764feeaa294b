"""What a plan is asked to do: the site's hours, the battery, EVs, deferrable runs, HVAC.

Every dataclass checks itself on construction and raises :class:`PlanInfeasible` with code
``invalid_bounds`` naming the field, so an impossible configuration (minimum above maximum,
an efficiency of 1.2) is refused where it is written, not discovered inside a solver.
Times are timezone-aware datetimes; each run is mapped onto whole hours of the plan
(a window is shrunk to the whole hours inside it, never stretched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
import math

import numpy as np

from ..series import HOUR, FloatArray, Forecast, HourlySeries
from ..thermal import ThermalModel
from .errors import PlanInfeasible


def _bad(message: str, constraint: str) -> PlanInfeasible:
    return PlanInfeasible("invalid_bounds", message, (constraint,))


def _check_range(name: str, low: float, high: float) -> None:
    if not low <= high:
        raise _bad(f"{name}: minimum {low:g} is above maximum {high:g}", name)


def _positive(name: str, value: float, *, allow_zero: bool = True) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise _bad(f"{name} must be {'>= 0' if allow_zero else '> 0'} (got {value:g})", name)


def _efficiency(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise _bad(f"{name} must be in (0, 1] (got {value:g})", name)


@dataclass(frozen=True)
class Battery:
    """A stationary battery; powers are on the AC side, energies inside the battery.

    ``terminal_soc_kwh`` is a hard floor on the energy left at the end of the horizon;
    ``terminal_value`` ($ per kWh left) is a soft one. When it is ``None`` the energy left is
    valued at what it can surely displace later: the horizon's cheapest import (price plus
    weighted carbon) times the discharge efficiency. That stops a rolling plan from dumping
    the battery at the horizon's end at a loss, without making it hoard (any hour dearer
    than the cheapest is still worth discharging into).
    """

    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    soc_min_kwh: float = 0.0
    soc_max_kwh: float | None = None
    initial_soc_kwh: float = 0.0
    terminal_soc_kwh: float | None = None
    terminal_value: float | None = None
    cycle_cost: float = 0.0
    """Wear cost per kWh discharged ($/kWh); 0 leaves the decision to prices alone."""
    allow_export: bool = False
    """Whether battery energy may be sold to the grid when the export price pays."""

    def __post_init__(self) -> None:
        _positive("battery capacity_kwh", self.capacity_kwh, allow_zero=False)
        _positive("battery max_charge_kw", self.max_charge_kw)
        _positive("battery max_discharge_kw", self.max_discharge_kw)
        _efficiency("battery charge_efficiency", self.charge_efficiency)
        _efficiency("battery discharge_efficiency", self.discharge_efficiency)
        _positive("battery cycle_cost", self.cycle_cost)
        _check_range("battery state of charge", self.soc_min_kwh, self.soc_max)
        if self.soc_min_kwh < 0 or self.soc_max > self.capacity_kwh + 1e-9:
            raise _bad(
                f"battery SoC bounds {self.soc_min_kwh:g}..{self.soc_max:g} kWh must lie within "
                f"0..{self.capacity_kwh:g} kWh (the capacity)",
                "battery state of charge",
            )
        if not self.soc_min_kwh - 1e-9 <= self.initial_soc_kwh <= self.soc_max + 1e-9:
            raise _bad(
                f"battery initial SoC {self.initial_soc_kwh:g} kWh is outside its bounds "
                f"{self.soc_min_kwh:g}..{self.soc_max:g} kWh",
                "battery initial_soc_kwh",
            )
        if self.terminal_soc_kwh is not None and not (
            self.soc_min_kwh - 1e-9 <= self.terminal_soc_kwh <= self.soc_max + 1e-9
        ):
            raise _bad(
                f"battery terminal SoC {self.terminal_soc_kwh:g} kWh is outside its bounds "
                f"{self.soc_min_kwh:g}..{self.soc_max:g} kWh",
                "battery terminal_soc_kwh",
            )

    @property
    def soc_max(self) -> float:
        return self.capacity_kwh if self.soc_max_kwh is None else self.soc_max_kwh

    @classmethod
    def with_round_trip(
        cls,
        capacity_kwh: float,
        power_kw: float,
        round_trip: float,
        *,
        initial_soc_kwh: float = 0.0,
        soc_min_kwh: float = 0.0,
        soc_max_kwh: float | None = None,
        terminal_soc_kwh: float | None = None,
        terminal_value: float | None = None,
        cycle_cost: float = 0.0,
    ) -> Battery:
        """One power for both directions and a round-trip efficiency, split evenly
        (square root) between charging and discharging."""
        _efficiency("battery round_trip efficiency", round_trip)
        one_way = math.sqrt(round_trip)
        return cls(
            capacity_kwh,
            power_kw,
            power_kw,
            one_way,
            one_way,
            soc_min_kwh=soc_min_kwh,
            soc_max_kwh=soc_max_kwh,
            initial_soc_kwh=initial_soc_kwh,
            terminal_soc_kwh=terminal_soc_kwh,
            terminal_value=terminal_value,
            cycle_cost=cycle_cost,
        )


@dataclass(frozen=True)
class CarbonCap:
    """At most ``limit_kg`` of carbon imported over the plan, less ``credit_kg_per_kwh`` for each
    kWh left in the battery at its end (the carbon that energy will displace later)."""

    limit_kg: float
    credit_kg_per_kwh: float = 0.0


@dataclass(frozen=True)
class EVCharge:
    """Deliver ``energy_kwh`` into the car between ``available_from`` and ``deadline``.

    If the deadline is after the plan's end, the plan only has to deliver what could not
    still be delivered after its end at full power (the next plan finishes the job).
    """

    name: str
    energy_kwh: float
    max_kw: float
    available_from: datetime
    deadline: datetime
    efficiency: float = 0.9

    def __post_init__(self) -> None:
        _positive(f"EV '{self.name}' energy_kwh", self.energy_kwh)
        _positive(f"EV '{self.name}' max_kw", self.max_kw)
        _efficiency(f"EV '{self.name}' efficiency", self.efficiency)
        if not self.available_from < self.deadline:
            raise _bad(
                f"EV '{self.name}': available_from {self.available_from.isoformat()} is not "
                f"before the deadline {self.deadline.isoformat()}",
                f"ev:{self.name}",
            )


@dataclass(frozen=True)
class DeferrableRun:
    """One run of an appliance: ``profile_kw[i]`` is the energy (kWh) of its i-th hour.

    The run starts on a whole hour, at or after ``earliest_start``, and ends at or before
    ``latest_end``; within the plan it must end by the plan's last hour.
    """

    name: str
    profile_kw: tuple[float, ...]
    earliest_start: datetime
    latest_end: datetime

    def __post_init__(self) -> None:
        if not self.profile_kw:
            raise _bad(f"deferrable '{self.name}' has an empty profile", f"deferrable:{self.name}")
        for value in self.profile_kw:
            _positive(f"deferrable '{self.name}' profile", value)
        if not self.earliest_start < self.latest_end:
            raise _bad(
                f"deferrable '{self.name}': earliest_start is not before latest_end",
                f"deferrable:{self.name}",
            )

    @property
    def duration_h(self) -> int:
        return len(self.profile_kw)

    @property
    def energy_kwh(self) -> float:
        return float(sum(self.profile_kw))


@dataclass(frozen=True)
class HvacSpec:
    """One thermal zone conditioned by one unit whose behaviour ``model`` describes.

    Comfort bounds apply to the temperature at the end of each hour and may vary by hour
    (a wider band when nobody is home). The plan keeps the temperature inside the comfort
    band *and* the setpoint bounds, because the setpoints it proposes are the temperatures
    it plans. With ``strict`` a band that cannot be held raises; otherwise each degree-hour
    outside costs ``comfort_penalty`` and is reported as a violation.
    """

    model: ThermalModel
    initial_temp: float
    outdoor: FloatArray
    solar: FloatArray
    comfort_low: FloatArray | float
    comfort_high: FloatArray | float
    setpoint_min: float
    setpoint_max: float
    max_power_kw: float
    comfort_penalty: float = 10.0
    strict: bool = False

    def __post_init__(self) -> None:
        _check_range("HVAC setpoint bounds", self.setpoint_min, self.setpoint_max)
        _positive("HVAC max_power_kw", self.max_power_kw, allow_zero=False)
        _positive("HVAC comfort_penalty", self.comfort_penalty)
        if not math.isfinite(self.initial_temp):
            raise PlanInfeasible("missing_input", "HVAC initial (current) indoor temperature is unknown")
        low, high = np.broadcast_arrays(
            np.atleast_1d(np.asarray(self.comfort_low, dtype=np.float64)),
            np.atleast_1d(np.asarray(self.comfort_high, dtype=np.float64)),
        )
        wrong = np.flatnonzero(~(low <= high))
        if wrong.size:
            k = int(wrong[0])
            raise _bad(
                f"HVAC comfort band: low {low[k]:g} °C is not below high {high[k]:g} °C (hour {k})",
                "HVAC comfort band",
            )
        if np.all(high < self.setpoint_min) or np.all(low > self.setpoint_max):
            raise _bad(
                f"HVAC comfort band lies entirely outside the setpoint bounds "
                f"{self.setpoint_min:g}..{self.setpoint_max:g} °C",
                "HVAC setpoint bounds",
            )


@dataclass(frozen=True)
class SiteInputs:
    """The hours to plan and what is known (or forecast) about them.

    ``load`` is the non-shiftable consumption and ``pv`` the generation, kWh in each hour.
    Prices are per kWh; ``export_price`` defaults to 0 (surplus earns nothing), ``carbon``
    (kg CO2 per kWh imported) to 0. ``carbon_weight`` ($ per kg) puts carbon into the
    objective: ``cost + carbon_weight * carbon``.
    """

    start: datetime
    load: FloatArray
    pv: FloatArray
    price: FloatArray
    export_price: FloatArray | None = None
    carbon: FloatArray | None = None
    carbon_weight: float = 0.0
    import_limit_kw: float | None = None
    export_limit_kw: float | None = None
    tz: tzinfo = field(default=UTC)
    currency: str = ""  # what prices are in (an ISO 4217 code), for the reasons' words only

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise _bad("start must be timezone-aware", "start")
        n = np.asarray(self.load).shape[0]
        if n == 0:
            raise _bad("the plan needs at least one hour", "hours")
        for name in ("load", "pv", "price", "export_price", "carbon"):
            value = getattr(self, name)
            if value is None:
                value = np.zeros(n)
            arr = np.asarray(value, dtype=np.float64)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise _bad(f"{name} has {arr.shape} values; the plan has {n} hours", name)
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise PlanInfeasible(
                    "missing_input",
                    f"{name} is missing for {bad.size} of {n} hours (first: hour {int(bad[0])}, "
                    f"{(self.start + int(bad[0]) * HOUR).isoformat()}); fill the gap or shorten the plan",
                    (name,),
                )
            object.__setattr__(self, name, arr)
        if np.any(self.pv < 0):
            raise _bad("pv must be >= 0", "pv")
        _positive("carbon_weight", self.carbon_weight)
        if self.import_limit_kw is not None:
            _positive("import_limit_kw", self.import_limit_kw)
        if self.export_limit_kw is not None:
            _positive("export_limit_kw", self.export_limit_kw)

    @property
    def hours(self) -> int:
        return int(np.asarray(self.load).shape[0])

    @property
    def export(self) -> FloatArray:
        assert self.export_price is not None
        return self.export_price

    @property
    def co2(self) -> FloatArray:
        assert self.carbon is not None
        return self.carbon

    def index(self, when: datetime, *, up: bool) -> int:
        """Hour index of ``when``; rounded up (a start) or down (an end) to whole hours."""
        offset = (when - self.start) / HOUR
        return math.ceil(offset - 1e-9) if up else math.floor(offset + 1e-9)

    @classmethod
    def from_series(
        cls,
        start: datetime,
        hours: int,
        *,
        load: HourlySeries | Forecast,
        pv: HourlySeries | Forecast,
        price: HourlySeries,
        export_price: HourlySeries | None = None,
        carbon: HourlySeries | None = None,
        carbon_weight: float = 0.0,
        import_limit_kw: float | None = None,
        export_limit_kw: float | None = None,
        tz: tzinfo = UTC,
    ) -> SiteInputs:
        """Align series and forecasts (their medians) on the plan's hours."""

        def take(s: HourlySeries | Forecast) -> FloatArray:
            series = s.median() if isinstance(s, Forecast) else s
            return series.window(start, hours).values

        return cls(
            start,
            take(load),
            take(pv),
            take(price),
            None if export_price is None else take(export_price),
            None if carbon is None else take(carbon),
            carbon_weight=carbon_weight,
            import_limit_kw=import_limit_kw,
            export_limit_kw=export_limit_kw,
            tz=tz,
        )

"""A one-zone RC thermal model of a building, identified by least squares from hourly data.

Discrete form, one step per hour::

    T[k+1] = a*T[k] + b_out*T_out[k] + b_solar*S[k] + b_hvac*P[k] + c

It is the zero-order-hold discretisation of ``C dT/dt = UA (T_out - T) + g S + h P + Q``:
``a = exp(-1 h / tau)`` with ``tau = C / UA``, and ``b_out``, ``b_solar``, ``b_hvac``, ``c``
are the gains of the inputs scaled by ``1 - a``. HVAC power is taken as the unit's input
(electric kW), so the heat-pump efficiency is folded into ``b_hvac``: UA and C come out in
"kW of HVAC input per kelvin", the unit a planner pays for. ``b_hvac`` is negative for a
cooling unit and positive for a heating one.

The fit refuses (:class:`ThermalFitError`) rather than return a model that would mislead a
planner: too few usable hours, inputs that never vary, a decay outside ``(0, 1)``, an
outdoor gain below zero, an HVAC effect the data cannot tell from noise, or a model that
cannot follow the data over a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import math

import numpy as np

from .series import FloatArray, HourlySeries

MIN_SAMPLES = 72
"""Three days of usable hourly transitions: fewer cannot separate five parameters from a
daily cycle in which outdoor temperature, sun and HVAC all move together."""

SIM_WINDOW_HOURS = 24


class ThermalFitError(ValueError):
    """The data cannot give a usable model; ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FitQuality:
    """How well the model follows the data it was fitted on.

    ``r2_one_step`` is the usual R² of ``T[k+1]``; it is flattered by ``a`` near 1 (the
    next temperature is mostly the current one), so ``r2_change`` (R² of ``T[k+1] - T[k]``)
    is given too. The simulation errors run the model open-loop on the measured inputs: over
    the whole record (restarting from the measurement after each gap), and over every
    24-hour window started from a measured temperature, the horizon a day-ahead plan needs.
    """

    samples: int
    rmse_one_step: float
    r2_one_step: float
    r2_change: float
    rmse_simulation: float
    rmse_24h: float
    max_abs_24h: float
    std_errors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ThermalModel:
    a: float
    b_out: float
    b_solar: float
    b_hvac: float
    c: float
    quality: FitQuality | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.a < 1.0:
            raise ValueError(f"a = {self.a:.4f} is outside (0, 1): not a stable thermal mass")
        if self.b_hvac == 0.0:
            raise ValueError("b_hvac = 0: the HVAC has no effect in this model")

    @property
    def mode(self) -> str:
        return "cooling" if self.b_hvac < 0 else "heating"

    @property
    def time_constant_h(self) -> float:
        return -1.0 / math.log(self.a)

    @property
    def ua_kw_per_k(self) -> float:
        """HVAC input (kW) that holds the zone 1 K away from outdoors at steady state."""
        return (1.0 - self.a) / abs(self.b_hvac)

    @property
    def capacity_kwh_per_k(self) -> float:
        """HVAC input (kWh) that moves the zone's temperature by 1 K, losses aside."""
        return self.time_constant_h * self.ua_kw_per_k

    @property
    def solar_gain_kw_per_w_m2(self) -> float:
        """Solar gain expressed as the HVAC input that offsets it, per W/m² of irradiance."""
        return self.b_solar / abs(self.b_hvac)

    @property
    def outdoor_gain(self) -> float:
        """Steady-state indoor change per kelvin outdoors; 1 for a pure RC zone."""
        return self.b_out / (1.0 - self.a)

    def free_float(self, temp: float, outdoor: float, solar: float) -> float:
        """Next hour's temperature with the HVAC off."""
        return self.a * temp + self.b_out * outdoor + self.b_solar * solar + self.c

    def simulate(
        self, initial: float, outdoor: FloatArray, solar: FloatArray, hvac: FloatArray
    ) -> FloatArray:
        """Temperatures at the start of each hour and after the last: ``len(outdoor) + 1``."""
        outdoor, solar, hvac = (np.asarray(x, dtype=np.float64) for x in (outdoor, solar, hvac))
        if not outdoor.shape == solar.shape == hvac.shape:
            raise ValueError("outdoor, solar and hvac must have the same length")
        drive = self.b_out * outdoor + self.b_solar * solar + self.b_hvac * hvac + self.c
        temps = np.empty(outdoor.shape[0] + 1)
        temps[0] = initial
        for k, d in enumerate(drive):
            temps[k + 1] = self.a * temps[k] + d
        return temps

    def describe(self) -> str:
        return (
            f"{self.mode} zone: time constant {self.time_constant_h:.1f} h, "
            f"UA {self.ua_kw_per_k:.2f} kW/K and capacity {self.capacity_kwh_per_k:.1f} kWh/K "
            f"(in kW of HVAC input), outdoor gain {self.outdoor_gain:.2f}"
        )


def _as_values(series: HourlySeries | FloatArray, start: datetime | None, n: int) -> FloatArray:
    if isinstance(series, HourlySeries):
        if start is None:
            return series.values
        return series.window(start, n).values
    return np.asarray(series, dtype=np.float64)


def fit_thermal_model(
    indoor: HourlySeries | FloatArray,
    outdoor: HourlySeries | FloatArray,
    solar: HourlySeries | FloatArray,
    hvac_power: HourlySeries | FloatArray | None = None,
    *,
    hvac_state: HourlySeries | FloatArray | None = None,
    rated_kw: float | None = None,
    min_samples: int = MIN_SAMPLES,
    max_rmse_24h: float = 2.0,
) -> ThermalModel:
    """Fit the model on aligned hourly series (NaN marks a gap).

    Give the HVAC either as ``hvac_power`` (kW, hourly mean) or as ``hvac_state`` (share of
    the hour on, 0..1) with the unit's ``rated_kw``. Series given as :class:`HourlySeries`
    are aligned on the indoor series' hours.
    """
    if (hvac_power is None) == (hvac_state is None):
        raise ThermalFitError("hvac_input", "give exactly one of hvac_power or hvac_state")
    start = indoor.start if isinstance(indoor, HourlySeries) else None
    temp = _as_values(indoor, None, 0)
    n = temp.shape[0]
    t_out = _as_values(outdoor, start, n)
    sun = _as_values(solar, start, n)
    if hvac_power is not None:
        power = _as_values(hvac_power, start, n)
    else:
        assert hvac_state is not None
        if rated_kw is None or not rated_kw > 0:
            raise ThermalFitError("hvac_input", "hvac_state needs the unit's rated_kw (> 0)")
        power = _as_values(hvac_state, start, n) * rated_kw
    if not t_out.shape[0] == sun.shape[0] == power.shape[0] == n:
        raise ThermalFitError("length_mismatch", "indoor, outdoor, solar and HVAC differ in length")

    # A transition k -> k+1 is usable only when everything it depends on was measured.
    ok = np.isfinite(temp[:-1]) & np.isfinite(temp[1:])
    ok &= np.isfinite(t_out[:-1]) & np.isfinite(sun[:-1]) & np.isfinite(power[:-1])
    rows = np.flatnonzero(ok)
    if rows.size < min_samples:
        raise ThermalFitError(
            "insufficient_data",
            f"{rows.size} usable hourly transitions; at least {min_samples} are needed "
            "(hours where indoor, outdoor, solar and HVAC were all measured, and the next "
            "indoor temperature too)",
        )
    for name, col in (("HVAC power", power), ("outdoor temperature", t_out)):
        if np.ptp(col[rows]) < 1e-9:
            raise ThermalFitError(
                "no_variation", f"{name} never changes in the data, so its effect cannot be measured"
            )

    names = ("a", "b_out", "b_solar", "b_hvac", "c")
    x = np.column_stack([temp[rows], t_out[rows], sun[rows], power[rows], np.ones(rows.size)])
    y = temp[rows + 1]
    # Solar may be all zero (no sensor): its column then drops out rather than break the fit.
    use = np.array([True, True, np.ptp(sun[rows]) > 1e-9, True, True])
    xs = x[:, use]
    scale = np.linalg.norm(xs, axis=0)
    cond = np.linalg.cond(xs / scale)
    if not np.isfinite(cond) or cond > 1e8:
        raise ThermalFitError(
            "ill_conditioned",
            "the inputs move together so closely that their effects cannot be separated "
            f"(condition number {cond:.1e}); more varied data is needed",
        )
    coef_used, *_ = np.linalg.lstsq(xs, y, rcond=None)
    coef = np.zeros(5)
    coef[use] = coef_used
    resid = y - x @ coef
    dof = max(rows.size - int(use.sum()), 1)
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(xs.T @ xs)
    se = np.zeros(5)
    se[use] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    a, b_out, b_solar, b_hvac, c = (float(v) for v in coef)

    if not 0.0 < a < 1.0:
        raise ThermalFitError(
            "decay_out_of_range",
            f"fitted a = {a:.4f} is outside (0, 1): the data do not show a zone that relaxes "
            "towards outdoor temperature (check units, sensor placement and gaps)",
        )
    if b_out < 0.0:
        raise ThermalFitError(
            "outdoor_gain_negative",
            f"fitted b_out = {b_out:.4f} < 0: indoors would cool when it warms outside",
        )
    t_hvac = abs(b_hvac) / se[3] if se[3] > 0 else math.inf
    if t_hvac < 3.0:
        raise ThermalFitError(
            "hvac_effect_not_identified",
            f"the HVAC's effect ({b_hvac:+.4f} K per kW-hour) is within noise "
            f"(t = {t_hvac:.1f} < 3); data with the unit running at different times is needed",
        )
    if use[2] and se[2] > 0 and b_solar / se[2] < -3.0:
        raise ThermalFitError(
            "solar_gain_negative",
            f"fitted b_solar = {b_solar:.5f} < 0 beyond noise: sunshine would cool the zone",
        )

    notes: list[str] = []
    if b_solar < 0.0:
        notes.append("solar gain slightly negative but within noise; treated as measured")
    model = ThermalModel(a, b_out, b_solar, b_hvac, c)
    if not 0.5 <= model.outdoor_gain <= 1.5:
        notes.append(
            f"outdoor gain {model.outdoor_gain:.2f} is far from 1: other heat sources or "
            "sinks follow outdoor temperature (or the sensors are biased)"
        )

    sim, window = _simulation_errors(model, temp, t_out, sun, power, ok)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    d = y - temp[rows]
    ss_d = float(np.sum((d - d.mean()) ** 2))
    quality = FitQuality(
        samples=int(rows.size),
        rmse_one_step=float(np.sqrt(np.mean(resid**2))),
        r2_one_step=1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 0.0,
        r2_change=1.0 - float(resid @ resid) / ss_d if ss_d > 0 else 0.0,
        rmse_simulation=sim,
        rmse_24h=window[0],
        max_abs_24h=window[1],
        std_errors={name: float(s) for name, s in zip(names, se, strict=True)},
    )
    if quality.rmse_24h > max_rmse_24h:
        raise ThermalFitError(
            "poor_fit",
            f"24-hour simulation error {quality.rmse_24h:.2f} K exceeds {max_rmse_24h:.2f} K: "
            "the model cannot follow this zone well enough to plan with",
        )
    return ThermalModel(a, b_out, b_solar, b_hvac, c, quality=quality, notes=tuple(notes))


def _simulation_errors(
    model: ThermalModel,
    temp: FloatArray,
    t_out: FloatArray,
    sun: FloatArray,
    power: FloatArray,
    ok: np.ndarray,
) -> tuple[float, tuple[float, float]]:
    """Open-loop errors: the whole record (restart after gaps) and every 24 h window."""
    drive = model.b_out * t_out + model.b_solar * sun + model.b_hvac * power + model.c
    free_err: list[float] = []
    state = math.nan
    for k in range(ok.shape[0]):
        if not ok[k]:
            state = math.nan
            continue
        if math.isnan(state):
            state = float(temp[k])
        state = model.a * state + float(drive[k])
        free_err.append(state - float(temp[k + 1]))
    rmse_sim = float(np.sqrt(np.mean(np.square(free_err)))) if free_err else math.nan

    # Every window of 24 usable transitions in a row, started from the measurement.
    run = np.zeros(ok.shape[0] + 1, dtype=np.int64)
    for k in range(ok.shape[0]):
        run[k + 1] = run[k] + 1 if ok[k] else 0
    ends = np.flatnonzero(run[1:] >= SIM_WINDOW_HOURS)
    starts = ends - SIM_WINDOW_HOURS + 1
    if starts.size == 0:
        return rmse_sim, (math.nan, math.nan)
    states = temp[starts].astype(np.float64)
    sq = 0.0
    worst = 0.0
    for h in range(SIM_WINDOW_HOURS):
        states = model.a * states + drive[starts + h]
        err = states - temp[starts + h + 1]
        sq += float(err @ err)
        worst = max(worst, float(np.max(np.abs(err))))
    return rmse_sim, (math.sqrt(sq / (starts.size * SIM_WINDOW_HOURS)), worst)

"""Measurement and verification: did an applied recommendation save energy, and how surely?

After a change at time ``T`` the metered consumption of a reporting period is compared with a
counterfactual baseline: a load model trained only on data before ``T`` and run over the
reporting period (with the period's actual weather, if the model uses weather). The saving is
``baseline - metered``; its uncertainty follows ASHRAE Guideline 14 (Annex B), the
fractional savings uncertainty with the correction for autocorrelated residuals::

    FSU = dE / E_save = t * 1.26 * CV * sqrt( (n / n') * (1 + 2 / n') * (1 / m) ) / F

    n'  = n * (1 - rho) / (1 + rho)      effective number of baseline points
    CV  = CV(RMSE) of the baseline model = RMSE / mean load, over n baseline points
    rho = lag-1 autocorrelation of the baseline residuals (negative values taken as 0)
    m   = number of points in the reporting period
    F   = E_save / E_baseline, the savings fraction
    t   = two-sided Student-t value at the confidence level, n' - p degrees of freedom (p = 1)

so the half-width of the band is ``dE = t * 1.26 * CV * sqrt((n/n') (1 + 2/n') / m) * E_baseline``.
The guideline writes ``1 + 2/n`` in some editions; ``n'`` is used here, the more cautious.

Two choices make the formula honest for a machine-learned, hourly baseline:

- **Out-of-sample residuals.** CV and rho come from rolling-origin validation before ``T``:
  the model is trained on data before ``T - j L`` and predicts the next ``L`` hours
  (``L`` = the reporting length, ``j = 1..folds``), exactly the task it does for the
  reporting period. In-sample residuals of a flexible model would understate its error.
- **Daily points by default.** Household residuals persist for days (a trip, a guest), which
  lag-1 correlation of hourly residuals misses (0.5 at lag 1 says nothing about lag 24), so
  the variance of a multi-week sum is understated hourly. Summing to 24-hour points keeps the
  day-to-day persistence inside rho. ``granularity="hourly"`` is available.

Default confidence: 90 % (two-sided), so a no-change period shows a significant saving about
one time in ten. ``meets_guideline14`` applies the guideline's own bar: FSU below 50 % at
68 % confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import copy
from dataclasses import dataclass
from datetime import datetime
import logging
import math
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np
from scipy import stats

from .series import HOUR, FloatArray, Forecast, HourlySeries

_LOGGER = logging.getLogger(__name__)

Weather = dict[str, HourlySeries]
Granularity = Literal["hourly", "daily", "weekly"]
DEFAULT_CONFIDENCE = 0.90
DEFAULT_GRANULARITY: Granularity = "daily"
GUIDELINE14_CONFIDENCE = 0.68
GUIDELINE14_MAX_FSU = 0.50
EMPIRICAL_FACTOR = 1.26  # Guideline 14's correction for the approximation in the formula
MODEL_PARAMETERS = 1  # residuals are out of sample; only their mean is estimated from them


class LoadModel(Protocol):
    """The load forecaster's interface: fit on history, then predict a window."""

    def fit(self, load: HourlySeries, weather: Weather | None = None) -> object: ...

    def predict(self, start: datetime, hours: int, weather: Weather | None = None) -> Forecast: ...


ModelSource = LoadModel | Callable[[], LoadModel]


def _fresh_model(source: ModelSource) -> LoadModel:
    """A new, unfitted model: call a factory (or class), or copy a model instance."""
    if isinstance(source, type) or not (hasattr(source, "fit") and hasattr(source, "predict")):
        return source()
    return copy.deepcopy(source)


def _window(weather: Weather | None, start: datetime, hours: int) -> Weather | None:
    if weather is None:
        return None
    return {k: v.window(start, hours) for k, v in weather.items()}


# --- a classic M&V baseline -------------------------------------------------------------------


class TimeOfWeekTemperatureBaseline:
    """The usual M&V regression: a level per local hour of the week plus a piecewise-linear
    response to outdoor temperature, fitted by ridge least squares on recent weeks.

    A transparent, cheap alternative to the load forecaster: it uses no lagged load, so a
    multi-week prediction does not degrade with the horizon. Knots every 5 °C let heating and
    cooling slopes differ without choosing a balance point. The band is the residuals'
    10th-90th percentiles by local hour.
    """

    def __init__(self, tz: str, *, weeks: int = 8, knots: Sequence[float] = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)) -> None:
        self.tz = tz
        self.weeks = weeks
        self.knots = tuple(knots)
        self._coef: FloatArray | None = None
        self._mean = 0.0
        self._uses_temperature = False
        self._band = np.zeros((24, 2))

    def _design(self, start: datetime, hours: int, weather: Weather | None) -> FloatArray:
        zone = ZoneInfo(self.tz)
        local = [(start + i * HOUR).astimezone(zone) for i in range(hours)]
        how = np.array([t.weekday() * 24 + t.hour for t in local])
        columns = [np.eye(168)[how]]
        if self._uses_temperature:
            if weather is None or "temperature" not in weather:
                raise ValueError("this baseline was fitted with temperature and needs it to predict")
            temp = _fill_small_gaps(weather["temperature"].window(start, hours).values)
            columns.append(np.column_stack([np.maximum(temp - k, 0.0) for k in self.knots]))
        return np.hstack(columns)

    def fit(self, load: HourlySeries, weather: Weather | None = None) -> TimeOfWeekTemperatureBaseline:
        hours = min(len(load), 24 * 7 * self.weeks)
        start = load.end - hours * HOUR
        y = load.window(start, hours).values
        self._uses_temperature = bool(weather and "temperature" in weather)
        if self._uses_temperature and weather is not None:
            temp = weather["temperature"].window(start, hours).values
            self._uses_temperature = bool(np.isfinite(temp).mean() > 0.8)
        x = self._design(start, hours, weather)
        keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
        if keep.sum() < 24 * 7:
            raise ValueError("need at least a week of load to fit the baseline")
        x, y = x[keep], y[keep]
        # A light ridge keeps hours of the week that are seldom seen near the overall level.
        penalty = 1.0 * np.eye(x.shape[1])
        mean = float(y.mean())
        self._coef = np.linalg.solve(x.T @ x + penalty, x.T @ (y - mean))
        self._mean = mean
        resid = y - (x @ self._coef + mean)
        local_hour = np.array([(start + i * HOUR).astimezone(ZoneInfo(self.tz)).hour for i in range(hours)])[keep]
        for h in range(24):
            r = resid[local_hour == h]
            self._band[h] = np.percentile(r, [10, 90]) if r.size >= 5 else np.percentile(resid, [10, 90])
        return self

    def predict(self, start: datetime, hours: int, weather: Weather | None = None) -> Forecast:
        if self._coef is None:
            raise RuntimeError("fit the baseline first")
        x = self._design(start, hours, weather)
        p50 = np.clip(x @ self._coef + self._mean, 0.0, None)
        zone = ZoneInfo(self.tz)
        local_hour = np.array([(start + i * HOUR).astimezone(zone).hour for i in range(hours)])
        p10 = np.clip(p50 + self._band[local_hour, 0], 0.0, None)
        p90 = p50 + self._band[local_hour, 1]
        return Forecast(start, p50, p10, p90, method="time_of_week_temperature")


def _fill_small_gaps(values: FloatArray) -> FloatArray:
    known = np.flatnonzero(np.isfinite(values))
    if known.size == 0:
        return values
    return np.interp(np.arange(len(values)), known, values[known])


# --- the formula ------------------------------------------------------------------------------


def t_value(confidence: float, dof: float) -> float:
    """Two-sided Student-t value (at least one degree of freedom)."""
    return float(stats.t.ppf(0.5 + confidence / 2.0, max(dof, 1.0)))


def effective_points(n: float, rho: float) -> float:
    rho = min(max(rho, 0.0), 0.99)
    return n * (1.0 - rho) / (1.0 + rho)


def savings_half_width(
    cv_rmse: float, n: float, rho: float, m: float, baseline_total: float, confidence: float
) -> float:
    """``dE`` of the module docstring: the band's half-width in the units of the totals."""
    n_eff = effective_points(n, rho)
    if n_eff <= 0 or m <= 0:
        return math.inf
    t = t_value(confidence, n_eff - MODEL_PARAMETERS)
    return t * EMPIRICAL_FACTOR * cv_rmse * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / m) * abs(baseline_total)


def fractional_savings_uncertainty(
    cv_rmse: float, n: float, rho: float, m: float, savings_fraction: float, confidence: float
) -> float:
    """Guideline 14's FSU (``dE / E_save``) for a savings fraction ``F``."""
    if savings_fraction == 0:
        return math.inf
    return savings_half_width(cv_rmse, n, rho, m, 1.0, confidence) / abs(savings_fraction)


# --- baseline accuracy from validation ---------------------------------------------------------


@dataclass(frozen=True)
class ValidationFold:
    """One out-of-sample prediction before ``T``: ``actual`` and ``predicted`` hourly values."""

    start: datetime
    actual: FloatArray
    predicted: FloatArray


@dataclass(frozen=True)
class BaselineAccuracy:
    """Accuracy of the baseline model on points it was not trained on."""

    granularity: Granularity
    n: int
    mean: float
    rmse: float
    cv_rmse: float
    nmbe: float  # mean bias error / mean; positive when the model predicts too much
    rho: float
    n_effective: float


BLOCK_HOURS: dict[str, int] = {"hourly": 1, "daily": 24, "weekly": 168}


def _points(fold: ValidationFold, granularity: Granularity) -> tuple[FloatArray, FloatArray]:
    """Sums over consecutive blocks of the granularity; a block with a gap is dropped (NaN),
    which also breaks the lag-1 pairs around it."""
    size = BLOCK_HOURS[granularity]
    blocks = len(fold.actual) // size
    a = fold.actual[: size * blocks].reshape(blocks, size)
    p = fold.predicted[: size * blocks].reshape(blocks, size)
    complete = np.isfinite(a).all(axis=1) & np.isfinite(p).all(axis=1)
    return np.where(complete, a.sum(axis=1), np.nan), np.where(complete, p.sum(axis=1), np.nan)


def accuracy_from_folds(
    folds: Sequence[ValidationFold], granularity: Granularity = DEFAULT_GRANULARITY
) -> BaselineAccuracy:
    """CV(RMSE), NMBE and lag-1 autocorrelation of out-of-sample residuals.

    Lag-1 pairs are taken within each fold only (folds are separate stretches of time).
    """
    actual_parts, resid_parts = [], []
    for fold in folds:
        a, p = _points(fold, granularity)
        actual_parts.append(a)
        resid_parts.append(a - p)
    actual = np.concatenate(actual_parts) if actual_parts else np.zeros(0)
    resid = np.concatenate(resid_parts) if resid_parts else np.zeros(0)
    keep = np.isfinite(resid)
    n = int(keep.sum())
    if n < 3:
        raise ValueError("too few validation points to judge the baseline")
    mean = float(actual[keep].mean())
    rmse = float(math.sqrt(np.sum(resid[keep] ** 2) / max(n - MODEL_PARAMETERS, 1)))
    centred = [r - float(resid[keep].mean()) for r in resid_parts]
    num = sum(float(np.nansum(c[1:] * c[:-1])) for c in centred)
    den = float(np.nansum(np.concatenate(centred) ** 2))
    rho = max(0.0, num / den) if den > 0 else 0.0
    scale = abs(mean) if mean != 0 else math.nan
    return BaselineAccuracy(
        granularity=granularity,
        n=n,
        mean=mean,
        rmse=rmse,
        cv_rmse=rmse / scale,
        nmbe=float(-resid[keep].sum() / (n * scale)),
        rho=rho,
        n_effective=effective_points(n, rho),
    )


def validate_baseline(
    load: HourlySeries,
    before: datetime,
    model: ModelSource,
    *,
    fold_hours: int,
    folds: int = 2,
    weather: Weather | None = None,
    min_training_hours: int = 24 * 28,
) -> tuple[ValidationFold, ...]:
    """Rolling-origin validation ending at ``before``: fold ``j`` trains on data before
    ``before - j * fold_hours`` and predicts the ``fold_hours`` after.

    Folds without ``min_training_hours`` of history are skipped, and so is a fold whose model
    refuses its data (a model may need more history than the fold offers): fewer folds mean
    fewer validation points, which the formula's t-value and ``n`` already account for.
    """
    end = load.index_of(before)
    result = []
    for j in range(1, folds + 1):
        origin = end - j * fold_hours
        if origin < min_training_hours:
            break
        origin_time = load.start + origin * HOUR
        fitted = _fresh_model(model)
        try:
            fitted.fit(load.window(load.start, origin), _window(weather, load.start, origin))
            forecast = fitted.predict(origin_time, fold_hours, _window(weather, load.start, origin + fold_hours))
        except (ValueError, RuntimeError) as err:
            _LOGGER.warning("validation fold from %s skipped: %s", origin_time.isoformat(), err)
            continue
        actual = load.window(origin_time, fold_hours).values
        result.append(ValidationFold(origin_time, actual, _p50_on(forecast, origin_time, fold_hours)))
    return tuple(reversed(result))


def _p50_on(forecast: Forecast, start: datetime, hours: int) -> FloatArray:
    return forecast.median().window(start, hours).values


def fit_baseline(
    load: HourlySeries,
    before: datetime,
    hours: int,
    model: ModelSource,
    *,
    weather: Weather | None = None,
) -> Forecast:
    """The counterfactual: a model trained on data before ``before``, run over ``hours``."""
    end = load.index_of(before)
    if end <= 0:
        raise ValueError("no history before the change")
    fitted = _fresh_model(model)
    fitted.fit(load.window(load.start, end), _window(weather, load.start, end))
    return fitted.predict(before, hours, _window(weather, load.start, end + hours))


# --- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavingsReport:
    """Verified savings over a reporting period, with a Guideline 14 uncertainty band.

    Energies are kWh over the hours with metered data (``hours_used``). ``savings_kwh`` is
    positive when less was used than the baseline predicts. The band is ``savings_kwh ±
    uncertainty_kwh`` at ``confidence``; ``significant`` says whether it excludes zero.
    """

    reporting_start: datetime
    reporting_hours: int
    hours_used: int
    baseline_kwh: float
    metered_kwh: float
    savings_kwh: float
    savings_fraction: float
    uncertainty_kwh: float
    lower_kwh: float
    upper_kwh: float
    confidence: float
    fsu: float  # uncertainty / |savings| at ``confidence``
    fsu_68: float  # the same at 68 %, the guideline's reporting bar
    significant: bool
    meets_guideline14: bool
    accuracy: BaselineAccuracy
    baseline_method: str
    reasons: tuple[str, ...]

    @property
    def savings_pct(self) -> float:
        return 100.0 * self.savings_fraction

    @property
    def uncertainty_pct(self) -> float:
        """Half-width of the band as a percentage of the baseline."""
        return 100.0 * self.uncertainty_kwh / self.baseline_kwh if self.baseline_kwh else math.inf


def savings_from_baseline(
    baseline: Forecast,
    metered: HourlySeries,
    accuracy: BaselineAccuracy,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> SavingsReport:
    """Compare metered load with a baseline forecast whose out-of-sample accuracy is known."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    hours = len(baseline)
    actual = metered.window(baseline.start, hours).values
    used = np.isfinite(actual) & np.isfinite(baseline.p50)
    hours_used = int(used.sum())
    e_base = float(baseline.p50[used].sum())
    e_met = float(actual[used].sum())
    e_save = e_base - e_met
    fraction = e_save / e_base if e_base else math.nan
    m = hours_used / BLOCK_HOURS[accuracy.granularity]
    args = (accuracy.cv_rmse, accuracy.n, accuracy.rho, m, e_base)
    half = savings_half_width(*args, confidence) if hours_used else math.inf
    half_68 = savings_half_width(*args, GUIDELINE14_CONFIDENCE) if hours_used else math.inf
    fsu = half / abs(e_save) if e_save else math.inf
    fsu_68 = half_68 / abs(e_save) if e_save else math.inf
    significant = bool(abs(e_save) > half)
    reasons: list[str] = []
    if hours_used == 0:
        reasons.append("no_metered_data_in_reporting_period")
    elif significant:
        reasons.append("savings_verified" if e_save > 0 else "consumption_increased")
    else:
        reasons.append("no_change_distinguishable_from_baseline_noise")
    if hours_used and hours_used < hours * 0.9:
        reasons.append("reporting_period_has_gaps")
    if accuracy.cv_rmse > (0.30 if accuracy.granularity == "hourly" else 0.25) or abs(accuracy.nmbe) > 0.10:
        reasons.append("baseline_less_accurate_than_guideline14_asks")
    meets = bool(significant and e_save > 0 and fsu_68 < GUIDELINE14_MAX_FSU)
    if meets:
        reasons.append("meets_guideline14_precision")
    return SavingsReport(
        reporting_start=baseline.start,
        reporting_hours=hours,
        hours_used=hours_used,
        baseline_kwh=e_base,
        metered_kwh=e_met,
        savings_kwh=e_save,
        savings_fraction=fraction,
        uncertainty_kwh=half,
        lower_kwh=e_save - half,
        upper_kwh=e_save + half,
        confidence=confidence,
        fsu=fsu,
        fsu_68=fsu_68,
        significant=significant,
        meets_guideline14=meets,
        accuracy=accuracy,
        baseline_method=baseline.method,
        reasons=tuple(reasons),
    )


def verify_savings(
    load: HourlySeries,
    applied_at: datetime,
    baseline: Forecast | ModelSource,
    *,
    reporting_hours: int | None = None,
    weather: Weather | None = None,
    accuracy: BaselineAccuracy | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    granularity: Granularity = DEFAULT_GRANULARITY,
    folds: int = 2,
    min_training_days: int = 28,
) -> SavingsReport:
    """Verified savings since ``applied_at`` from the metered ``load`` (history and after).

    ``baseline`` is a load model (an unfitted instance, a class, or a factory; fresh copies
    are trained on data before ``applied_at`` only), or a ready baseline :class:`Forecast`
    together with its out-of-sample ``accuracy``. The reporting period runs ``reporting_hours``
    from ``applied_at`` (default: to the end of ``load``).
    """
    if reporting_hours is None:
        reporting_hours = len(load) - load.index_of(applied_at)
    if reporting_hours <= 0:
        raise ValueError("no reporting period after the change")
    if isinstance(baseline, Forecast):
        if accuracy is None:
            raise ValueError("a ready baseline forecast needs its out-of-sample accuracy")
        forecast = baseline
    else:
        if accuracy is None:
            # Validation folds as long as the reporting period (a week to four weeks), so the
            # residuals describe predictions of the same horizon.
            fold_hours = min(max(reporting_hours, 24 * 7), 24 * 28)
            fold_hours -= fold_hours % 24
            # Each fold's model gets at least ``min_training_days`` plus its own horizon of
            # history, as much as a lag-based model needs to see its longest lags.
            validation = validate_baseline(
                load, applied_at, baseline, fold_hours=fold_hours, folds=folds, weather=weather,
                min_training_hours=24 * min_training_days + fold_hours,
            )  # fmt: skip
            if not validation:
                raise ValueError(
                    f"need {min_training_days} days of history plus twice the reporting length before the change"
                )
            accuracy = accuracy_from_folds(validation, granularity)
        forecast = fit_baseline(load, applied_at, reporting_hours, baseline, weather=weather)
    return savings_from_baseline(forecast, load, accuracy, confidence=confidence)

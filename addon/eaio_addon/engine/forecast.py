"""Day-ahead and intra-day hourly load forecasts with a calibrated band.

Model. Gradient-boosted trees (squared error) on the local calendar, lags of the load and,
when given, weather for the forecast hours, averaged with a ridge regression on the same
inputs (the local hour one-hot, alone and on off days, in place of the raw calendar). The
two err differently: the trees find interactions, the linear model extrapolates smoothly and
is less thrown by the noise. The central forecast is the conditional *mean*
(stored in ``Forecast.p50``): energy totals, bills and savings need an unbiased forecast,
and household load is skewed enough that a true median would under-forecast them.

No leakage, by construction. A target hour ``k`` hours after the issue time (k = 1, 2, ...)
belongs to lag block ``d = ceil(k / 24)``, with a model per block. Its inputs are the target
hour's local calendar; lags at least ``24 d`` hours before the target (same local clock
hour ``d`` days ago, same-hour means over the week and the four weeks before that, same
hour last week, the mean level of the 24 h and 7 d ending ``24 d`` hours back), which are
before the issue time whatever hour it is issued at; what was known at the issue time itself (mean of the last
24 h and 3 h, the last value) with ``k``; and, when given, weather for the target hour.
Training pairs each target hour with the local midnight that issues its day-ahead forecast
and with one other issue hour drawn at random (seeded), so the same models serve day-ahead
forecasts from midnight and intra-day ones from any hour. Weather for the forecast hours
only comes from the caller's forecast, never from the stored history; and a model trained
on data at or after the issue time is never used (``predict`` retrains on the data before).

Band and size. The last weeks of history are held out: a model trained on the data before
them forecasts them, which picks the number of boosting rounds (the fewest within 0.5 % of
the best error: household load is mostly noise, and more rounds fit the noise), the ridge
model's weight in the average (the tenth from 0 to 1 with the least squared error), the
weights of the two simple rules next to that average (same hour yesterday and same hour last
week, every split in tenths including each rule alone, so a home whose load the models cannot
learn gets the rule that does best on it, never worse on the held-out weeks) and gives
the band, as the blended forecast's errors' quantiles within three bands of forecast level.
The final models are trained on everything with that many rounds and that weight. The band is therefore measured out of
sample on recent data rather than assumed. With too little history, a seasonal-naive
forecast (same hour last week) takes over, with a band from its own past errors.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
import math
from statistics import NormalDist
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .calendar import FEATURE_NAMES, IntArray, calendar_features, zone
from .series import HOUR, FloatArray, Forecast, HourlySeries, _utc_hour

DAY = 24
WEEK = 168
PROFILE_DAYS = 7  # same-hour mean over a week of days: smooths hourly noise, keeps the shape
PROFILE_WEEKS = 4  # same hour-of-week mean over four weeks: weekday routines
LEVEL_BINS = 3  # band quantiles per third of forecast level: low hours vary less
MIN_BIN_ERRORS = 30  # fewer errors than this in a level bin cannot place its P10 and P90
MIN_TRAINING_HOURS = 2 * DAY  # below this a model is no better than repeating last week
STOP_TOLERANCE = 1.005  # fewest rounds whose held-out error is within 0.5 % of the best
SEARCH_PERIODS = 4  # how many periods back the seasonal-naive forecast looks past a gap
RIDGE_ALPHAS = np.logspace(-1, 4, 11)  # ridge penalty chosen among these by leave-one-out error
BLEND_WEIGHTS = np.linspace(0.0, 1.0, 11)  # ridge weight in the average, chosen on held-out weeks
RULE_WEIGHTS = np.linspace(0.0, 1.0, 11)  # simple rules' weights next to the model, in tenths
NAIVE_LAG, SEASONAL_LAG, WEEK_LEVEL, LONG_PROFILE = 0, 1, 5, 6  # columns of lag_features

GRADIENT_BOOSTING = "gradient_boosting"
SEASONAL_NAIVE = "seasonal_naive"


@dataclass(frozen=True)
class ModelOptions:
    """Tuning knobs. The defaults are meant for any single home's noisy hourly load; what was
    compared to choose them is written down in benchmarks/README.md.

    ``refit_every_hours``: ``update`` retrains once this much new data has arrived (between
    refits, forecasts still use the newest load through the lags). ``calibration_days``:
    recent history held out to measure the band. ``max_days_ahead``: beyond this, hours fall
    back to seasonal naive. ``max_history_days``: older data is dropped to bound training time.
    ``random_issues``: issue hours drawn per target hour for training, besides its midnight.
    """

    loss: str = "squared_error"
    learning_rate: float = 0.05
    max_iter: int = 300
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    refit_every_hours: int = WEEK
    calibration_days: int = 28
    max_days_ahead: int = 7
    max_history_days: int = 730
    holidays: Collection[date] = field(default_factory=tuple)
    random_issues: int = 1
    seed: int = 0


def _linear_inputs(x: FloatArray) -> FloatArray:
    """The ridge model's inputs from the model inputs: local hour one-hot, the same on off
    days only, then every column after the calendar (missing values are imputed later)."""
    calendar = len(FEATURE_NAMES)
    hour = np.clip(x[:, FEATURE_NAMES.index("hour")].astype(np.int64), 0, DAY - 1)
    one_hot = np.eye(DAY)[hour]
    off = x[:, FEATURE_NAMES.index("off_day"), None]
    return np.column_stack([one_hot, one_hot * off, x[:, calendar:]])


def _ridge() -> Pipeline:
    # Standardised, so the penalty means the same whatever the home's scale of load.
    return make_pipeline(
        SimpleImputer(keep_empty_features=True), StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)
    )


def _simple_rules(x: FloatArray, model: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The simple rules' forecasts (same hour yesterday, same hour last week) from the model
    inputs, relative to the level like the model's; the model's own where a rule has no value."""
    lags = len(FEATURE_NAMES)
    naive, seasonal = x[:, lags + NAIVE_LAG], x[:, lags + SEASONAL_LAG]
    return np.where(np.isnan(naive), model, naive), np.where(np.isnan(seasonal), model, seasonal)


def _rule_weights(goal: FloatArray, model: FloatArray, naive: FloatArray, seasonal: FloatArray) -> tuple[float, float]:
    """Weights of (same hour yesterday, same hour last week) next to the model, on held-out rows.

    Every split in tenths is tried, the rules alone included, so the combination chosen is
    never worse on the held-out weeks than the best simple rule: a home whose load the model
    cannot learn ends with the rule that does best on it.
    """
    best, chosen = math.inf, (0.0, 0.0)
    for wn in RULE_WEIGHTS:
        for ws in RULE_WEIGHTS:
            if wn + ws > 1.0 + 1e-9:
                break
            combined = (1.0 - wn - ws) * model + wn * naive + ws * seasonal
            error = float(np.mean((goal - combined) ** 2))
            if error < best - 1e-12:
                best, chosen = error, (float(wn), float(ws))
    return chosen


@dataclass(frozen=True)
class _Blend:
    """Boosted trees and a ridge regression on the same inputs, averaged with a weight, then
    combined with the simple rules (same hour yesterday and last week) at weights chosen on
    held-out weeks."""

    boosted: HistGradientBoostingRegressor
    ridge: Pipeline
    ridge_weight: float
    naive_weight: float = 0.0
    seasonal_weight: float = 0.0

    def predict(self, x: FloatArray) -> FloatArray:
        out = self.boosted.predict(x)
        if self.ridge_weight > 0.0:
            out = (1.0 - self.ridge_weight) * out + self.ridge_weight * self.ridge.predict(_linear_inputs(x))
        if self.naive_weight > 0.0 or self.seasonal_weight > 0.0:
            naive, seasonal = _simple_rules(x, out)
            model_weight = 1.0 - self.naive_weight - self.seasonal_weight
            out = model_weight * out + self.naive_weight * naive + self.seasonal_weight * seasonal
        return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class _BlockModel:
    """A trained model for one lag block and one set of weather inputs."""

    regressor: _Blend
    level_edges: FloatArray  # forecast levels splitting the band into LEVEL_BINS
    lower: FloatArray  # error quantile added to the forecast, per level bin
    upper: FloatArray
    cutoff: datetime  # the model saw no data at or after this hour


def _shift(values: FloatArray, hours: int) -> FloatArray:
    """``out[t] = values[t - hours]`` (NaN where that is before the array)."""
    out = np.full_like(values, np.nan)
    if hours < len(values):
        out[hours:] = values[: len(values) - hours]
    return out


def _nanmean(arrays: list[FloatArray]) -> FloatArray:
    """Element-wise mean ignoring NaN; NaN where every input is NaN (without a warning)."""
    stack = np.vstack(arrays)
    valid = ~np.isnan(stack)
    count = valid.sum(axis=0)
    total = np.where(valid, stack, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _trailing_mean(values: FloatArray, hours: int) -> FloatArray:
    """Mean of the ``hours`` values ending at each position, ignoring NaN."""
    valid = ~np.isnan(values)
    total = np.concatenate([[0.0], np.cumsum(np.where(valid, values, 0.0))])
    count = np.concatenate([[0], np.cumsum(valid)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - hours, 0)
    n = count[idx] - count[lo]
    return np.where(n > 0, (total[idx] - total[lo]) / np.maximum(n, 1), np.nan)


def _local_lag(load: FloatArray, day_hour: IntArray, days: int, min_back: int) -> FloatArray:
    """Load at the same local hour ``days`` days earlier, never fewer than ``min_back`` hours back.

    Across a clock change the same local hour is 23 or 25 hours per day away; where that
    would come nearer than ``min_back`` (and so possibly after the issue time) the hour
    ``min_back`` back is taken instead. A skipped local hour gives the hour after it.
    """
    n = load.size
    want = day_hour - DAY * days
    found = np.minimum(np.searchsorted(day_hour, want, side="left"), n - 1)
    valid = (want >= day_hour[0]) & (day_hour[found] - want <= 1)
    position = np.minimum(found, np.arange(n) - min_back)
    valid &= position >= 0
    out = np.full(n, np.nan)
    out[valid] = load[position[valid]]
    return out


def lag_features(load: FloatArray, day_hour: IntArray, block: int) -> FloatArray:
    """Load-derived inputs for every position, using only values ``24 * block`` h back or more.

    ``day_hour`` is the local calendar's hour numbering (``CalendarFeatures.day_hour``), so
    "same hour" means the same local clock hour. Columns: same hour ``block`` days ago, same
    hour last week (or the latest week allowed), same-hour mean over ``PROFILE_DAYS`` days,
    same hour-of-week mean over ``PROFILE_WEEKS`` weeks, mean of the 24 h and of the 168 h
    ending ``24 * block`` h back, and a long same-hour mean (four weeks of days) that
    carries the home's usual shape through gaps.
    """
    back = DAY * block
    week_days = 7 * math.ceil(block / 7)
    day_lags = [_local_lag(load, day_hour, block + j, back) for j in range(4 * PROFILE_DAYS)]
    week_lags = [_local_lag(load, day_hour, week_days + 7 * j, back) for j in range(PROFILE_WEEKS)]
    return np.column_stack(
        [
            day_lags[0],
            week_lags[0],
            _nanmean(day_lags[:PROFILE_DAYS]),
            _nanmean(week_lags),
            _shift(_trailing_mean(load, DAY), back),
            _shift(_trailing_mean(load, WEEK), back),
            _nanmean(day_lags),
        ]
    )


def issue_features(load: FloatArray, issue: IntArray, target: IntArray) -> FloatArray:
    """What is known at each issue position: last 24 h and 3 h means, last value, hours ahead."""
    known = issue - 1  # the last hour before the issue time
    day, recent = _trailing_mean(load, DAY), _trailing_mean(load, 3)
    picked = np.where(known >= 0, known, 0)
    valid = known >= 0
    columns = [np.where(valid, day[picked], np.nan), np.where(valid, recent[picked], np.nan),
               np.where(valid, load[picked], np.nan), (target - issue + 1).astype(np.float64)]  # fmt: skip
    return np.column_stack(columns)


def training_pairs(
    local_hour: IntArray, block: int, random_issues: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Target and issue positions for block ``block``: each target's midnight issue, plus draws.

    The midnight one is the local midnight ``block - 1`` days before the target's day (the
    day-ahead case); the drawn ones are ``k`` hours ahead with ``k`` uniform in the block.
    Only pairs with ``24 (block - 1) < k <= 24 block`` are kept, so a 25-hour day's last hour
    falls to the next block, as it does when forecasting.
    """
    n = local_hour.size
    positions = np.arange(n)
    midnights = np.flatnonzero(local_hour == 0)
    which = np.searchsorted(midnights, positions, side="right") - 1 - (block - 1)
    has = which >= 0
    targets = [positions[has]]
    issues = [midnights[which[has]]]
    lo, hi = DAY * (block - 1) + 1, DAY * block
    for _ in range(random_issues):
        targets.append(positions)
        issues.append(positions - rng.integers(lo, hi + 1, size=n) + 1)
    target, issue = np.concatenate(targets), np.concatenate(issues)
    ahead = target - issue + 1
    keep = (issue >= 1) & (ahead >= lo) & (ahead <= hi)
    return target[keep], issue[keep]


def _observed_hours(series: HourlySeries) -> int:
    return int(np.count_nonzero(~np.isnan(series.values)))


def _before(series: HourlySeries, when: datetime) -> HourlySeries:
    """The part of ``series`` strictly before ``when`` (empty if it starts later)."""
    n = min(max(series.index_of(when), 0), len(series))
    return HourlySeries(series.start, series.values[:n])


def _merge(old: HourlySeries | None, new: HourlySeries) -> HourlySeries:
    """One series covering both; where both have a value the newer one wins."""
    if old is None or len(old) == 0:
        return new
    start = min(old.start, new.start)
    end = max(old.end, new.end)
    merged = HourlySeries(start, np.full(int((end - start) / HOUR), np.nan)).values.copy()
    for part in (old, new):
        offset = int((part.start - start) / HOUR)
        segment = merged[offset : offset + len(part)]
        np.copyto(segment, part.values, where=~np.isnan(part.values))
    return HourlySeries(start, merged)


def _z(quantile: float) -> float:
    return NormalDist().inv_cdf(quantile)


def _band_from_errors(
    center: FloatArray, errors: FloatArray, quantiles: tuple[float, float, float]
) -> tuple[FloatArray, FloatArray]:
    lo, hi = np.quantile(errors, [quantiles[0], quantiles[2]])
    return center + lo, center + hi


def _finish(
    start: datetime,
    p50: FloatArray,
    p10: FloatArray,
    p90: FloatArray,
    method: str,
    notes: list[str],
) -> Forecast:
    """Clip at zero (loads are non-negative) and keep the band around the centre."""
    p50 = np.maximum(p50, 0.0)
    p10 = np.clip(p10, 0.0, p50)
    p90 = np.maximum(p90, p50)
    return Forecast(start, p50, p10, p90, method, tuple(notes))


def seasonal_naive(
    load: HourlySeries,
    start: datetime,
    hours: int,
    period_hours: int = WEEK,
    quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9),
) -> Forecast:
    """Each hour repeats the same hour one period earlier (before ``start``), with a band.

    Past a gap it looks further back (up to ``SEARCH_PERIODS`` periods), then to the same hour
    on earlier days, then to the mean of the history. The band comes from this method's own
    errors over the history (one period apart, else one day apart); with less than a day of
    such errors it is the normal band of the history's spread (documented heuristic).
    """
    start = _utc_hour(start)
    history = _before(load, start)
    if _observed_hours(history) == 0:
        raise ValueError("no load history before the forecast start")
    notes: list[str] = []
    p50 = _repeat_period(history, start, hours, period_hours, notes)
    p10, p90 = _naive_band(history, p50, period_hours, quantiles, notes)
    return _finish(start, p50, p10, p90, SEASONAL_NAIVE, notes)


def _repeat_period(
    history: HourlySeries, start: datetime, hours: int, period: int, notes: list[str]
) -> FloatArray:
    values = history.values
    n = len(values)
    targets = np.arange(hours) + history.index_of(start)  # target positions on history's axis
    out: FloatArray = np.full(hours, np.nan)
    for step, candidates in (
        (period, range(1, SEARCH_PERIODS + 1)),
        (DAY, range(1, PROFILE_DAYS + 1)),
    ):
        missing = np.isnan(out)
        if not missing.any():
            break
        if step != period:
            notes.append("same hour on earlier days used where last period's value was missing")
        for j in candidates:
            # Lag must reach before start for every hour: first multiple past the horizon.
            src = targets - step * (j + (targets - n) // step)
            ok = missing & (src >= 0) & (src < n)
            picked: FloatArray = np.full(hours, np.nan)
            picked[ok] = values[src[ok]]
            out = np.where(np.isnan(out), picked, out)
            missing = np.isnan(out)
    if np.isnan(out).any():
        out = np.where(np.isnan(out), float(np.nanmean(values)), out)
        notes.append("history mean used where no earlier value of the same hour exists")
    return out


def _naive_band(
    history: HourlySeries,
    p50: FloatArray,
    period: int,
    quantiles: tuple[float, float, float],
    notes: list[str],
) -> tuple[FloatArray, FloatArray]:
    values = history.values[-8 * WEEK :]
    for step in (period, DAY):
        errors = values[step:] - values[:-step] if len(values) > step else np.empty(0)
        errors = errors[~np.isnan(errors)]
        if errors.size >= DAY:
            notes.append(f"band from {errors.size} past errors of a {step} h repeat")
            return _band_from_errors(p50, errors, quantiles)
    spread = float(np.nanstd(values))
    notes.append("band: normal spread of the history (too little history for past errors)")
    return p50 + _z(quantiles[0]) * spread, p50 + _z(quantiles[2]) * spread


class LoadForecaster:
    """Hourly load forecaster for one home: ``fit`` once, ``update`` as data arrives, ``predict``.

    ``tz`` is the home's IANA zone (calendar features are local). ``quantiles`` are the band
    edges and the centre; the centre must be 0.5 and is forecast as the conditional mean
    (see the module docstring). With fewer than ``min_history_days`` days of observed load
    before the issue time, forecasts are seasonal naive. ``model_options`` are the fields of
    ``ModelOptions``.
    """

    def __init__(
        self,
        tz: str = "UTC",
        quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9),
        min_history_days: int = 14,
        **model_options: Any,
    ) -> None:
        lo, mid, hi = quantiles
        if not (0.0 < lo < mid < hi < 1.0) or mid != 0.5:
            raise ValueError("quantiles must be (low, 0.5, high) with 0 < low < 0.5 < high < 1")
        unknown = set(model_options) - set(ModelOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown model options: {sorted(unknown)}")
        zone(tz)  # fail early on an unknown zone name
        self.tz = tz
        self.quantiles = (lo, mid, hi)
        self.min_history_days = min_history_days
        self.options = ModelOptions(**model_options)
        self._load: HourlySeries | None = None
        self._weather: dict[str, HourlySeries] = {}
        self._models: dict[tuple[int, tuple[str, ...]], _BlockModel] = {}
        self._past_models: dict[tuple[int, tuple[str, ...], datetime], _BlockModel] = {}
        self._fit_keys: tuple[str, ...] = ()
        self._fitted_until: datetime | None = None

    # -- public interface -------------------------------------------------------------------

    @property
    def method(self) -> str:
        """What the next forecast from the end of the data would use."""
        if self._load is not None and _observed_hours(self._load) >= self._min_hours:
            return GRADIENT_BOOSTING
        return SEASONAL_NAIVE

    def fit(self, load: HourlySeries, weather: Mapping[str, HourlySeries] | None = None) -> LoadForecaster:
        """Replace the history with ``load`` (and weather actuals) and retrain."""
        self._load = self._trim(load)
        self._weather = dict(weather or {})
        self._fit_keys = tuple(sorted(self._weather))
        self._retrain()
        return self

    def update(self, load: HourlySeries, weather: Mapping[str, HourlySeries] | None = None) -> None:
        """Add new data; retrain once ``refit_every_hours`` of new data have come in.

        Between retrains the models are kept but forecasts still use the new load as lags,
        which is where most of the new information is; a retrain costs a couple of fits.
        """
        self._load = self._trim(_merge(self._load, load))
        for key, series in (weather or {}).items():
            self._weather[key] = _merge(self._weather.get(key), series)
        self._fit_keys = tuple(sorted(set(self._fit_keys) | set(weather or {})))
        end = self._data_end()
        due = self._fitted_until is None or (
            end is not None and end - self._fitted_until >= self.options.refit_every_hours * HOUR
        )
        # Enough history has just arrived for a model: do not wait for the schedule.
        due |= not self._models and _observed_hours(self._load) >= self._min_hours
        if due:
            self._retrain()

    def predict(
        self, start: datetime, hours: int, weather: Mapping[str, HourlySeries] | None = None
    ) -> Forecast:
        """Forecast ``hours`` hours from the issue time ``start``, using only data before it."""
        start = _utc_hour(start)
        if hours < 1:
            raise ValueError("hours must be at least 1")
        if self._load is None:
            raise RuntimeError("call fit() before predict()")
        history = _before(self._load, start)
        observed = _observed_hours(history)
        if observed < self._min_hours:
            forecast = seasonal_naive(history, start, hours, quantiles=self.quantiles)
            note = (f"{observed / DAY:.1f} days of load history before start, fewer than "
                    f"{self.min_history_days}: seasonal naive (same hour last week)")  # fmt: skip
            return Forecast(forecast.start, forecast.p50, forecast.p10, forecast.p90,
                            forecast.method, (note, *forecast.notes))  # fmt: skip
        return self._predict_model(history, start, hours, weather or {})

    # -- internals ---------------------------------------------------------------------------

    @property
    def _min_hours(self) -> int:
        return max(self.min_history_days, 3) * DAY  # the calibration split needs a few days

    def _trim(self, load: HourlySeries) -> HourlySeries:
        keep = self.options.max_history_days * DAY
        return load if len(load) <= keep else HourlySeries(load.end - keep * HOUR, load.values[-keep:])

    def _data_end(self) -> datetime | None:
        """The hour after the last observed load value."""
        if self._load is None:
            return None
        observed = np.flatnonzero(~np.isnan(self._load.values))
        return None if observed.size == 0 else self._load.start + (int(observed[-1]) + 1) * HOUR

    def _retrain(self) -> None:
        """Drop every model and train the day-ahead one eagerly, so ``fit`` carries the cost."""
        self._models.clear()
        self._past_models.clear()
        end = self._data_end()
        self._fitted_until = end
        if self._load is None or end is None or _observed_hours(self._load) < self._min_hours:
            return
        self._models[(1, self._fit_keys)] = self._train(1, self._fit_keys, end)

    def _model(self, block: int, keys: tuple[str, ...], start: datetime) -> tuple[_BlockModel, bool]:
        """A model that saw nothing at or after ``start``; True if it had to be retrained for it."""
        cached = self._models.get((block, keys))
        if cached is not None and cached.cutoff <= start:
            return cached, False
        end = self._data_end()
        if end is not None and end <= start:  # normal operation: all data is before start
            self._models[(block, keys)] = self._train(block, keys, end)
            return self._models[(block, keys)], False
        past_key = (block, keys, start)
        if past_key not in self._past_models:
            if len(self._past_models) > 8:
                self._past_models.clear()
            self._past_models[past_key] = self._train(block, keys, start)
        return self._past_models[past_key], cached is not None

    def _inputs(
        self, load: FloatArray, first: datetime, target: IntArray, issue: IntArray, block: int,
        weather: list[FloatArray],
    ) -> tuple[FloatArray, FloatArray]:  # fmt: skip
        """Model inputs for (target, issue) positions of ``load`` (which starts at ``first``)
        and the level they are relative to.

        Load inputs enter as differences from the level (the mean of the week ending
        ``24 d`` hours back, else the four-week same-hour mean), and the model forecasts the
        target's difference from it. Trees cannot forecast outside the range they were
        trained on, so a home whose load drifts to levels it has not shown before would
        otherwise be forecast at its old levels. ``weather`` columns are full-length like
        ``load``; calendar and lags are computed once up to the last target and gathered.
        """
        hi = int(target.max()) + 1
        cal = calendar_features(first, hi, self.tz, self.options.holidays)
        lags = lag_features(load[:hi], cal.day_hour, block)[target]
        known = issue_features(load, issue, target)
        level = np.where(np.isnan(lags[:, WEEK_LEVEL]), lags[:, LONG_PROFILE], lags[:, WEEK_LEVEL])
        relative = [c for c in range(lags.shape[1]) if c != WEEK_LEVEL]
        lags[:, relative] -= level[:, None]
        known[:, :3] -= level[:, None]  # the last column is the hours ahead
        columns = [cal.matrix()[target], lags, known, *(w[target, None] for w in weather)]
        return np.column_stack(columns), level

    def _regressor(self, rounds: int) -> HistGradientBoostingRegressor:
        o = self.options
        return HistGradientBoostingRegressor(
            loss=o.loss,
            learning_rate=o.learning_rate,
            max_iter=rounds,
            max_leaf_nodes=o.max_leaf_nodes,
            min_samples_leaf=o.min_samples_leaf,
            l2_regularization=o.l2_regularization,
            early_stopping=False,
        )

    def _train(self, block: int, keys: tuple[str, ...], cutoff: datetime) -> _BlockModel:
        """Fit on data before ``cutoff``; the held-out recent weeks set the size and the band."""
        assert self._load is not None
        history = _before(self._load, cutoff)
        y = history.values
        local_hour = calendar_features(history.start, len(y), self.tz).hour
        rng = np.random.default_rng(self.options.seed)
        target, issue = training_pairs(local_hour, block, self.options.random_issues, rng)
        weather = [self._weather[k].window(history.start, len(y)).values for k in keys]
        if target.size < MIN_TRAINING_HOURS:
            raise ValueError(f"only {target.size} hours to train on")
        x, level = self._inputs(y, history.start, target, issue, block, weather)
        goal = y[target] - level
        usable = np.flatnonzero(~np.isnan(goal))  # rows without the target or a level teach nothing
        if usable.size < MIN_TRAINING_HOURS:
            raise ValueError(f"only {usable.size} usable hours to train on")
        hours = target[usable]
        span = int(hours.max() - hours.min()) + 1
        split = int(hours.max()) + 1 - min(self.options.calibration_days * DAY, span // 3)
        fit_rows, cal_rows = usable[hours < split], usable[hours >= split]
        linear = _linear_inputs(x)
        # One thread: these models are small, and threads fighting over a shared host's
        # cores cost far more than they save.
        with threadpool_limits(limits=1):
            early = self._regressor(self.options.max_iter).fit(x[fit_rows], goal[fit_rows])
            stages = list(early.staged_predict(x[cal_rows]))
            errors = np.array([np.mean((goal[cal_rows] - p) ** 2) for p in stages])
            rounds = int(np.flatnonzero(errors <= errors.min() * STOP_TOLERANCE)[0]) + 1
            final = self._regressor(rounds).fit(x[usable], goal[usable])
            held_out = _ridge().fit(linear[fit_rows], goal[fit_rows]).predict(linear[cal_rows])
            ridge = _ridge().fit(linear[usable], goal[usable])
        boosted = stages[rounds - 1]
        blends = [(1.0 - w) * boosted + w * held_out for w in BLEND_WEIGHTS]
        best = int(np.argmin([np.mean((goal[cal_rows] - b) ** 2) for b in blends]))
        weight, predicted = float(BLEND_WEIGHTS[best]), blends[best]
        naive, seasonal = _simple_rules(x[cal_rows], predicted)
        wn, ws = _rule_weights(goal[cal_rows], predicted, naive, seasonal)
        predicted = (1.0 - wn - ws) * predicted + wn * naive + ws * seasonal
        edges, lower, upper = self._band(level[cal_rows] + predicted, goal[cal_rows] - predicted)
        return _BlockModel(_Blend(final, ridge, weight, wn, ws), edges, lower, upper, cutoff)

    def _band(self, predicted: FloatArray, errors: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Error quantiles within each third of forecast level.

        A bin with too few errors (few data, or many equal forecasts) uses all the errors.
        """
        edges: FloatArray = np.asarray(
            np.quantile(predicted, np.linspace(0, 1, LEVEL_BINS + 1)[1:-1]), dtype=np.float64
        )
        which = np.searchsorted(edges, predicted)
        lo_q, _, hi_q = self.quantiles
        lower: FloatArray = np.empty(LEVEL_BINS)
        upper: FloatArray = np.empty(LEVEL_BINS)
        for b in range(LEVEL_BINS):
            chosen = errors[which == b]
            chosen = chosen if chosen.size >= MIN_BIN_ERRORS else errors
            lower[b], upper[b] = np.quantile(chosen, [lo_q, hi_q])
        return edges, lower, upper

    def _predict_model(
        self, history: HourlySeries, start: datetime, hours: int, weather: Mapping[str, HourlySeries]
    ) -> Forecast:
        notes: list[str] = []
        keys = self._usable_weather(start, hours, weather, notes)
        model_hours = min(hours, self.options.max_days_ahead * DAY)
        n = history.index_of(start)  # the history may stop short of the issue time
        load = history.window(history.start, n + model_hours).values
        forecast_weather = [
            np.concatenate([np.full(n, np.nan), weather[k].window(start, model_hours).values]) for k in keys
        ]
        p50, p10, p90 = (np.full(hours, np.nan) for _ in range(3))
        retrained = False
        for block in range(1, math.ceil(model_hours / DAY) + 1):
            lo, hi = (block - 1) * DAY, min(block * DAY, model_hours)
            model, again = self._model(block, keys, start)
            retrained |= again
            rules = model.regressor
            if block == 1 and rules.naive_weight + rules.seasonal_weight > 0.0:
                notes.append(f"combined with simple rules chosen on held-out weeks: same hour yesterday "
                             f"{rules.naive_weight:.0%}, same hour last week {rules.seasonal_weight:.0%}")
            target = np.arange(n + lo, n + hi)
            x, level = self._inputs(load, history.start, target, np.full(target.size, n), block, forecast_weather)
            if np.isnan(level).any():  # no load in the past four weeks: the history's mean level
                level = np.where(np.isnan(level), float(np.nanmean(history.values)), level)
            with threadpool_limits(limits=1):
                center = level + model.regressor.predict(x)
            which = np.searchsorted(model.level_edges, center)
            p50[lo:hi] = center
            p10[lo:hi] = center + model.lower[which]
            p90[lo:hi] = center + model.upper[which]
        if retrained:
            notes.append("models retrained on data before start (the fitted ones saw later data)")
        if _observed_hours(history.window(start - PROFILE_DAYS * DAY * HOUR, PROFILE_DAYS * DAY)) == 0:
            notes.append("no load in the 7 days before start: lags lean on older data")
        if model_hours < hours:
            tail = seasonal_naive(history, start, hours, quantiles=self.quantiles)
            p50[model_hours:], p10[model_hours:], p90[model_hours:] = (
                tail.p50[model_hours:], tail.p10[model_hours:], tail.p90[model_hours:])  # fmt: skip
            notes.append(f"hours after {model_hours}: seasonal naive (beyond max_days_ahead)")
        return _finish(start, p50, p10, p90, GRADIENT_BOOSTING, notes)

    def _usable_weather(
        self, start: datetime, hours: int, weather: Mapping[str, HourlySeries], notes: list[str]
    ) -> tuple[str, ...]:
        """Weather inputs both trained on and forecast for the hours asked (at least partly)."""
        keys = tuple(
            k for k in self._fit_keys
            if k in weather and np.any(~np.isnan(weather[k].window(start, hours).values))
        )  # fmt: skip
        missing = sorted(set(self._fit_keys) - set(keys))
        if missing:
            notes.append(f"no forecast given for {', '.join(missing)}: model without it")
        return keys

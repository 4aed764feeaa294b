"""PV forecast: the site's learned response to irradiance, or a clear-sky shape.

Solar geometry is computed here from latitude, longitude and time (declination and equation
of time from Spencer's Fourier series, hour angle from the true solar time), so nothing beyond
numpy is needed. The clear-sky irradiance is the Haurwitz model, and cloud cover is turned
into irradiance with the Kasten-Czeplak relation.

Two ways to forecast, chosen per hour:

- **With weather** (``"solar"`` W/m² global horizontal irradiance, or ``"cloud_cover"`` %,
  and optionally ``"temperature"`` °C): ``pv = b1 * x * k + b2 * x * (1 - k)``, where ``x`` is
  the irradiance derated for cell temperature and ``k`` the clear-sky index. Splitting by
  ``k`` lets a tilted array respond differently to direct sun and to diffuse light. The gains
  ``b1, b2`` are fitted by weighted least squares per UTC hour (a fixed offset from solar
  time, so daylight saving never shifts them), with a kernel over day of year for season and
  a ridge pull towards the site's pooled gain where an hour has little data.
- **Without weather**: the clear-sky shape times the site's clear-day response per hour
  (a high percentile of output / clear-sky irradiance over recent days), scaled by the
  distribution of recent days' yield relative to that clear-day potential.

Both learn the array as the data shows it: its size and its orientation and shading (a gain
per hour of the day), and its ageing (the clear-day response is re-learnt from the recent days).
Each fit also judges the array (``engine.pv_health``): when it produces far below what the sky
allows (dead, disconnected, covered, curtailed), the forecast falls back to the output measured
since it dropped, and ``health`` carries the evidence for an alert.

Values are kWh in the hour (the hour's mean kW), in the units of the history it was fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from .pv_health import PvHealth, assess, low_days_start
from .series import HOUR, FloatArray, Forecast, HourlySeries

SOLAR_KEY = "solar"
CLOUD_KEY = "cloud_cover"
TEMPERATURE_KEY = "temperature"

_SUBSTEPS = 12  # five-minute samples give hour means that are right at sunrise and sunset
_DAYLIGHT_WM2 = 20.0  # below this the clear-sky index is too noisy to use
_NOCT_RISE = 0.03  # °C of cell heating per W/m² (NOCT-style rule of thumb)


# --- solar geometry -------------------------------------------------------------------------


def _hour_starts(start: datetime, hours: int) -> FloatArray:
    """Seconds since the epoch of the start of each hour."""
    first = HourlySeries(start, np.zeros(0)).start.timestamp()
    return first + 3600.0 * np.arange(hours, dtype=np.float64)


def cos_zenith(epoch_seconds: FloatArray, latitude: float, longitude: float) -> FloatArray:
    """Cosine of the solar zenith angle at the given instants (may be negative at night)."""
    t = np.asarray(epoch_seconds, dtype=np.float64)
    days = t / 86400.0
    # Days since 1 January, to within a day: the leap-year cycle keeps the drift that small,
    # and a day moves the declination by under half a degree.
    day_of_year = np.floor(days % 365.2425)
    utc_hours = (t % 86400.0) / 3600.0
    gamma = 2.0 * np.pi / 365.0 * (day_of_year + (utc_hours - 12.0) / 24.0)
    decl = (
        0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma) + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma)
    )  # fmt: skip
    eot_minutes = 229.18 * (
        0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma)
    )  # fmt: skip
    solar_minutes = utc_hours * 60.0 + 4.0 * longitude + eot_minutes
    hour_angle = np.radians(solar_minutes / 4.0 - 180.0)
    lat = np.radians(latitude)
    result: FloatArray = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return result


def _day_of_year(epoch_seconds: FloatArray) -> FloatArray:
    # Fractional day of a 365.2425-day year; only used as a circular season coordinate.
    return np.asarray((epoch_seconds / 86400.0) % 365.2425, dtype=np.float64)


def clear_sky_ghi(start: datetime, hours: int, latitude: float, longitude: float) -> HourlySeries:
    """Hour-mean clear-sky global horizontal irradiance (W/m², Haurwitz model).

    Averaged over five-minute samples inside each hour, so the sunrise and sunset hours get
    their partial share instead of an all-or-nothing value.
    """
    base = _hour_starts(start, hours)
    offsets = (np.arange(_SUBSTEPS) + 0.5) * 3600.0 / _SUBSTEPS
    cz = cos_zenith((base[:, None] + offsets[None, :]).ravel(), latitude, longitude)
    cz = np.clip(cz, 0.0, None)
    with np.errstate(divide="ignore", over="ignore"):
        ghi = np.where(cz > 0.01, 1098.0 * cz * np.exp(-0.057 / np.maximum(cz, 0.01)), 0.0)
    return HourlySeries(start, ghi.reshape(hours, _SUBSTEPS).mean(axis=1))


def ghi_from_cloud_cover(clear_sky: FloatArray, cloud_cover_pct: FloatArray) -> FloatArray:
    """Kasten-Czeplak: GHI = GHI_clear * (1 - 0.75 * (cloud fraction) ** 3.4)."""
    fraction = np.clip(np.asarray(cloud_cover_pct, dtype=np.float64) / 100.0, 0.0, 1.0)
    result: FloatArray = clear_sky * (1.0 - 0.75 * fraction**3.4)
    return result


def cloud_cover_from_ghi(clear_sky: FloatArray, ghi: FloatArray) -> FloatArray:
    """Inverse of :func:`ghi_from_cloud_cover` (%); NaN where the sun is too low to tell."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.clip(ghi / clear_sky, 0.25, 1.0)
    cover = 100.0 * ((1.0 - k) / 0.75) ** (1.0 / 3.4)
    result: FloatArray = np.where(clear_sky > _DAYLIGHT_WM2, cover, np.nan)
    return result


# --- the forecaster -------------------------------------------------------------------------


@dataclass(frozen=True)
class _WeatherFit:
    hour: FloatArray  # UTC hour of each daylight training sample
    doy: FloatArray
    beam: FloatArray  # x * k
    diffuse: FloatArray  # x * (1 - k)
    pv: FloatArray
    pooled: float  # site-wide kWh per (derated W/m²)
    ratio_q: FloatArray  # (3 clear-sky-index bins, 2) p10/p90 of actual / fitted


@dataclass(frozen=True)
class _ClearFit:
    gain: FloatArray  # (24,) kWh per clear-sky W/m² on a clear day, by UTC hour
    scale: tuple[float, float, float]  # p10, p50, p90 of recent days' yield / clear-day potential


class PvForecaster:
    """Hourly PV forecast (p10/p50/p90) for one site.

    ``capacity_kw`` (optional) caps the forecast and gives a nameplate-based guess before any
    history exists. ``temperature_coefficient`` is the relative power change per °C of cell
    temperature above 25 °C (crystalline silicon is about -0.4 %/°C).
    """

    def __init__(
        self,
        latitude: float,
        longitude: float,
        *,
        capacity_kw: float | None = None,
        temperature_coefficient: float = -0.004,
        season_days: float = 30.0,
        recent_days: int = 21,
    ) -> None:
        if not -90.0 <= latitude <= 90.0 or not -180.0 <= longitude <= 360.0:
            raise ValueError("latitude/longitude out of range")
        self.latitude = latitude
        self.longitude = longitude
        self.capacity_kw = capacity_kw
        self.temperature_coefficient = temperature_coefficient
        self.season_days = season_days
        self.recent_days = recent_days
        self._weather_fit: _WeatherFit | None = None
        self._clear_fit: _ClearFit | None = None
        self._cap: float | None = capacity_kw
        self.health: PvHealth | None = None  # the array's verdict from the last fit

    # -- fitting --

    def fit(self, pv: HourlySeries, weather: Mapping[str, HourlySeries] | None = None) -> PvForecaster:
        """Learn the site's response from its PV history (and the weather of the same hours)."""
        cs = clear_sky_ghi(pv.start, len(pv), self.latitude, self.longitude).values
        values = np.where(pv.values < 0, 0.0, pv.values)
        finite = np.isfinite(values)
        if finite.any():
            observed_max = float(np.nanmax(values))
            self._cap = self.capacity_kw if self.capacity_kw is not None else 1.05 * observed_max
        solar = None if weather is None else weather.get(SOLAR_KEY)
        self.health = assess(HourlySeries(pv.start, values), cs, self.longitude, capacity_kw=self.capacity_kw,
                             irradiance=solar)  # fmt: skip
        first = low_days_start(self.health, pv.start)
        if first is not None:
            # The array is not producing what the sky allows: forecast what it has been producing
            # since, not what it used to (a weather fit on the older data would promise that).
            self._clear_fit = self._fit_clear(pv.start + first * HOUR, values[first:], cs[first:])
            self._weather_fit = None
            return self
        self._clear_fit = self._fit_clear(pv.start, values, cs)
        self._weather_fit = None
        if weather is not None:
            ghi = self._irradiance(weather, pv.start, len(pv), cs)
            if ghi is not None:
                temp = self._temperature(weather, pv.start, len(pv))
                self._weather_fit = self._fit_weather(pv.start, values, ghi, cs, temp)
        return self

    def _fit_clear(self, start: datetime, pv: FloatArray, cs: FloatArray) -> _ClearFit | None:
        n = len(pv)
        keep = max(0, n - 24 * self.recent_days)
        pv_r, cs_r = pv[keep:], cs[keep:]
        t = _hour_starts(start, n)[keep:]
        hours = ((t // 3600) % 24).astype(int)
        usable = np.isfinite(pv_r) & (cs_r > 2 * _DAYLIGHT_WM2)
        if usable.sum() < 24:
            return None
        ratio = pv_r[usable] / cs_r[usable]
        pooled = float(np.percentile(ratio, 90))
        gain = np.zeros(24)
        for h in range(24):
            sel = ratio[hours[usable] == h]
            # A clear-day ratio needs several days at this hour; otherwise use the site's.
            gain[h] = float(np.percentile(sel, 90)) if sel.size >= 3 else pooled
        potential = gain[hours] * cs_r
        # Daily yield relative to the clear-day potential, complete days only; days run from
        # solar midnight so that no day is cut in two around noon.
        day = np.floor((t / 3600.0 + self.longitude / 15.0) / 24.0)
        ratios = []
        for d in np.unique(day):
            sel = (day == d) & (cs_r > _DAYLIGHT_WM2)
            if sel.sum() >= 4 and np.isfinite(pv_r[sel]).all() and potential[sel].sum() > 0:
                ratios.append(pv_r[sel].sum() / potential[sel].sum())
        if not ratios:
            # Daylight hours were measured but the array produced nothing in them: that is the
            # forecast (not the nameplate's guess, which is for a site without history).
            return _ClearFit(gain=gain, scale=(0.0, 0.0, 0.0)) if not gain.any() else None
        q10, q50, q90 = (float(v) for v in np.percentile(ratios, [10, 50, 90]))
        return _ClearFit(gain=gain, scale=(q10, q50, max(q90, q50)))

    def _fit_weather(
        self, start: datetime, pv: FloatArray, ghi: FloatArray, cs: FloatArray, temp: FloatArray
    ) -> _WeatherFit | None:
        t = _hour_starts(start, len(pv))
        beam, diffuse = self._regressors(ghi, cs, temp)
        usable = np.isfinite(pv) & np.isfinite(beam) & (cs > _DAYLIGHT_WM2)
        if usable.sum() < 24:
            return None
        x = beam[usable] + diffuse[usable]
        pooled = float(np.sum(pv[usable] * x) / max(np.sum(x * x), 1e-12))
        fit = _WeatherFit(
            hour=((t[usable] // 3600) % 24),
            doy=_day_of_year(t[usable]),
            beam=beam[usable],
            diffuse=diffuse[usable],
            pv=pv[usable],
            pooled=pooled,
            ratio_q=np.ones((3, 2)),
        )
        fitted = self._apply_weather(fit, t[usable], beam[usable], diffuse[usable])
        k = np.clip(ghi[usable] / cs[usable], 0.0, 1.2)
        ratio_q = np.tile([0.8, 1.2], (3, 1)).astype(np.float64)
        peak = float(np.nanmax(fitted)) if fitted.size else 0.0
        for b, (lo, hi) in enumerate(((-1.0, 0.4), (0.4, 0.75), (0.75, 9.0))):
            sel = (k >= lo) & (k < hi) & (fitted > 0.05 * peak)
            if sel.sum() >= 10:
                r = fit.pv[sel] / fitted[sel]
                ratio_q[b] = np.percentile(r, [10, 90])
        return _WeatherFit(fit.hour, fit.doy, fit.beam, fit.diffuse, fit.pv, pooled, ratio_q)

    def _regressors(self, ghi: FloatArray, cs: FloatArray, temp: FloatArray) -> tuple[FloatArray, FloatArray]:
        cell = np.where(np.isfinite(temp), temp + _NOCT_RISE * ghi, 25.0)
        x = ghi * (1.0 + self.temperature_coefficient * (cell - 25.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(cs > _DAYLIGHT_WM2, np.clip(ghi / cs, 0.0, 1.0), 0.5)
        return x * k, x * (1.0 - k)

    def _apply_weather(self, fit: _WeatherFit, t: FloatArray, beam: FloatArray, diffuse: FloatArray) -> FloatArray:
        """Fitted output for target instants: per-hour, season-weighted two-gain regression."""
        out = np.zeros(len(t))
        hours = (t // 3600) % 24
        doy = _day_of_year(t)
        # The ridge adds ``strength`` pseudo-samples of typical size pulling both gains towards
        # the pooled gain, so sparse hours (dawn, dusk, a short history) stay sensible.
        scale = float(np.mean((fit.beam + fit.diffuse) ** 2))
        strength = 3.0 * scale
        for h in np.unique(hours):
            target = hours == h
            # Neighbouring hours count half: the response changes smoothly through the day.
            dh = np.abs(((fit.hour - h + 12) % 24) - 12)
            w_hour = np.where(dh == 0, 1.0, np.where(dh == 1, 0.5, 0.0))
            if not w_hour.any():
                out[target] = fit.pooled * (beam[target] + diffuse[target])
                continue
            sel = w_hour > 0
            b, d, y, wh = fit.beam[sel], fit.diffuse[sel], fit.pv[sel], w_hour[sel]
            for day in np.unique(np.round(doy[target])):
                dd = np.abs(((fit.doy[sel] - day + 182.6) % 365.2425) - 182.6)
                w = wh * np.exp(-0.5 * (dd / self.season_days) ** 2)
                a = np.array([[np.sum(w * b * b), np.sum(w * b * d)], [np.sum(w * b * d), np.sum(w * d * d)]])
                rhs = np.array([np.sum(w * b * y), np.sum(w * d * y)])
                a += strength * np.eye(2)
                rhs += strength * fit.pooled
                gains = np.linalg.solve(a, rhs)
                rows = target & (np.round(doy) == day)
                out[rows] = gains[0] * beam[rows] + gains[1] * diffuse[rows]
        return np.clip(out, 0.0, None)

    # -- weather inputs --

    @staticmethod
    def _irradiance(
        weather: Mapping[str, HourlySeries], start: datetime, hours: int, cs: FloatArray
    ) -> FloatArray | None:
        """Global horizontal irradiance from ``solar``, else from ``cloud_cover``; NaN where neither."""
        ghi = np.full(hours, np.nan)
        if CLOUD_KEY in weather:
            cover = weather[CLOUD_KEY].window(start, hours).values
            ghi = np.where(np.isfinite(cover), ghi_from_cloud_cover(cs, cover), ghi)
        if SOLAR_KEY in weather:
            solar = weather[SOLAR_KEY].window(start, hours).values
            ghi = np.where(np.isfinite(solar), np.clip(solar, 0.0, None), ghi)
        return ghi if np.isfinite(ghi).any() else None

    @staticmethod
    def _temperature(weather: Mapping[str, HourlySeries], start: datetime, hours: int) -> FloatArray:
        if TEMPERATURE_KEY in weather:
            return weather[TEMPERATURE_KEY].window(start, hours).values
        return np.full(hours, np.nan)

    # -- prediction --

    def predict(self, start: datetime, hours: int, weather: Mapping[str, HourlySeries] | None = None) -> Forecast:
        """Forecast ``hours`` hours from ``start``; weather-driven where weather is given."""
        cs = clear_sky_ghi(start, hours, self.latitude, self.longitude).values
        t = _hour_starts(start, hours)
        utc_hour = ((t // 3600) % 24).astype(int)
        p10, p50, p90 = self._clear_sky_forecast(cs, utc_hour)
        notes: list[str] = []
        method = "clear_sky_history" if self._clear_fit is not None else "clear_sky_nameplate"
        if self._clear_fit is None and self.capacity_kw is None:
            method, notes = "no_history", ["no PV history and no capacity: forecast is zero"]

        ghi = self._irradiance(weather, start, hours, cs) if weather is not None else None
        if ghi is not None:
            has = np.isfinite(ghi)
            w10, w50, w90, weather_method = self._weather_forecast(start, t, ghi, cs, utc_hour, weather or {})
            if weather_method is not None:
                p10, p50, p90 = (np.where(has, w, c) for w, c in ((w10, p10), (w50, p50), (w90, p90)))
                method = weather_method
                if not has.all():
                    notes.append(f"{int((~has).sum())} hours without weather use the clear-sky shape")
        if self.health is not None and self.health.underperforming:
            method = "measured_fallback"
            notes.append(f"{self.health.evidence}: forecast from the measured output since")
        cap = self._cap if self._cap is not None else np.inf
        p50 = np.clip(p50, 0.0, cap)
        p10 = np.clip(np.minimum(p10, p50), 0.0, cap)
        p90 = np.clip(np.maximum(p90, p50), 0.0, cap)
        return Forecast(start=start, p50=p50, p10=p10, p90=p90, method=method, notes=tuple(notes))

    def _clear_sky_forecast(self, cs: FloatArray, utc_hour: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
        fit = self._clear_fit
        if fit is not None:
            potential = fit.gain[utc_hour] * cs
            q10, q50, q90 = fit.scale
            return potential * q10, potential * q50, potential * q90
        if self.capacity_kw is not None:
            # Nameplate guess: a typical performance ratio, a wide band until history exists.
            potential = self.capacity_kw * cs / 1000.0
            return potential * 0.2, potential * 0.7, potential * 0.9
        zero = np.zeros(len(cs))
        return zero, zero.copy(), zero.copy()

    def _weather_forecast(
        self,
        start: datetime,
        t: FloatArray,
        ghi: FloatArray,
        cs: FloatArray,
        utc_hour: np.ndarray,
        weather: Mapping[str, HourlySeries],
    ) -> tuple[FloatArray, FloatArray, FloatArray, str | None]:
        temp = self._temperature(weather, start, len(t))
        ghi0 = np.where(np.isfinite(ghi), ghi, 0.0)
        beam, diffuse = self._regressors(ghi0, cs, temp)
        kind = "irradiance" if SOLAR_KEY in weather else "cloud_cover"
        fit = self._weather_fit
        if fit is not None:
            p50 = self._apply_weather(fit, t, beam, diffuse)
            with np.errstate(divide="ignore", invalid="ignore"):
                k = np.where(cs > _DAYLIGHT_WM2, ghi0 / cs, 1.0)
            b = np.digitize(k, [0.4, 0.75])
            return p50 * fit.ratio_q[b, 0], p50, p50 * fit.ratio_q[b, 1], f"{kind}_regression"
        if self._clear_fit is not None:
            # No weather in the history: the clear-day gain per W/m² applies to forecast sun.
            p50 = self._clear_fit.gain[utc_hour] * (beam + diffuse)
            return 0.7 * p50, p50, 1.2 * p50, f"{kind}_clear_day_gain"
        if self.capacity_kw is not None:
            p50 = self.capacity_kw * 0.8 * (beam + diffuse) / 1000.0
            return 0.6 * p50, p50, 1.1 * p50, f"{kind}_nameplate"
        return ghi0 * 0, ghi0 * 0, ghi0 * 0, None

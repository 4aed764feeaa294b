"""The forecast agent: load (and PV, when the site has it) for the plan's hours, from the engine."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import logging

import numpy as np

from ..engine.accuracy import ForecastAccuracy, forecast_accuracy
from ..engine.forecast import LoadForecaster
from ..engine.pv import PvForecaster
from ..engine.series import Forecast, HourlySeries
from ..engine.weather import TEMPERATURE
from ..store import Store, StoreDb
from .base import Agent
from .bus import EventBus
from .site import Location, SiteData

_LOGGER = logging.getLogger(__name__)

ACCURACY_DAYS = 7
KEEP_HOURS = 48  # the hours a plan acts on


class ForecastAgent(Agent):
    name = "forecast"

    def __init__(self, bus: EventBus, store: Store | None = None) -> None:
        super().__init__(bus)
        self.store = store
        self.accuracy: ForecastAccuracy | None = None  # of the issued forecasts over the last week

    async def track(self, site: SiteData, forecast: Forecast, issued: float) -> None:
        """Keep this forecast for the hours not forecast before, and measure the kept forecasts of the
        last week against the metered load: out of sample, as the forecasts were issued. A report
        only: a failure here is logged and never costs the run."""
        if self.store is None:
            return
        try:
            hours = [((forecast.start + timedelta(hours=k)).timestamp(), float(v))
                     for k, v in enumerate(forecast.p50[:KEEP_HOURS]) if np.isfinite(v)]
            await self.store.call(StoreDb.add_forecast, issued, hours)
            load = site.series.get("load")
            if load is None:
                return
            start = site.now - timedelta(days=ACCURACY_DAYS)
            actual = load.window(start, ACCURACY_DAYS * 24).values
            predicted = np.full(actual.size, np.nan)
            for hour, _issued, p50 in await self.store.call(StoreDb.issued_forecasts, start.timestamp(),
                                                             site.now.timestamp()):
                predicted[round((hour - start.timestamp()) / 3600)] = p50
            self.accuracy = forecast_accuracy(actual, predicted)
        except Exception:
            _LOGGER.exception("Forecast tracking failed; the run goes on without it")

    async def load(self, site: SiteData, start: datetime, hours: int, tz: str,
                   weather: dict[str, HourlySeries] | None) -> tuple[Forecast, Forecast]:
        """The forecast from ``start`` and, from the same model, the one issued a day earlier for the
        last day (what the page draws against the metered load)."""
        load = site.series.get("load")
        if load is None:
            raise LookupError("no load history")
        # Weather helps only when its actuals (the outdoor sensor) and its forecast both exist.
        use = weather is not None and TEMPERATURE in weather and "outdoor" in site.series
        actual = {TEMPERATURE: site.series["outdoor"]} if use else None
        ahead = {TEMPERATURE: weather[TEMPERATURE]} if use and weather is not None else None
        forecast, past = await asyncio.to_thread(_load_forecast, load, actual, ahead, start, hours, tz)
        await self.emit("forecast_ready", method=forecast.method, hours=hours)
        return forecast, past

    async def pv(self, site: SiteData, start: datetime, hours: int, where: Location | None,
                 weather: dict[str, HourlySeries] | None) -> Forecast | None:
        pv = site.series.get("pv")
        if pv is None or where is None or not np.isfinite(pv.values).any():
            return None
        return await asyncio.to_thread(_pv_forecast, pv, where, start, hours, weather)


def _load_forecast(load: HourlySeries, actual: dict[str, HourlySeries] | None,
                   ahead: dict[str, HourlySeries] | None, start: datetime, hours: int,
                   tz: str) -> tuple[Forecast, Forecast]:
    model = LoadForecaster(tz=tz).fit(load, actual)
    past = model.predict(start - timedelta(hours=24), 24, actual)
    return model.predict(start, hours, ahead), past


def _pv_forecast(pv: HourlySeries, where: Location, start: datetime, hours: int,
                 weather: dict[str, HourlySeries] | None) -> Forecast:
    return PvForecaster(where.latitude, where.longitude).fit(pv).predict(start, hours, weather)

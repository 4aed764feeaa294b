"""How far a forecast was from what happened: ASHRAE Guideline 14's hourly measures.

The same formulas as the forecast benchmark (``n`` in the denominators): CV(RMSE) = RMSE over
the mean of the actual values, NMBE = the summed error (actual minus forecast: positive means
the forecast was too low) over ``n`` times that mean.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from .series import FloatArray


@dataclass(frozen=True)
class ForecastAccuracy:
    hours: int  # hours with both a forecast and a metered value
    mean_actual: float
    mae: float
    cv_rmse: float  # a fraction of the mean (0.25 = 25 %)
    nmbe: float

    def as_dict(self) -> dict[str, float | int]:
        return {"hours": self.hours, "cv_rmse_pct": round(100.0 * self.cv_rmse, 1),
                "nmbe_pct": round(100.0 * self.nmbe, 1), "mae_kw": round(self.mae, 3),
                "mean_kw": round(self.mean_actual, 3)}


def forecast_accuracy(actual: FloatArray, forecast: FloatArray) -> ForecastAccuracy | None:
    """Over the hours where both are known; None when there are none or the actual mean is not positive."""
    ok = np.isfinite(actual) & np.isfinite(forecast)
    n = int(ok.sum())
    if n == 0:
        return None
    y, f = actual[ok], forecast[ok]
    mean = float(y.mean())
    if mean <= 0:
        return None
    error = y - f
    return ForecastAccuracy(n, mean, float(np.abs(error).mean()),
                            math.sqrt(float(np.sum(error**2)) / n) / mean, float(error.sum()) / (n * mean))

"""Hourly series and forecasts: the shapes every engine module takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
HOUR = timedelta(hours=1)


def _utc_hour(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    value = value.astimezone(UTC)
    if value.minute or value.second or value.microsecond:
        raise ValueError(f"{value.isoformat()} is not the start of an hour")
    return value


@dataclass(frozen=True)
class HourlySeries:
    """Hourly values from ``start`` (UTC, start of the first hour); NaN marks a gap.

    Energy series hold the energy in each hour (kWh); power-like series the hour's mean.
    Working in UTC keeps every hour exactly once across daylight-saving changes; local
    calendar features are derived with the site's time zone where needed.
    """

    start: datetime
    values: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc_hour(self.start))
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError("values must be one-dimensional")
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def end(self) -> datetime:
        """Start of the hour after the last value."""
        return self.start + len(self) * HOUR

    def timestamps(self) -> list[datetime]:
        return [self.start + i * HOUR for i in range(len(self))]

    def index_of(self, when: datetime) -> int:
        """Position of the hour starting at ``when`` (may be outside the series)."""
        return int((_utc_hour(when) - self.start) / HOUR)

    def window(self, start: datetime, hours: int) -> HourlySeries:
        """``hours`` values from ``start``; hours outside the series are NaN."""
        out = np.full(hours, np.nan)
        offset = self.index_of(start)
        lo, hi = max(0, offset), min(len(self), offset + hours)
        if hi > lo:
            out[lo - offset : hi - offset] = self.values[lo:hi]
        return HourlySeries(start, out)


@dataclass(frozen=True)
class Forecast:
    """A probabilistic hourly forecast: median and a central 80 % band."""

    start: datetime
    p50: FloatArray
    p10: FloatArray
    p90: FloatArray
    method: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc_hour(self.start))
        for name in ("p50", "p10", "p90"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if not (self.p10.shape == self.p50.shape == self.p90.shape):
            raise ValueError("p10, p50 and p90 must have the same length")

    def __len__(self) -> int:
        return int(self.p50.shape[0])

    def median(self) -> HourlySeries:
        return HourlySeries(self.start, self.p50)

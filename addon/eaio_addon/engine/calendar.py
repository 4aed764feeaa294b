"""Local calendar features for UTC hourly series.

Series run on UTC hours so that no hour is lost or doubled; people live on the local clock.
Everything here converts UTC hours to the site's local time with the IANA zone database, so a
local day has 23 hours when the clock springs forward and 25 when it falls back, and the
"hour of day" of an hour is what the clock on the wall showed when it started.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
import itertools
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from .series import HOUR, FloatArray

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

DAY_HOURS = 24
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)
FEATURE_NAMES = ("hour", "hour_sin", "hour_cos", "weekday", "weekday_sin", "weekday_cos", "off_day")


@lru_cache(maxsize=64)
def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; raises ``ZoneInfoNotFoundError`` for an unknown name."""
    return ZoneInfo(tz)


def utc_hours(start: datetime, hours: int) -> list[datetime]:
    """``hours`` consecutive UTC hour starts from ``start``."""
    first = start.astimezone(UTC)
    return [first + i * HOUR for i in range(hours)]


def local_times(start: datetime, hours: int, tz: str) -> list[datetime]:
    """Local wall-clock start of each of ``hours`` UTC hours from ``start``."""
    where = zone(tz)
    return [t.astimezone(where) for t in utc_hours(start, hours)]


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant the local ``day`` begins.

    Midnight exists in every zone this project targets; where a zone skips midnight itself
    (a few switch at 00:00), the first existing local time of the day is taken.
    """
    where = zone(tz)
    naive = datetime(day.year, day.month, day.day)
    for minutes in range(0, 24 * 60, 30):
        local = (naive + timedelta(minutes=minutes)).replace(tzinfo=where)
        if local.astimezone(UTC).astimezone(where).replace(tzinfo=None) == local.replace(tzinfo=None):
            return local.astimezone(UTC)
    raise ValueError(f"{day} has no existing local time in {tz}")


def hours_in_local_day(day: date, tz: str) -> int:
    """How many hours the local ``day`` lasts: 23, 24 or 25 around clock changes."""
    span = local_midnight(day + timedelta(days=1), tz) - local_midnight(day, tz)
    return round(span / HOUR)


def next_local_midnight(when: datetime, tz: str) -> datetime:
    """The first local midnight at or after ``when`` (UTC)."""
    local_day = when.astimezone(zone(tz)).date()
    midnight = local_midnight(local_day, tz)
    return midnight if midnight >= when else local_midnight(local_day + timedelta(days=1), tz)


def cyclic(values: FloatArray | IntArray, period: float) -> tuple[FloatArray, FloatArray]:
    """Sine and cosine of ``values`` on a circle of ``period``, so 23 h sits next to 0 h."""
    angle = 2.0 * np.pi * np.asarray(values, dtype=np.float64) / period
    return np.sin(angle), np.cos(angle)


@dataclass(frozen=True)
class CalendarFeatures:
    """Local calendar of consecutive UTC hours from ``start``.

    ``weekday`` is 0 for Monday. ``off_day`` marks weekends and the given holidays, the days
    a home usually follows its weekend routine. ``day_hour`` numbers local (date, hour)
    pairs, 24 per local day: the same local hour ``n`` days earlier is ``day_hour - 24 n``
    even across a clock change (a repeated hour shares its number, a skipped one is absent).
    """

    start: datetime
    hour: IntArray
    weekday: IntArray
    day_of_year: IntArray
    local_date: tuple[date, ...]
    holiday: BoolArray
    day_hour: IntArray

    def __len__(self) -> int:
        return int(self.hour.shape[0])

    @property
    def off_day(self) -> BoolArray:
        return np.asarray((self.weekday >= 5) | self.holiday, dtype=np.bool_)

    def matrix(self) -> FloatArray:
        """Model inputs, one row per hour, columns named by ``FEATURE_NAMES``.

        Raw hour and weekday suit trees; the cyclic pairs let smooth models see that the
        end of a day or week joins its start.
        """
        hour_sin, hour_cos = cyclic(self.hour, 24.0)
        day_sin, day_cos = cyclic(self.weekday, 7.0)
        columns = (self.hour, hour_sin, hour_cos, self.weekday, day_sin, day_cos, self.off_day)
        return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def _offset_minutes(start: datetime, hours: int, tz: str) -> IntArray:
    """UTC offset of each hour, in minutes, asking the zone database about once a day.

    The offset is looked up every 24 hours and hour by hour only inside a day where it
    changed, which is exact as long as a zone changes at most once within 24 hours.
    """
    where = zone(tz)
    first = start.astimezone(UTC)

    def offset(i: int) -> int:
        delta = (first + i * HOUR).astimezone(where).utcoffset()
        return 0 if delta is None else int(delta.total_seconds()) // 60

    out = np.empty(hours, dtype=np.int64)
    if hours == 0:
        return out
    samples = [*range(0, hours, DAY_HOURS), hours - 1]
    known = {i: offset(i) for i in samples}
    for lo, hi in itertools.pairwise(samples):
        if known[lo] == known[hi]:
            out[lo : hi + 1] = known[lo]
        else:
            out[lo : hi + 1] = [offset(i) for i in range(lo, hi + 1)]
    return out


def calendar_features(
    start: datetime, hours: int, tz: str, holidays: Collection[date] = ()
) -> CalendarFeatures:
    """Calendar of ``hours`` UTC hours from ``start`` as seen in zone ``tz``."""
    first = start.astimezone(UTC)
    epoch_minutes = int((first - EPOCH).total_seconds()) // 60
    local_minutes = epoch_minutes + 60 * np.arange(hours, dtype=np.int64) + _offset_minutes(first, hours, tz)
    days = local_minutes // (24 * 60)  # local days since 1970-01-01
    unique_days, which = np.unique(days, return_inverse=True)
    dates = [EPOCH_DATE + timedelta(days=int(d)) for d in unique_days]
    holiday_set = frozenset(holidays)
    hour = (local_minutes // 60) % 24
    return CalendarFeatures(
        start=first,
        hour=hour,
        weekday=(days + 3) % 7,  # 1970-01-01 was a Thursday
        day_of_year=np.array([d.timetuple().tm_yday for d in dates], dtype=np.int64)[which],
        local_date=tuple(dates[i] for i in which.tolist()),
        holiday=np.array([d in holiday_set for d in dates], dtype=np.bool_)[which],
        day_hour=days * 24 + hour,
    )

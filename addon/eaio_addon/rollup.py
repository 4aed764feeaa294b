"""Hourly rollups of one entity's readings: pure arithmetic, no storage.

A state in Home Assistant holds until the next one, so an hour's mean is time-weighted: each
value counts for as long as it held, and the value from before the hour holds from the hour's
start (the engine's power-like series are hourly means). Energy-like sensors also get the hour's
``delta``: the energy that the meter counted in it. An hour that no reading falls into, while a
known value holds, gets a row too (count 0), so a sensor that did not change still has a series.

The same fold serves a live append (continue the newest hour with new readings) and a rebuild
after readings arrived out of order (a backfill): start from what was known at the end of the
hour before and replay the readings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
import math

HOUR_S = 3600.0
# A value is carried into empty hours for at most this long; a sensor silent for longer is more
# likely gone than constant.
MAX_CARRY_HOURS = 31 * 24
# For total_increasing meters a drop of more than this fraction is a reset (the meter started
# again from zero); a smaller drop is noise and counts nothing (Home Assistant's rule too).
RESET_DROP = 0.1

ENERGY_CLASSES = frozenset({"total_increasing", "total"})


def hour_of(ts: float) -> float:
    """Start of the UTC hour that ``ts`` (epoch seconds) falls into."""
    return math.floor(ts / HOUR_S) * HOUR_S


@dataclass
class HourRollup:
    """What one hour of one entity adds up to, kept so that more readings can be folded in."""

    hour: float  # epoch seconds of the hour's start
    count: int  # numeric readings in the hour
    minimum: float | None  # over the readings and the value carried in
    maximum: float | None
    last: float | None  # the value holding from last_ts on; None while unknown (unavailable)
    last_ts: float  # the latest reading in the hour, or the hour's start
    integral: float  # value * seconds over the known stretches from the hour's start to last_ts
    covered: float  # seconds with a known value from the hour's start to last_ts
    delta: float | None  # energy counted in the hour (energy-like sensors only)
    ref: float | None  # the latest numeric value up to last_ts: the base of the next increment

    def mean(self, now: float) -> float | None:
        """Time-weighted mean over the known part of the hour, up to ``now`` for the current hour."""
        end = min(self.hour + HOUR_S, now)
        integral, covered = self.integral, self.covered
        if self.last is not None and end > self.last_ts:
            integral += self.last * (end - self.last_ts)
            covered += end - self.last_ts
        if covered > 0:
            return integral / covered
        return self.last


def _increment(ref: float, value: float, state_class: str) -> float:
    if state_class == "total":  # may go down (a net meter); the difference is the energy
        return value - ref
    if value >= ref:
        return value - ref
    if ref - value > RESET_DROP * abs(ref):
        return value  # reset: everything since the reset is new
    return 0.0


def carry_into(previous: HourRollup | None, hour: float, state_class: str | None) -> HourRollup:
    """A new hour that starts with what was known at the end of ``previous``."""
    energy = state_class in ENERGY_CLASSES
    last = previous.last if previous is not None else None
    if previous is not None and hour - previous.hour > MAX_CARRY_HOURS * HOUR_S:
        last = None
    return HourRollup(hour=hour, count=0, minimum=last, maximum=last, last=last, last_ts=hour,
                      integral=0.0, covered=0.0, delta=0.0 if energy else None,
                      ref=previous.ref if previous is not None and energy else None)


def add(acc: HourRollup, ts: float, value: float | None, state_class: str | None) -> None:
    """Fold one reading (at or after ``acc.last_ts``, inside ``acc``'s hour) into ``acc``."""
    if acc.last is not None and ts > acc.last_ts:
        acc.integral += acc.last * (ts - acc.last_ts)
        acc.covered += ts - acc.last_ts
    acc.last_ts = max(acc.last_ts, ts)
    acc.last = value
    if value is None:
        return
    acc.count += 1
    acc.minimum = value if acc.minimum is None else min(acc.minimum, value)
    acc.maximum = value if acc.maximum is None else max(acc.maximum, value)
    if state_class in ENERGY_CLASSES:
        if acc.ref is not None:
            acc.delta = (acc.delta or 0.0) + _increment(acc.ref, value, state_class)
        acc.ref = value


def from_statistics(hour: float, mean: float | None, minimum: float | None, maximum: float | None,
                    state: float | None, delta: float | None, state_class: str | None) -> HourRollup | None:
    """One hour of the recorder's long-term statistics as a rollup (None: the hour says nothing usable).

    Statistics keep an hour's mean, minimum and maximum (measurements) or the meter's value at the
    hour's end (energy), not the readings: the hour counts as fully covered at its mean, with no
    readings of its own (count 0), and its mean or meter value is carried on, as a reading would be.
    """
    if state_class in ENERGY_CLASSES:
        if state is None:
            return None
        return HourRollup(hour=hour, count=0, minimum=state, maximum=state, last=state, last_ts=hour + HOUR_S,
                          integral=0.0, covered=0.0, delta=delta, ref=state)
    if mean is None:
        return None
    return HourRollup(hour=hour, count=0, minimum=minimum, maximum=maximum, last=mean, last_ts=hour + HOUR_S,
                      integral=mean * HOUR_S, covered=HOUR_S, delta=None, ref=None)


def fold(
    readings: Iterable[tuple[float, float | None]],
    state_class: str | None,
    *,
    current: HourRollup | None = None,
    before: HourRollup | None = None,
) -> list[HourRollup]:
    """Fold readings sorted by time into hourly rollups; returns every hour touched, in order.

    ``current`` is the newest stored hour when appending readings that are not older than it;
    otherwise ``before`` is the newest stored hour before the first reading's hour (what was known
    when that hour began). Hours between readings in which a known value held are filled in.
    """
    out: list[HourRollup] = []
    acc = replace(current) if current is not None else None
    previous = before
    for ts, value in readings:
        hour = hour_of(ts)
        if acc is None or hour > acc.hour:
            if acc is not None:
                out.append(acc)
                previous = acc
            if previous is not None and previous.last is not None:
                gap_end = min(hour, previous.hour + (MAX_CARRY_HOURS + 1) * HOUR_S)
                empty = previous.hour + HOUR_S
                while empty < gap_end:
                    previous = carry_into(previous, empty, state_class)
                    out.append(previous)
                    empty += HOUR_S
            acc = carry_into(previous, hour, state_class)
        add(acc, ts, value, state_class)
    if acc is not None:
        out.append(acc)
    return out

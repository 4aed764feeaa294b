"""Realized savings of what the executor carried out (``eaio/plan/executions``): per controllable and in total.

- **Battery** (metered): each executed hour's battery power comes from its state-of-charge sensor
  (the change over the hour, through the charging or discharging efficiency); the hour's grid
  import with the battery is ``max(load - pv + battery, 0)``, without it ``max(load - pv, 0)``
  (the site's load role is the consumption without the battery, as the plan has it); the saving is
  the tariff's cost of the difference. The band (90 %) is what the sensor's resolution leaves
  uncertain: each reading is known to half a step, so each hour's energy to ``step / sqrt(6)``,
  summed over independent hours.
- **Appliance, car** (priced, not metered): the energy the executor switched on at its hours
  against the same energy from the start of its window (what happens without a plan), priced by
  the tariff; the energy is the options' power (an appliance) or the commanded power (the car).
  Their band is the tariff's: nothing in it is measured, so it is zero; they say so in ``method``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import math
from typing import Any

HOUR = timedelta(hours=1)
Z90 = 1.645
DONE = ("set", "unchanged")  # the entity held the slot's value (unchanged: it already did)


@dataclass(frozen=True)
class Realized:
    key: str
    hours: int
    saving: float  # money, in the tariff's currency
    band: float  # +- money, 90 %
    kwh: float  # grid import avoided
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"hours": self.hours, "saving": round(self.saving, 3), "band": round(self.band, 3),
                "kwh": round(self.kwh, 3), "method": self.method}


def executed_hours(executions: Iterable[Mapping[str, Any]], key: str) -> dict[datetime, Any]:
    """Slot start -> commanded value of the slots of ``key`` the executor carried out (not dry runs)."""
    out: dict[datetime, Any] = {}
    for e in executions:
        if e.get("key") != key or e.get("dry_run") or e.get("outcome") not in DONE:
            continue
        try:
            start = datetime.fromisoformat(str(e["slot_start"]))
        except (KeyError, ValueError):
            continue
        out[start] = e.get("commanded", e.get("value"))
    return out


def value_at(readings: list[tuple[float, float]], when: datetime) -> float | None:
    """The last reading at or before ``when`` (readings sorted by time)."""
    ts = when.timestamp()
    last = None
    for at, value in readings:
        if at > ts:
            break
        last = value
    return last


def battery_realized(hours: Iterable[datetime], soc: list[tuple[float, float]], load_kw: Callable[[datetime], float | None],
                     pv_kw: Callable[[datetime], float | None], price: Callable[[datetime], float],
                     capacity_kwh: float, charge_eff: float, discharge_eff: float, until: datetime,
                     soc_step_pct: float = 1.0) -> Realized | None:
    """``soc``: the sensor's readings up to ``until``, sorted; Home Assistant records changes only, so a
    state holds until the next reading."""
    saving = kwh = variance = 0.0
    counted = 0
    sigma_kwh = soc_step_pct / 100.0 * capacity_kwh / math.sqrt(6.0) / charge_eff
    for start in sorted(hours):
        before, after = value_at(soc, start), value_at(soc, start + HOUR)
        load = load_kw(start)
        if before is None or after is None or load is None or start + HOUR > until:
            continue  # an hour not measured is not counted
        stored = (after - before) / 100.0 * capacity_kwh
        battery = stored / charge_eff if stored > 0 else stored * discharge_eff
        net = load - (pv_kw(start) or 0.0)
        with_battery, without = max(net + battery, 0.0), max(net, 0.0)
        p = price(start)
        saving += (without - with_battery) * p
        kwh += without - with_battery
        variance += (p * sigma_kwh) ** 2
        counted += 1
    if not counted:
        return None
    return Realized("battery", counted, saving, Z90 * math.sqrt(variance), kwh,
                    "metered: load and PV against the counterfactual without the battery's measured power")


def shift_realized(key: str, ran: Mapping[datetime, float], window_start: Callable[[datetime], datetime | None],
                   price: Callable[[datetime], float]) -> Realized | None:
    """``ran``: executed hour -> kW drawn. Each window's hours against the same energy from its start."""
    by_window: dict[datetime, list[tuple[datetime, float]]] = {}
    for start, kw in ran.items():
        begin = window_start(start)
        if begin is not None and kw > 0:
            by_window.setdefault(begin, []).append((start, kw))
    saving = 0.0
    hours = 0
    for begin, runs in by_window.items():
        runs.sort()
        for k, (start, kw) in enumerate(runs):
            first = begin.replace(minute=0, second=0, microsecond=0)
            saving += (price(first + k * HOUR) - price(start)) * kw
            hours += 1
    if not hours:
        return None
    return Realized(key, hours, saving, 0.0, 0.0, "priced: the tariff at the hours run against its window's start "
                                                  "(energy from the options or the command, not metered)")


def total(items: Iterable[Realized]) -> dict[str, Any]:
    parts = list(items)
    return {"saving": round(sum(r.saving for r in parts), 3),
            "band": round(math.sqrt(sum(r.band ** 2 for r in parts)), 3),
            "kwh": round(sum(r.kwh for r in parts), 3), "hours": sum(r.hours for r in parts)}

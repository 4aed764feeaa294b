"""The whole plan of a run as ``eaio.submit_plan`` carries it (docs/ADDON_API.md, "Plans and their execution").

Per item a value for each slot, the state of charge where there is one and a reason a person can
read: "charging: 0.12 EUR now, 0.35 EUR from 17:00". Times are ISO UTC; the clock times and
prices inside reasons are in Home Assistant's time zone and currency.

The battery's value is what its controller should do in the slot, not the forecast's power, when
the integration can put the battery in its own automatic mode: where the plan's intent is what
that mode does anyway (cover the load from its charge, store solar surplus), the slot says ``null``
(automatic), so the battery follows the measured load and sun rather than a forecast of them; a
number only where the plan needs something the battery would not do on its own: charge from the
grid now for dearer hours, or hold its charge. Without that mode every slot carries the planned power.

With the battery's own reserve (minimum state of charge) as well, a held slot is automatic too and
every automatic slot says how much charge to keep (``reserve``, %): the lowest the plan lets the
charge fall before the next dearer hour. The battery then covers the measured load from the rest
and stores measured surplus, where a held slot would leave that surplus unstored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..engine.optimize import Battery, Plan, SiteInputs
from ..engine.optimize.execute import kept_floor
from ..engine.optimize.result import BatteryPlan
from ..engine.series import HOUR, FloatArray
from ..options import Options
from ..store import OutboxItem, Store, StoreDb

_LOGGER = logging.getLogger(__name__)

TOL_KW = 1e-3  # smaller planned flows are no decision
MAX_REASON = 300  # the integration keeps up to 500 characters of a slot's reason
BATTERY_KEY = "battery"
CAR_KEY = "car"
ZONE_KEY = "zone"


@dataclass(frozen=True)
class LoadPlanParts:
    """What the load agent planned with, kept for the plan push: the site's forecasts and the battery."""

    site: SiteInputs
    battery: Battery | None
    car_ready_by: datetime | None = None  # the end of the car's window in the plan


def battery_values(bp: BatteryPlan, net_kw: FloatArray, *, automatic: bool = True,
                   price: FloatArray | None = None, soc_min_kwh: float = 0.0) -> list[float | None]:
    """The value of each slot: AC power (+ charge, - discharge) or ``None`` for the battery's automatic mode.

    ``net_kw``: the forecast load less PV the plan was made with. ``automatic`` False: the planned
    power in every slot (what a controller without an automatic mode gets). With ``price`` an idle
    slot holds the battery (0) only when its charge is kept for a dearer hour (the plan's state of
    charge does not fall before the next dearer hour); otherwise the automatic mode may use it or
    store unforeseen surplus, as the plan would have with the measured load.
    """
    out: list[float | None] = []
    soc = bp.soc_kwh
    floors = None if price is None else kept_floor(soc, price[:len(bp.charge_kw)])
    for t in range(len(bp.charge_kw)):
        charge, discharge = float(bp.charge_kw[t]), float(bp.discharge_kw[t])
        surplus = max(-float(net_kw[t]), 0.0)
        if not automatic:
            out.append(round(charge - discharge, 3))
        elif discharge > TOL_KW:
            out.append(None)  # cover the load: the measured one, not the forecast
        elif charge > surplus + TOL_KW:
            out.append(round(charge, 3))  # buy from the grid now
        elif charge > TOL_KW or surplus > TOL_KW:
            out.append(None)  # store the surplus that is there
        elif floors is not None and not _kept(float(soc[t]), float(floors[t]), soc_min_kwh):
            out.append(None)  # nothing kept for dearer hours: the battery may cover the load or store
        else:
            out.append(0.0)  # keep the charge for dearer hours
    return out


def battery_reserves(bp: BatteryPlan, price: FloatArray, capacity_kwh: float, soc_min_kwh: float = 0.0) -> list[int]:
    """Per slot the state of charge (%, rounded down) the plan keeps for dearer hours: the lowest
    planned charge from the slot's end until the next dearer hour's end."""
    floors = np.maximum(kept_floor(bp.soc_kwh, price[:len(bp.charge_kw)]), soc_min_kwh)
    # 1e-6 absorbs the solver's rounding so that an exact 40 % does not become 39 %.
    return [int(np.floor(f / capacity_kwh * 100.0 + 1e-6)) for f in floors]


def _kept(soc: float, floor: float, soc_min_kwh: float) -> bool:
    """The plan keeps a slot's charge ``soc`` for a dearer hour: it has some and its ``floor``
    (``kept_floor``) does not fall below it before then."""
    return soc > soc_min_kwh + 1e-3 and floor >= soc - 1e-3


class _Words:
    """Prices and clock times for people, in the site's zone and currency."""

    def __init__(self, start: datetime, price: FloatArray, tz: ZoneInfo, currency: str) -> None:
        self.start, self.price, self.tz, self.currency = start, price, tz, currency

    def money(self, value: float) -> str:
        return f"{value:.2f} {self.currency}".rstrip()

    def clock(self, t: int) -> str:
        return f"{(self.start + t * HOUR).astimezone(self.tz):%H:%M}"

    def next_price(self, t: int, dearer: bool) -> str:
        """``"0.35 EUR from 17:00"``: the first later price above (``dearer``) or below this slot's."""
        now = float(self.price[t])
        for k in range(t + 1, len(self.price)):
            later = float(self.price[k])
            if (later > now + 1e-9) if dearer else (later < now - 1e-9):
                return f"{self.money(later)} from {self.clock(k)}"
        return "no dearer hour ahead" if dearer else "no cheaper hour ahead"

    def compare(self, t: int, dearer: bool) -> str:
        return f"{self.money(float(self.price[t]))} now, {self.next_price(t, dearer)}"


def _iso(when: datetime) -> str:
    return when.astimezone(ZoneInfo("UTC")).isoformat()


def battery_item(plan: Plan, parts: LoadPlanParts, words: _Words, *, automatic: bool = True,
                 reserve: bool = False) -> dict[str, Any]:
    bp, spec, site = plan.battery, parts.battery, parts.site
    assert bp is not None and spec is not None
    net = site.load - site.pv
    values = battery_values(bp, net, automatic=automatic, price=site.price, soc_min_kwh=spec.soc_min_kwh)
    reserves: list[int] | None = None
    if automatic and reserve:
        values = [None if v is not None and abs(v) <= TOL_KW else v for v in values]
        reserves = battery_reserves(bp, site.price, spec.capacity_kwh, spec.soc_min_kwh)
    slots = []
    for t, value in enumerate(values):
        charge, discharge = float(bp.charge_kw[t]), float(bp.discharge_kw[t])
        surplus = max(-float(net[t]), 0.0)
        if discharge > TOL_KW:
            reason = f"discharging {discharge:.1f} kW to cover the load: {words.compare(t, dearer=False)}"
        elif charge > surplus + TOL_KW:
            reason = f"charging {charge:.1f} kW from the grid: {words.compare(t, dearer=True)}"
        elif charge > TOL_KW:
            reason = f"storing {charge:.1f} kW of solar surplus"
        elif float(bp.soc_kwh[t]) > spec.soc_min_kwh + 1e-3:
            reason = f"holding the charge: {words.compare(t, dearer=True)}"
        else:
            reason = f"idle: {words.compare(t, dearer=True)}, not worth the charging losses"
        slot: dict[str, Any] = {"start": _iso(plan.start + t * HOUR), "value": value,
                                "soc": round(float(bp.soc_kwh[t]) / spec.capacity_kwh * 100.0, 1), "reason": reason}
        if reserves is not None and value is None:
            slot["reserve"] = reserves[t]
        slots.append(slot)
    return {"key": BATTERY_KEY, "kind": "battery", "name": "Home battery", "unit": "kW", "slots": slots}


def keep_battery_under_way(payload: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    """Keep the previous plan's battery slots from this plan's start on in ``payload``; the previous
    plan's id, or None when it has none left.

    For a run whose battery plan fell back to the battery's own mode while the plan being carried
    out had a cycle: the fallback is there so that no cycle *starts* that is not expected to beat
    that mode, but a re-plan in the middle of a cycle (grid energy already bought for the peak, a
    charge kept for it) weighs only the rest of it, and dropping it throws away what was paid for.
    Measured on the closed-loop benchmark: with hourly re-plans, dropping cycles this way cost up to
    5 points of the perfect-foresight saving.
    """
    if previous is None:
        return None
    old = next((i for i in previous.get("items", []) if i.get("key") == BATTERY_KEY), None)
    new = next((i for i in payload["items"] if i.get("key") == BATTERY_KEY), None)
    if old is None or new is None:
        return None
    start = datetime.fromisoformat(payload["start"])
    left = [slot for slot in old["slots"] if datetime.fromisoformat(slot["start"]) >= start]
    if not left:
        return None
    # After the cycle's last slot the new plan's own slots follow, so that the battery item covers
    # the whole plan and nothing is left holding the cycle's last command.
    last = datetime.fromisoformat(left[-1]["start"])
    after = [slot for slot in new["slots"] if datetime.fromisoformat(slot["start"]) > last]
    payload["items"] = [{**old, "slots": [*left, *after]} if i is new else i for i in payload["items"]]
    return str(previous.get("plan_id"))


def car_item(plan: Plan, words: _Words, ready_by: datetime | None) -> dict[str, Any] | None:
    ev = next(iter(plan.evs), None)
    if ev is None:
        return None
    ready = f", ready by {ready_by.astimezone(words.tz):%H:%M}" if ready_by is not None else ""
    slots = []
    for t, power in enumerate(ev.power_kw):
        value = round(float(power), 3)
        if value > TOL_KW:
            reason = f"charging {value:.1f} kW: {words.compare(t, dearer=True)}{ready}"
        else:
            reason = f"waiting: {words.compare(t, dearer=False)}{ready}"
        slots.append({"start": _iso(plan.start + t * HOUR), "value": max(value, 0.0), "reason": reason})
    return {"key": CAR_KEY, "kind": "ev", "name": "Car", "unit": "kW", "slots": slots}


def appliance_items(plan: Plan, parts: LoadPlanParts, options: Options, words: _Words) -> list[dict[str, Any]]:
    out = []
    by_name = {load.name: load for load in options.deferrable_loads}
    for run in plan.deferrables:
        load = by_name.get(run.name)
        if load is None or run.start is None or run.start_index is None:
            continue  # not placed in this plan: a later plan places it
        end = run.start + timedelta(hours=load.run_hours)
        on = [bool(p > 1e-9) for p in run.power_kw]
        slots = []
        for t, running in enumerate(on):
            if running:
                reason = f"running: {words.compare(t, dearer=True)}"
            elif t < run.start_index:
                reason = f"waiting: {words.money(float(words.price[t]))} now, starts at {words.clock(run.start_index)}"
            else:
                reason = "done for this window"
            slots.append({"start": _iso(plan.start + t * HOUR), "value": running, "reason": reason})
        out.append({"key": load.key, "kind": "appliance", "name": load.name, "unit": None,
                    "run": {"start": _iso(run.start), "end": _iso(end)}, "slots": slots})
    return out


def zone_item(hvac_plan: Plan, words: _Words) -> dict[str, Any] | None:
    hp = hvac_plan.hvac
    if hp is None:
        return None
    slots = []
    for t, setpoint in enumerate(hp.setpoint):
        at = hvac_plan.start + t * HOUR
        reason = next((r.message for r in hvac_plan.reasons
                       if r.code not in ("plan_summary",) and r.start <= at < r.end), None)
        if reason is None:
            reason = f"holding the comfort band ({words.money(float(words.price[t]))} now)"
        slots.append({"start": _iso(at), "value": round(float(setpoint), 1), "reason": reason[:MAX_REASON]})
    return {"key": ZONE_KEY, "kind": "hvac_zone", "name": "Zone", "unit": "°C", "slots": slots}


def build_plan(plan_id: str, created: datetime, load_plan: Plan | None, parts: LoadPlanParts | None,
               hvac_plan: Plan | None, options: Options, tz: str, currency: str, *,
               battery_automatic: bool = False, battery_reserve: bool = False) -> dict[str, Any] | None:
    """The ``eaio.submit_plan`` payload, or None when nothing in the run can be carried out.

    ``battery_automatic``: the battery's controllable can be put in its own automatic mode (a mode
    select with its automatic option), so slots may say ``null``; without one (the integration then
    holds the battery at zero for ``null``), and for automations that follow the plan themselves, every
    slot carries the planned power. ``battery_reserve``: it also has a reserve entity, so automatic
    slots carry the charge to keep."""
    zone = ZoneInfo(tz)
    items: list[dict[str, Any]] = []
    anchor = load_plan if load_plan is not None else hvac_plan
    if anchor is None:
        return None
    if load_plan is not None and parts is not None:
        words = _Words(load_plan.start, parts.site.price, zone, currency)
        if load_plan.battery is not None and parts.battery is not None:
            items.append(battery_item(load_plan, parts, words, automatic=battery_automatic,
                                      reserve=battery_reserve))
        car = car_item(load_plan, words, parts.car_ready_by)
        if car is not None:
            items.append(car)
        items += appliance_items(load_plan, parts, options, words)
    if hvac_plan is not None and hvac_plan.hvac is not None:
        price = _hvac_price(hvac_plan, load_plan, parts, options, zone)
        zone_plan = zone_item(hvac_plan, _Words(hvac_plan.start, price, zone, currency))
        if zone_plan is not None:
            items.append(zone_plan)
    if not items:
        return None
    expected: dict[str, float] = {}
    if load_plan is not None:
        expected = {"cost": round(load_plan.totals.cost, 4), "baseline_cost": round(load_plan.baseline.cost, 4),
                    "saving": round(load_plan.saving, 4)}
    return {"plan_id": plan_id, "created": _iso(created), "start": _iso(anchor.start),
            "end": _iso(anchor.start + anchor.hours * HOUR), "slot_minutes": 60, "items": items,
            "expected": expected}


def _hvac_price(hvac_plan: Plan, load_plan: Plan | None, parts: LoadPlanParts | None, options: Options,
                zone: ZoneInfo) -> FloatArray:
    if parts is not None and load_plan is not None and load_plan.start == hvac_plan.start \
            and len(parts.site.price) >= hvac_plan.hours:
        return parts.site.price[:hvac_plan.hours]
    return np.asarray([options.price_at(_minute(hvac_plan.start + k * HOUR, zone)) for k in range(hvac_plan.hours)])


def _minute(when: datetime, zone: ZoneInfo) -> int:
    local = when.astimezone(zone)
    return local.hour * 60 + local.minute


def plan_id(start: datetime, run_id: str) -> str:
    return f"plan-{start.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%MZ}-{run_id[:4]}"


def planned_soc(plan: dict[str, Any], at: datetime) -> float | None:
    """The pushed plan's state of charge (%) at ``at`` (interpolated within the slot), or None."""
    item = next((i for i in plan.get("items", ()) if i.get("key") == BATTERY_KEY), None)
    if item is None:
        return None
    slots: Sequence[dict[str, Any]] = item["slots"]
    for k, slot in enumerate(slots):
        begin = datetime.fromisoformat(slot["start"])
        if begin <= at < begin + HOUR:
            soc = float(slot["soc"])
            after = float(slots[k + 1]["soc"]) if k + 1 < len(slots) else soc
            return soc + (after - soc) * ((at - begin) / HOUR)
    return None


async def queue_plan(store: Store, plan: dict[str, Any], wake: Callable[[], None]) -> OutboxItem:
    """Store the plan as an ``eaio.submit_plan`` push; the outbox delivers it when the link is up."""
    if not isinstance(plan.get("plan_id"), str) or not plan["plan_id"]:
        raise ValueError("the plan has no 'plan_id' (a non-empty string)")
    body = json.loads(json.dumps(plan))  # a copy; raises TypeError if not JSON
    # A plan replaces the last one whole: one still waiting for the link is dropped, not delivered late.
    item = await store.call(StoreDb.enqueue_superseding, "eaio", "submit_plan", body, push_id=plan["plan_id"])
    _LOGGER.info("Queued plan %s (%d item(s)) as push %s", plan["plan_id"], len(plan["items"]), item.push_id)
    wake()
    return item

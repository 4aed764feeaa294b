"""The measured state a re-plan starts from, read from Home Assistant through the add-on's link.

Which entity tells what is the integration's business: its controllables (websocket
``eaio/controllables``) name each plan item's feedback sensor. An item no controllable names falls
back to the add-on's options (the battery's ``soc_entity``, an appliance's or the car's ``entity``).
An older integration without the command, or a link that is down, costs the run nothing: the plan
then starts from what the options and the store say.

What is measured: the battery's state of charge; the energy already delivered to the car in its
open window (a session-energy sensor in kWh/Wh); whether an appliance already ran today (its
switch or power sensor, from Home Assistant's history: in its window when one is open, else since
local midnight or the end of its last window, whichever is later); the zone's
temperature (its sensor, or the climate entity's ``current_temperature``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
import logging
from typing import Any
from zoneinfo import ZoneInfo

from ..ha_link import HaError, HaLink, LinkDown
from ..options import Options
from .plan_push import BATTERY_KEY, CAR_KEY, ZONE_KEY

_LOGGER = logging.getLogger(__name__)

RAN_SHARE = 0.5  # on for at least half its run time today: it ran
ON_POWER_SHARE = 0.1  # a power sensor above a tenth of the appliance's power: it runs
CALL_TIMEOUT_HINT = "the plan starts from the options' entities"


@dataclass
class Measured:
    """What Home Assistant reports now; None: not measured (the plan assumes as before)."""

    soc_pct: float | None = None
    soc_entity: str | None = None
    ev_delivered_kwh: float | None = None
    ran_today: set[str] = field(default_factory=set)  # appliance plan keys
    zone_temperature: float | None = None
    controllables: list[dict[str, Any]] | None = None  # None: the integration did not say
    notes: list[str] = field(default_factory=list)


def _number(state: dict[str, Any] | None) -> float | None:
    if state is None:
        return None
    try:
        return float(state.get("state"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # unknown, unavailable


class Feedback:
    """Reads the feedback entities over the add-on's link to Home Assistant."""

    def __init__(self, link: HaLink) -> None:
        self.link = link
        self.supported: bool | None = None  # eaio/controllables answered (None: not asked yet)

    async def controllables(self) -> list[dict[str, Any]] | None:
        """The integration's controllables; None when the link is down or the integration is older."""
        try:
            result = await self.link.call({"type": "eaio/controllables"})
        except LinkDown:
            return None
        except HaError as err:
            if self.supported is not False:
                _LOGGER.info("The integration does not list controllables (%s); %s", err, CALL_TIMEOUT_HINT)
            self.supported = False
            return None
        self.supported = True
        return [c for c in result if isinstance(c, dict)] if isinstance(result, list) else None

    async def states(self, entity_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not entity_ids:
            return {}
        result = await self.link.call({"type": "get_states"})
        return {s["entity_id"]: s for s in result if isinstance(s, dict) and s.get("entity_id") in entity_ids}

    async def executions(self, since: datetime) -> list[dict[str, Any]] | None:
        """What the executor did since ``since`` (``eaio/plan/executions``); None when it cannot say."""
        try:
            result = await self.link.call({"type": "eaio/plan/executions", "since": since.isoformat()})
        except (LinkDown, HaError):
            return None
        return [e for e in result if isinstance(e, dict)] if isinstance(result, list) else None

    async def readings(self, entity_id: str, since: datetime, now: datetime) -> list[tuple[float, float]]:
        """``(time, number)`` of ``entity_id``'s states between ``since`` and ``now`` (Home Assistant's history)."""
        result = await self.link.call({
            "type": "history/history_during_period", "start_time": since.isoformat(), "end_time": now.isoformat(),
            "entity_ids": [entity_id], "minimal_response": True, "no_attributes": True,
            "significant_changes_only": False})
        out: list[tuple[float, float]] = []
        for row in result.get(entity_id, []) if isinstance(result, dict) else []:
            value, ts = _as_float(row.get("s")), row.get("lu")
            if value is not None and isinstance(ts, int | float):
                out.append((float(ts), value))
        return sorted(out)

    async def on_hours(self, entity_id: str, since: datetime, now: datetime, on_above: float) -> float:
        """Hours ``entity_id`` was on (``on`` or a number above ``on_above``) between ``since`` and ``now``."""
        result = await self.link.call({
            "type": "history/history_during_period", "start_time": since.isoformat(), "end_time": now.isoformat(),
            "entity_ids": [entity_id], "minimal_response": True, "no_attributes": True,
            "significant_changes_only": False})
        rows = result.get(entity_id, []) if isinstance(result, dict) else []
        changes: list[tuple[float, bool]] = []
        for row in rows:
            state, ts = row.get("s"), row.get("lu")
            if not isinstance(ts, int | float):
                continue
            try:
                on = float(state) > on_above
            except (TypeError, ValueError):
                on = state == "on"
            changes.append((float(ts), on))
        total = 0.0
        end = now.timestamp()
        for k, (ts, on) in enumerate(changes):
            if on:
                total += (changes[k + 1][0] if k + 1 < len(changes) else end) - max(ts, since.timestamp())
        return max(total, 0.0) / 3600.0

    async def measure_soc(self, options: Options) -> float | None:
        """The battery's state of charge now (%), from its feedback sensor; None when it cannot be read."""
        if options.battery is None or not self.link.connected:
            return None
        controllables = await self.controllables()
        item = next((c for c in controllables or [] if c.get("plan_key") == BATTERY_KEY), {})
        entity = item.get("feedback_entity") or options.battery.soc_entity
        if not entity:
            return None
        value = _number((await self.states({entity})).get(entity))
        return value if value is not None and 0.0 <= value <= 100.0 else None

    async def measure(self, options: Options, now: datetime, tz: str) -> Measured:
        """Everything the plan starts from; each part that cannot be read is left out with a note."""
        out = Measured()
        if not self.link.connected:
            out.notes.append("feedback: not connected to Home Assistant; " + CALL_TIMEOUT_HINT)
            return out
        out.controllables = await self.controllables()
        by_key = {c.get("plan_key"): c for c in out.controllables or []}

        def sensor(key: str, fallback: str | None) -> str | None:
            item = by_key.get(key) or {}
            return item.get("feedback_entity") or fallback

        def switch(key: str, fallback: str | None) -> str | None:
            item = by_key.get(key) or {}
            return item.get("feedback_entity") or item.get("entity_id") or fallback

        soc = sensor(BATTERY_KEY, options.battery.soc_entity) if options.battery else None
        car = sensor(CAR_KEY, None) if options.ev else None
        zone_item = by_key.get(ZONE_KEY) or {}
        zone = zone_item.get("feedback_entity") or zone_item.get("entity_id")
        try:
            states = await self.states({e for e in (soc, car, zone) if e})
        except (LinkDown, HaError) as err:
            out.notes.append(f"feedback: states not read ({err})")
            return out
        if soc is not None:
            value = _number(states.get(soc))
            if value is not None and 0.0 <= value <= 100.0:
                out.soc_pct, out.soc_entity = value, soc
            else:
                out.notes.append(f"feedback: {soc} gives no state of charge now")
        if car is not None:
            state = states.get(car)
            value = _number(state)
            unit = ((state or {}).get("attributes") or {}).get("unit_of_measurement")
            if value is not None and unit in ("kWh", "Wh"):
                out.ev_delivered_kwh = max(value / 1000.0 if unit == "Wh" else value, 0.0)
        if zone is not None:
            state = states.get(zone)
            value = (_number(state) if not zone.startswith("climate.")
                     else _as_float(((state or {}).get("attributes") or {}).get("current_temperature")))
            if value is not None:
                out.zone_temperature = value
        zone_tz = ZoneInfo(tz)
        midnight = now.astimezone(zone_tz).replace(hour=0, minute=0, second=0, microsecond=0)
        for load in options.deferrable_loads:
            entity = switch(load.key, load.entity)
            if entity is None:
                continue
            try:
                since = ran_since(now, midnight, load.earliest_minute, load.window_minutes, zone_tz)
                hours = await self.on_hours(entity, since, now, ON_POWER_SHARE * load.power_kw
                                            * (1000.0 if _watts(states.get(entity)) else 1.0))
            except (LinkDown, HaError) as err:
                out.notes.append(f"feedback: history of {entity} not read ({err})")
                continue
            if hours >= RAN_SHARE * load.run_hours:
                out.ran_today.add(load.key)
        return out


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _watts(state: dict[str, Any] | None) -> bool:
    return ((state or {}).get("attributes") or {}).get("unit_of_measurement") == "W"


def delivered_in_plan(plan: dict[str, Any] | None, since: datetime, until: datetime, efficiency: float) -> float:
    """Energy into the car the pushed plan carried out between ``since`` and ``until`` (kWh, after losses):
    the estimate when no sensor says."""
    if plan is None:
        return 0.0
    item = next((i for i in plan.get("items", ()) if i.get("key") == CAR_KEY), None)
    total = 0.0
    for slot in (item or {}).get("slots", ()):
        start = datetime.fromisoformat(slot["start"])
        if since <= start and start + timedelta(hours=1) <= until and isinstance(slot.get("value"), int | float):
            total += float(slot["value"]) * efficiency
    return total


def run_in_progress(plan: dict[str, Any] | None, key: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The pushed plan's run of appliance ``key`` when it started before ``now`` and has not ended."""
    item = next((i for i in (plan or {}).get("items", ()) if i.get("key") == key), None)
    run = (item or {}).get("run")
    if not run:
        return None
    start, end = datetime.fromisoformat(run["start"]), datetime.fromisoformat(run["end"])
    return (start, end) if start < now < end else None


def run_done(plan: dict[str, Any] | None, key: str, since: datetime, now: datetime) -> bool:
    """The pushed plan's run of ``key`` ended between ``since`` and ``now`` (carried out in this window)."""
    item = next((i for i in (plan or {}).get("items", ()) if i.get("key") == key), None)
    run = (item or {}).get("run")
    if not run:
        return False
    return since <= datetime.fromisoformat(run["start"]) and datetime.fromisoformat(run["end"]) <= now


def open_window(start: datetime, start_minute: int, minutes: int, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The daily window (local start, length) that is open at ``start``, if one is."""
    local = start.astimezone(tz)
    for days in (-1, 0):
        begin = datetime.combine(local.date() + timedelta(days=days), time(start_minute // 60, start_minute % 60),
                                 tzinfo=tz)
        if begin < start < begin + timedelta(minutes=minutes):
            return begin, begin + timedelta(minutes=minutes)
    return None


def planned_in(plan: dict[str, Any] | None, key: str, since: datetime, until: datetime) -> bool:
    """The pushed plan had item ``key`` running (true, or power) in a slot starting in ``[since, until)``."""
    item = next((i for i in (plan or {}).get("items", ()) if i.get("key") == key), None)
    return any(since <= datetime.fromisoformat(s["start"]) < until and s.get("value") not in (None, False, 0, 0.0)
               for s in (item or {}).get("slots", ()))


def ran_since(now: datetime, midnight: datetime, start_minute: int, minutes: int, tz: tzinfo) -> datetime:
    """From when a run counts as this day's: the open window's start, else local midnight or the end of
    the last window, whichever is later (a run that ended a window past midnight was yesterday's)."""
    window = open_window(now, start_minute, minutes, tz)
    if window is not None:
        return window[0]
    local = now.astimezone(tz)
    ends = [datetime.combine(local.date() + timedelta(days=d), time(start_minute // 60, start_minute % 60),
                             tzinfo=tz) + timedelta(minutes=minutes) for d in (-2, -1, 0)]
    return max([midnight, *(e for e in ends if e <= now)])

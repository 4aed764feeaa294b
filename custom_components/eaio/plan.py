"""The plan the add-on pushes (docs/ADDON_API.md, "Plans and their execution"): parsed item by
item, kept across restarts, and asked which slot holds now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

KINDS = ("battery", "ev", "appliance", "hvac_zone")
MAX_SLOTS = 2000
STORAGE_VERSION = 1

type SlotValue = float | bool | None


def _aware(value: Any) -> datetime:
    moment = cv.datetime(value)
    if moment.tzinfo is None:
        raise vol.Invalid("needs a time zone offset")
    return dt_util.as_utc(moment)


PLAN_SCHEMA = vol.Schema(
    {
        vol.Required("plan_id"): vol.All(cv.string, vol.Length(min=1, max=128)),
        vol.Optional("created"): _aware,
        vol.Required("start"): _aware,
        vol.Required("end"): _aware,
        vol.Required("slot_minutes"): vol.All(vol.Coerce(int), vol.Range(min=1, max=24 * 60)),
        # Items are validated one by one, so that one bad item does not cost the plan.
        vol.Required("items"): vol.All(cv.ensure_list, [object]),
        vol.Optional("expected", default=dict): {cv.string: vol.Any(None, vol.Coerce(float))},
    }
)
SLOT_SCHEMA = vol.Schema(
    {
        vol.Required("start"): _aware,
        vol.Required("value"): vol.Any(None, bool, vol.Coerce(float)),
        vol.Optional("soc"): vol.Any(None, vol.All(vol.Coerce(float), vol.Range(min=0, max=100))),
        vol.Optional("reserve"): vol.Any(None, vol.All(vol.Coerce(float), vol.Range(min=0, max=100))),
        vol.Optional("reason", default=""): vol.All(cv.string, vol.Length(max=500)),
    }
)
ITEM_SCHEMA = vol.Schema(
    {
        vol.Required("key"): vol.All(cv.string, vol.Length(min=1, max=64)),
        vol.Required("kind"): vol.In(KINDS),
        vol.Optional("name"): vol.Any(None, vol.All(cv.string, vol.Length(max=100))),
        vol.Optional("unit"): vol.Any(None, cv.string),
        vol.Optional("run"): vol.Any(None, {vol.Required("start"): _aware, vol.Required("end"): _aware}),
        vol.Required("slots"): vol.All(cv.ensure_list, vol.Length(min=1, max=MAX_SLOTS), [SLOT_SCHEMA]),
    }
)


def _humanize(error: vol.Invalid) -> str:
    path = ".".join(str(p) for p in error.path)
    return f"{path}: {error.msg}" if path else error.msg


@dataclass(slots=True)
class Slot:
    start: datetime
    value: SlotValue
    soc: float | None = None
    reason: str = ""
    reserve: float | None = None  # battery: the state of charge (%) its automatic mode keeps


@dataclass(slots=True)
class PlanItem:
    key: str
    kind: str
    name: str
    unit: str | None
    slots: list[Slot]
    run: tuple[datetime, datetime] | None = None


@dataclass(slots=True)
class Plan:
    plan_id: str
    created: datetime
    start: datetime
    end: datetime
    slot_minutes: int
    items: dict[str, PlanItem] = field(default_factory=dict)
    expected: dict[str, float | None] = field(default_factory=dict)

    def slot_at(self, key: str, now: datetime) -> Slot | None:
        """The slot of ``key`` that holds at ``now``; None before the plan, after it, or in a gap."""
        item = self.items.get(key)
        if item is None or not self.start <= now < self.end:
            return None
        length = timedelta(minutes=self.slot_minutes)
        current = None
        for slot in item.slots:
            if slot.start > now:
                break
            current = slot
        if current is None or now >= current.start + length:
            return None
        return current

    def next_boundary(self, now: datetime) -> datetime | None:
        """The next moment any item's target changes (a slot start or end, a run's end, the plan's end)."""
        length = timedelta(minutes=self.slot_minutes)
        moments = {self.end}
        for item in self.items.values():
            for slot in item.slots:
                moments.update((slot.start, slot.start + length))
            if item.run:
                moments.update(item.run)
        later = [m for m in moments if m > now]
        return min(later) if later else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "created": self.created.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "slot_minutes": self.slot_minutes,
            "expected": self.expected,
            "items": [
                {
                    "key": item.key,
                    "kind": item.kind,
                    "name": item.name,
                    "unit": item.unit,
                    "run": {"start": item.run[0].isoformat(), "end": item.run[1].isoformat()}
                    if item.run
                    else None,
                    "slots": [
                        {
                            "start": s.start.isoformat(),
                            "value": s.value,
                            "soc": s.soc,
                            "reason": s.reason,
                            "reserve": s.reserve,
                        }
                        for s in item.slots
                    ],
                }
                for item in self.items.values()
            ],
        }


def _check_value(kind: str, value: SlotValue) -> None:
    if kind == "appliance":
        if not isinstance(value, bool):
            raise ValueError(f"an appliance's slot value is true or false, not {value!r}")
    elif isinstance(value, bool):
        raise ValueError(f"a {kind}'s slot value is a number or null, not {value!r}")
    elif kind == "ev" and value is not None and value < 0:
        raise ValueError(f"a car's power cannot be negative ({value})")


def parse_item(raw: Any, start: datetime, end: datetime, slot_minutes: int) -> PlanItem:
    """One plan item, or ValueError with a readable reason."""
    try:
        data = ITEM_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise ValueError("; ".join(_humanize(e) for e in err.errors)) from None
    except vol.Invalid as err:
        raise ValueError(_humanize(err)) from None
    slots = [Slot(s["start"], s["value"], s.get("soc"), s["reason"], s.get("reserve")) for s in data["slots"]]
    previous: datetime | None = None
    for index, slot in enumerate(slots):
        if not start <= slot.start < end:
            raise ValueError(f"slots.{index}.start: {slot.start.isoformat()} is outside the plan")
        if previous is not None and slot.start <= previous:
            raise ValueError(f"slots.{index}.start: slots must be in time order")
        previous = slot.start
        try:
            _check_value(data["kind"], slot.value)
        except ValueError as err:
            raise ValueError(f"slots.{index}.value: {err}") from None
        if slot.reserve is not None and (data["kind"] != "battery" or slot.value is not None):
            raise ValueError(
                f"slots.{index}.reserve: only a battery's automatic-mode slot (value null) has a reserve"
            )
    run = None
    if data.get("run"):
        run = (data["run"]["start"], data["run"]["end"])
        if run[1] <= run[0]:
            raise ValueError("run: its end is not after its start")
    return PlanItem(data["key"], data["kind"], data.get("name") or data["key"], data.get("unit"), slots, run)


def parse_plan(raw: Any) -> tuple[Plan, list[dict[str, Any]]]:
    """The plan with the items that passed, and the refused ones with their reasons.

    Raises ValueError when the plan as a whole is malformed.
    """
    try:
        data = PLAN_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise ValueError("; ".join(_humanize(e) for e in err.errors)) from None
    except vol.Invalid as err:
        raise ValueError(_humanize(err)) from None
    if data["end"] <= data["start"]:
        raise ValueError("end: the plan ends before it starts")
    plan = Plan(
        data["plan_id"],
        data.get("created") or dt_util.utcnow(),
        data["start"],
        data["end"],
        data["slot_minutes"],
        expected=data["expected"],
    )
    refused: list[dict[str, Any]] = []
    for index, raw_item in enumerate(data["items"]):
        key = raw_item.get("key") if isinstance(raw_item, dict) else None
        try:
            item = parse_item(raw_item, plan.start, plan.end, plan.slot_minutes)
        except ValueError as err:
            refused.append({"key": key, "index": index, "error": str(err)})
            continue
        if item.key in plan.items:
            refused.append({"key": key, "index": index, "error": "key: appears twice in the plan"})
            continue
        plan.items[item.key] = item
    return plan, refused


class PlanBook:
    """The current plan of one add-on link, stored, with a timer at each slot boundary."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.plan.{entry_id}")
        self.plan: Plan | None = None
        self._listeners: list[Callable[[], None]] = []
        self._unsub_timer: CALLBACK_TYPE | None = None

    async def async_load(self) -> None:
        stored = await self._store.async_load()
        if stored and stored.get("plan"):
            try:
                self.plan, _refused = parse_plan(stored["plan"])
            except ValueError as err:
                _LOGGER.warning("The stored plan cannot be read and is dropped: %s", err)
        self._schedule()

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Called when a plan arrives and at every slot boundary."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    @callback
    def submit(self, raw: Any) -> dict[str, Any]:
        plan, refused = parse_plan(raw)
        for item in refused:
            _LOGGER.warning("Refused plan item %s of %s: %s", item["key"], plan.plan_id, item["error"])
        self.plan = plan
        self._store.async_delay_save(lambda: {"plan": plan.as_dict()}, 0.5)
        self._schedule()
        self._notify()
        return {"plan_id": plan.plan_id, "accepted": list(plan.items), "refused": refused}

    async def async_close(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self.plan is not None:
            await self._store.async_save({"plan": self.plan.as_dict()})

    def _schedule(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self.plan is None:
            return
        moment = self.plan.next_boundary(dt_util.utcnow())
        if moment is not None:
            self._unsub_timer = async_track_point_in_utc_time(self.hass, self._at_boundary, moment)

    @callback
    def _at_boundary(self, _now: datetime) -> None:
        self._unsub_timer = None
        self._schedule()
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

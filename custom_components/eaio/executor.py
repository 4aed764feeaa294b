"""The plan executor: at each slot boundary it sets each controllable with autopilot on to its
slot's value, through the one guard.

It pauses a controllable that a person or another automation changed (until the next plan),
fails safe when the plan expires, the add-on is gone past the plan's end, or the entity or its
feedback sensor is unavailable, and remembers the last slot it commanded so that a restart of
Home Assistant mid-plan does not send a slot's command twice.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CALLBACK_TYPE,
    Context,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .bacnet_coordinator import BacnetCoordinator
from .const import DOMAIN
from .control_rules import Limits, needs_command, to_command
from .controllables import (
    KIND_APPLIANCE,
    KIND_BATTERY,
    KIND_CAR,
    KIND_ZONE,
    Controllable,
    controllables_of,
)
from .guard import Command, entity_limits, get_guard
from .plan import Plan, PlanItem

if TYPE_CHECKING:
    from .addon_coordinator import AddonCoordinator

_LOGGER = logging.getLogger(__name__)

EVENT_PLAN_STEP: Final = "eaio_plan_step"
EVENT_PLAN_OVERRIDE: Final = "eaio_plan_override"
EVENT_PLAN_FAILSAFE: Final = "eaio_plan_failsafe"
STORAGE_VERSION = 1
MAX_EXECUTIONS = 2000
CHECK_INTERVAL = timedelta(minutes=1)
# A home battery's state of charge moves a few points a minute at most; more between two
# readings is a sensor fault, and EAIO stops rather than guess.
FEEDBACK_JUMP_PCT: Final = 25.0
_BAD = (STATE_UNAVAILABLE, STATE_UNKNOWN)
# A repair issue (in the translations' issues, not exceptions).
ISSUE_ENTITY_MISSING: Final = "controllable_entity_missing"


@dataclass(slots=True)
class ControlState:
    """What the executor knows of one controllable; stored across restarts."""

    autopilot: bool | None = None  # None: not decided yet (the add-on's default once known)
    dry_run: bool = False
    status: str = "idle"  # idle | following | dry_run | paused | failsafe | error
    paused_plan: str | None = None
    paused_until: str | None = None  # ISO time (UTC) a manual override's pause ends, if sooner than the plan
    last_slot: str | None = None
    restore: Any = None  # the zone's setpoint before EAIO took control
    reserve_restore: Any = None  # the battery's own reserve before EAIO set it
    last_commanded: dict[str, Any] | None = None
    reason: str | None = None
    fault: str | None = None  # a feedback reading that cannot be true; cleared by the next plan


def _service(entity_id: str, value: Any) -> tuple[str, dict[str, Any]]:
    """The service and data that set ``entity_id`` to ``value``."""
    domain = entity_id.split(".", 1)[0]
    if domain in ("switch", "input_boolean"):
        return f"{domain}.{'turn_on' if value else 'turn_off'}", {}
    if domain in ("select", "input_select"):
        return f"{domain}.select_option", {"option": value}
    if domain == "climate":
        return "climate.set_temperature", {"temperature": value}
    return f"{domain}.set_value", {"value": value}


def _current(state: State | None) -> Any:
    """The value an entity holds, in the terms the executor commands it."""
    if state is None or state.state in _BAD:
        return None
    if state.domain in ("switch", "input_boolean"):
        return state.state == STATE_ON
    if state.domain in ("select", "input_select"):
        return state.state
    if state.domain == "climate":
        return state.attributes.get("temperature")
    try:
        return float(state.state)
    except ValueError:
        return None


def _jump(old: State | None, new: State) -> str | None:
    """A state of charge that moves more than a battery can between two readings, in words."""
    if old is None or old.state in _BAD or new.attributes.get("unit_of_measurement") != "%":
        return None
    try:
        before, after = float(old.state), float(new.state)
    except ValueError:
        return None
    if after < 0 or after > 100 or abs(after - before) > FEEDBACK_JUMP_PCT:
        return f"from {before:g} % to {after:g} %"
    return None


def _limits(controllable: Controllable, state: State | None) -> Limits:
    """The controllable's limits, the entity's own where the owner left them empty."""
    mine = controllable.limits
    if state is None:
        return mine
    own = entity_limits(state, "temperature" if state.domain == "climate" else "value")
    return Limits(
        own.low if mine.low is None else mine.low,
        own.high if mine.high is None else mine.high,
        mine.step or own.step,
    )


def _power_factor(state: State | None) -> float:
    """Plans speak kW; a power entity in W takes a thousand times the number."""
    unit = state.attributes.get("unit_of_measurement") if state else None
    return 1000.0 if unit == "W" else 1.0


class PlanExecutor:
    """Carries out the plan of one add-on link on its declared controllables."""

    def __init__(self, hass: HomeAssistant, link: AddonCoordinator) -> None:
        self.hass = hass
        self.link = link
        entry = link.config_entry
        self.entry_id = entry.entry_id
        self.controllables: dict[str, Controllable] = {c.plan_key: c for c in controllables_of(entry)}
        self.states: dict[str, ControlState] = {}
        self.executions: deque[dict[str, Any]] = deque(maxlen=MAX_EXECUTIONS)
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.executor.{entry.entry_id}"
        )
        self._own_contexts: deque[str] = deque(maxlen=200)
        self._unsubs: list[CALLBACK_TYPE] = []
        self._listeners: list[CALLBACK_TYPE] = []
        self._running = False
        self._again = False
        self._plan_id: str | None = link.plans.plan.plan_id if link.plans.plan else None

    # Life cycle -----------------------------------------------------------------------------

    async def async_start(self) -> None:
        stored = await self._store.async_load() or {}
        known = stored.get("states", {})
        for key, controllable in self.controllables.items():
            raw = known.get(controllable.id)
            known_fields = {f.name for f in fields(ControlState)}
            self.states[key] = (
                ControlState(**{k: v for k, v in raw.items() if k in known_fields})
                if isinstance(raw, dict)
                else ControlState()
            )
        self.executions.extend(stored.get("executions", []))
        guard = get_guard(self.hass)
        for controllable in self.controllables.values():
            for entity_id in controllable.entities:
                guard.policies[entity_id] = controllable.policy(entity_id)
        watched = [e for c in self.controllables.values() for e in (*c.entities, c.feedback_entity) if e]
        if watched:
            self._unsubs.append(async_track_state_change_event(self.hass, watched, self._state_changed))
        self._unsubs.append(self.link.plans.async_add_listener(self._plan_changed))
        self._unsubs.append(self.link.async_add_listener(self._health_changed))
        self._unsubs.append(async_track_time_interval(self.hass, self._tick, CHECK_INTERVAL))
        # A controllable deleted while its entity was missing leaves no notice behind.
        current = {f"{ISSUE_ENTITY_MISSING}_{c.id}" for c in self.controllables.values()}
        issues = ir.async_get(self.hass).issues
        for domain, issue_id in list(issues):
            if domain == DOMAIN and issue_id.startswith(ISSUE_ENTITY_MISSING) and issue_id not in current:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._health_changed()
        self._schedule_step()

    async def async_close(self) -> None:
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        guard = get_guard(self.hass)
        for controllable in self.controllables.values():
            for entity_id in controllable.entities:
                guard.policies.pop(entity_id, None)
        await self._store.async_save(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        return {
            "states": {c.id: asdict(self.states[key]) for key, c in self.controllables.items()},
            "executions": list(self.executions)[-500:],
        }

    def _save(self) -> None:
        self._store.async_delay_save(self._snapshot, 1.0)

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Entities that show the executor's state are told when it changes."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    def _changed(self) -> None:
        self._save()
        for listener in list(self._listeners):
            listener()

    # What the add-on link and the entities ask --------------------------------------------------

    def controllable_for_key(self, key: str) -> Controllable | None:
        return self.controllables.get(key)

    def state_of(self, key: str) -> ControlState:
        return self.states.setdefault(key, ControlState())

    async def async_set_autopilot(self, key: str, on: bool, requester: str, context: Context | None) -> None:
        state = self.state_of(key)
        state.autopilot = on
        _LOGGER.info(
            "Autopilot %s for %s (asked by %s, user %s)",
            "on" if on else "off",
            key,
            requester,
            context.user_id if context else None,
        )
        if on:
            # A person's explicit choice also ends a pause, and the current slot is carried out now.
            state.paused_plan = state.paused_until = None
            state.last_slot = None
            if state.status in ("paused", "failsafe", "error"):
                state.status = "idle"
        else:
            # What EAIO set goes back to its safe state: a battery left forced at a power, or a
            # zone at a planned setpoint, would outlive the plan that asked for it.
            controllable = self.controllables.get(key)
            if controllable is not None and state.status == "following" and not state.dry_run:
                await self._to_safe_state(controllable, state, "autopilot off")
            state.status = "idle"
            state.restore = state.reserve_restore = None
            state.last_slot = None
        self._changed()
        self._schedule_step()

    async def async_set_dry_run(self, key: str, on: bool) -> None:
        state = self.state_of(key)
        state.dry_run = on
        state.last_slot = None
        self._changed()
        self._schedule_step()

    @staticmethod
    def _pause_end(state: ControlState, plan: Plan) -> datetime:
        """A manual override pauses until the next plan, or the owner's set time if sooner."""
        until = dt_util.parse_datetime(state.paused_until) if state.paused_until else None
        return min(until, plan.end) if until else plan.end

    def describe(self) -> list[dict[str, Any]]:
        """The controllables as the add-on reads them (eaio/controllables)."""
        plan = self.link.plans.plan
        result = []
        for key, controllable in self.controllables.items():
            state = self.state_of(key)
            paused = state.status == "paused" and plan is not None and state.paused_plan == plan.plan_id
            until = self._pause_end(state, plan) if paused and plan else None
            # The limits the add-on plans inside: the entity's own where the owner left them empty.
            limits = _limits(controllable, self.hass.states.get(controllable.entity_id or ""))
            result.append(
                {
                    **controllable.as_dict(),
                    "min": limits.low,
                    "max": limits.high,
                    "step": limits.step,
                    "autopilot": bool(state.autopilot),
                    "dry_run": state.dry_run,
                    "state": state.status,
                    "paused_until": dt_util.as_local(until).isoformat() if until else None,
                }
            )
        return result

    def executions_since(self, since: datetime) -> list[dict[str, Any]]:
        moment = since.isoformat()
        return [e for e in self.executions if e["at"] >= moment]

    # Triggers ---------------------------------------------------------------------------------

    @callback
    def _plan_changed(self) -> None:
        plan = self.link.plans.plan
        for state in self.states.values():
            if plan is not None and state.paused_plan not in (None, plan.plan_id):
                state.paused_plan = state.paused_until = None  # a new plan ends a manual override's pause
                state.status = "idle"
            if plan is not None and plan.plan_id != self._plan_id:
                state.fault = None  # the add-on re-planned from the measured state
        self._plan_id = plan.plan_id if plan is not None else None
        self._schedule_step()

    @callback
    def _health_changed(self) -> None:
        default = self.link.health.get("autopilot_default") if self.link.health else None
        if not isinstance(default, bool):
            return
        changed = False
        for key in self.controllables:
            state = self.state_of(key)
            if state.autopilot is None:
                state.autopilot = default
                changed = True
        if changed:
            self._changed()
            self._schedule_step()

    @callback
    def _tick(self, _now: datetime) -> None:
        self._schedule_step()

    @callback
    def _schedule_step(self) -> None:
        if self._running:
            self._again = True
            return
        self.hass.async_create_task(self.async_step(), f"{DOMAIN} plan step", eager_start=True)

    @callback
    def _state_changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        new, old = event.data["new_state"], event.data["old_state"]
        for key, controllable in self.controllables.items():
            if entity_id == controllable.feedback_entity:
                if new is None or new.state in _BAD:
                    self._schedule_step()
                elif (jump := _jump(old, new)) is not None:
                    self.state_of(key).fault = f"{entity_id} jumped {jump}"
                    self._schedule_step()
                continue
            if entity_id not in controllable.entities:
                continue
            if new is None or new.state in _BAD or old is None or old.state in _BAD:
                self._schedule_step()
                continue
            self._maybe_override(key, controllable, entity_id, old, new)

    def _maybe_override(
        self, key: str, controllable: Controllable, entity_id: str, old: State, new: State
    ) -> None:
        state = self.state_of(key)
        plan = self.link.plans.plan
        if not state.autopilot or state.dry_run or plan is None or state.status in ("paused", "failsafe"):
            return
        if new.context.id in self._own_contexts or new.context.parent_id in self._own_contexts:
            return
        value = _current(new)
        if value == _current(old):
            return  # an attribute changed, not what EAIO commands
        commanded = (state.last_commanded or {}).get(entity_id)
        if commanded is not None and not needs_command(commanded, value, controllable.limits.step):
            return  # the device reporting back what EAIO sent
        state.status = "paused"
        state.paused_plan = plan.plan_id
        minutes = controllable.override_minutes
        state.paused_until = (dt_util.utcnow() + timedelta(minutes=minutes)).isoformat() if minutes else None
        state.reason = f"changed by someone else to {value}"
        _LOGGER.warning("%s was changed by someone else: EAIO pauses %s until the next plan", entity_id, key)
        self.hass.bus.async_fire(
            EVENT_PLAN_OVERRIDE,
            {
                "key": key,
                "entity_id": entity_id,
                "paused_until": dt_util.as_local(self._pause_end(state, plan)).isoformat(),
            },
        )
        self._record(plan, key, None, value, None, "paused", state.dry_run)
        self._changed()

    # The step ---------------------------------------------------------------------------------

    async def async_step(self) -> None:
        """Carry out the current slot of every controllable that needs it (idempotent)."""
        self._running = True
        try:
            while True:
                self._again = False
                now = dt_util.utcnow()
                for key, controllable in self.controllables.items():
                    try:
                        await self._step_one(key, controllable, now)
                    except Exception:
                        _LOGGER.exception("Plan step for %s failed", key)
                if not self._again:
                    break
        finally:
            self._running = False

    def _missing(self, controllable: Controllable) -> str | None:
        registry = er.async_get(self.hass)
        for entity_id in controllable.entities:
            if self.hass.states.get(entity_id) is None and registry.async_get(entity_id) is None:
                return entity_id
        return None

    async def _step_one(self, key: str, controllable: Controllable, now: datetime) -> None:
        state = self.state_of(key)
        issue_id = f"{ISSUE_ENTITY_MISSING}_{controllable.id}"
        missing = self._missing(controllable)
        if missing is not None:
            if state.status != "error":
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    severity=ir.IssueSeverity.ERROR,
                    translation_key=ISSUE_ENTITY_MISSING,
                    translation_placeholders={"key": key, "entity": missing},
                )
                _LOGGER.error("Controllable %s: %s no longer exists; EAIO sends it nothing", key, missing)
                state.status, state.reason = "error", f"{missing} no longer exists"
                self._changed()
            return
        if state.status == "error" and (state.reason or "").endswith("no longer exists"):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            state.status, state.reason = "idle", None
            self._changed()
        if not state.autopilot:
            return
        plan = self.link.plans.plan
        if plan is None or controllable.plan_key not in plan.items:
            return
        if now >= plan.end:
            away = not self.link.last_update_success
            await self._failsafe(key, controllable, plan, "add-on unreachable past the plan's end" if away
                                 else "plan expired")  # fmt: skip
            return
        if state.status == "paused" and state.paused_plan == plan.plan_id:
            if now < self._pause_end(state, plan):
                return
            # The owner's set time is over: EAIO takes the current slot up again.
            _LOGGER.info("The pause of %s is over; EAIO follows the plan again", key)
            state.status, state.paused_plan, state.paused_until, state.last_slot = "idle", None, None, None
        unavailable = self._unavailable(controllable)
        if unavailable is not None:
            await self._failsafe(key, controllable, plan, f"{unavailable} is unavailable")
            return
        if state.fault is not None:
            await self._failsafe(key, controllable, plan, state.fault)
            return
        item = plan.items[controllable.plan_key]
        if item.kind != controllable.kind:
            # A battery's plan sent to a switch (or the like) is a mistake to report, not to guess at.
            if state.reason != f"kind {item.kind}":
                _LOGGER.error(
                    "Plan item %s is a %s but its controllable is a %s: EAIO sends it nothing",
                    item.key,
                    item.kind,
                    controllable.kind,
                )
                state.status, state.reason = "error", f"kind {item.kind}"
                self._record(plan, key, None, None, None, "refused", state.dry_run, controllable,
                             f"the plan's {item.kind} does not fit a {controllable.kind}")  # fmt: skip
                self._changed()
            return
        slot = plan.slot_at(item.key, now)
        target, slot_start, reason = self._target(item, plan, now)
        if slot is None and slot_start is None:
            if item.slots and now >= item.slots[0].start:
                # A gap in the item's slots, or its slots over before the plan: holding the last
                # command would carry out an hour the plan no longer speaks for.
                await self._failsafe(key, controllable, plan, "the plan has no slot for it now")
            return
        reserve = slot.reserve if slot is not None and target is None else None
        slot_id = f"{plan.plan_id}|{slot_start.isoformat() if slot_start else '-'}|{target}"
        if reserve is not None:
            slot_id += f"|{reserve}"
        if state.last_slot == slot_id:
            return
        await self._command(key, controllable, state, plan, slot_start or now, target, reason, reserve)
        state.last_slot = slot_id
        self._changed()

    def _unavailable(self, controllable: Controllable) -> str | None:
        for entity_id in (*controllable.entities, controllable.feedback_entity):
            if entity_id is None:
                continue
            current = self.hass.states.get(entity_id)
            if current is None or current.state in _BAD:
                return entity_id
        return None

    def _target(self, item: PlanItem, plan: Plan, now: datetime) -> tuple[Any, datetime | None, str]:
        """The value the item asks for now, the start of the slot (or run phase) it comes from, the reason."""
        slot = plan.slot_at(item.key, now)
        reason = slot.reason if slot else ""
        if item.run is not None and item.kind in (KIND_APPLIANCE, KIND_CAR):
            start, end = item.run
            if start <= now < end:
                value: Any = True if item.kind == KIND_APPLIANCE else (slot.value if slot else True)
                return value, start, reason or "timed start"
            if now >= end:
                return (False if item.kind == KIND_APPLIANCE else 0.0), end, reason or "run over"
        if slot is None:
            return None, None, ""
        return slot.value, slot.start, reason

    def _commands(
        self, controllable: Controllable, state: ControlState, target: Any, reserve: float | None = None
    ) -> list[tuple[str, Any]]:
        """(entity, value) pairs that bring the controllable to ``target`` (and a battery's
        automatic mode to keep ``reserve`` % for dearer hours)."""
        kind = controllable.kind
        power = controllable.entity_id
        if kind == KIND_BATTERY:
            if target is None:
                if controllable.mode_entity and controllable.auto_option:
                    pairs: list[tuple[str, Any]] = []
                    if controllable.reserve_entity and reserve is not None:
                        own = self.hass.states.get(controllable.reserve_entity)
                        if state.reserve_restore is None:
                            state.reserve_restore = _current(own)
                        limits = entity_limits(own, "value") if own else Limits()
                        # The reserve first: the automatic mode must not spend what the plan keeps.
                        pairs.append((controllable.reserve_entity, to_command(float(reserve), limits)))
                    return [*pairs, (controllable.mode_entity, controllable.auto_option)]
                return (
                    [(power, to_command(0.0, _limits(controllable, self.hass.states.get(power))))]
                    if power
                    else []
                )
            result: list[tuple[str, Any]] = []
            if controllable.mode_entity and controllable.forced_option:
                result.append((controllable.mode_entity, controllable.forced_option))
            if power:
                entity = self.hass.states.get(power)
                result.append(
                    (power, to_command(float(target) * _power_factor(entity), _limits(controllable, entity)))
                )
            return result
        if kind == KIND_CAR:
            on = bool(target) and (isinstance(target, bool) or float(target) > 0)
            result = []
            if power:
                kw = 0.0 if not on or isinstance(target, bool) else float(target)
                if on and isinstance(target, bool):
                    kw = controllable.limits.high or 0.0
                entity = self.hass.states.get(power)
                result.append((power, to_command(kw * _power_factor(entity), _limits(controllable, entity))))
            if controllable.switch_entity:
                result.append((controllable.switch_entity, on))
            return result
        if kind == KIND_APPLIANCE:
            return [(power, bool(target))] if power else []
        if kind == KIND_ZONE and power:
            if target is None:
                return [] if state.restore is None else [(power, state.restore)]
            if state.restore is None:
                state.restore = _current(self.hass.states.get(power))
            return [(power, to_command(float(target), _limits(controllable, self.hass.states.get(power))))]
        return []

    def _safe_commands(self, controllable: Controllable, state: ControlState) -> list[tuple[str, Any]]:
        """Battery to its own automatic mode (or zero power), car and appliance off when EAIO
        switched them on, the zone back to its setpoint before EAIO took control."""
        if controllable.kind == KIND_BATTERY:
            restore = (
                [(controllable.reserve_entity, state.reserve_restore)]
                if controllable.reserve_entity and state.reserve_restore is not None
                else []
            )
            return [*restore, *self._commands(controllable, state, None)]
        if controllable.kind in (KIND_CAR, KIND_APPLIANCE):
            commanded = state.last_commanded or {}
            if any(v is True or (isinstance(v, float) and v > 0) for v in commanded.values()):
                return self._commands(controllable, state, False)
            return []
        if controllable.kind == KIND_ZONE and controllable.entity_id and state.restore is not None:
            return [(controllable.entity_id, state.restore)]
        return []

    async def _to_safe_state(
        self, controllable: Controllable, state: ControlState, reason: str
    ) -> list[tuple[str, Any]]:
        """Put what EAIO commanded back in its safe state; returns what was sent."""
        point = self._bacnet_point(controllable) if controllable.kind == KIND_ZONE else None
        if point is not None and state.last_commanded:
            # A BACnet setpoint goes back to the device's own control: EAIO's priority relinquished.
            coordinator, key = point
            try:
                await get_guard(self.hass).async_release_point(
                    coordinator, key, "executor", Context(), reason
                )
            except HomeAssistantError as err:
                _LOGGER.warning("Relinquishing %s failed: %s", controllable.entity_id, err)
                return []
            state.last_commanded = None
            return [(str(controllable.entity_id), None)]
        pairs = [
            (e, v)
            for e, v in self._safe_commands(controllable, state)
            if (s := self.hass.states.get(e)) is not None and s.state not in _BAD
        ]
        if pairs:
            await self._send(controllable, state, pairs, reason)
        return pairs

    def _bacnet_point(self, controllable: Controllable) -> tuple[BacnetCoordinator, str] | None:
        """The BACnet device and point behind an EAIO setpoint entity, if it is one."""
        if controllable.entity_id is None:
            return None
        registered = er.async_get(self.hass).async_get(controllable.entity_id)
        if registered is None or registered.platform != DOMAIN or registered.config_entry_id is None:
            return None
        entry = self.hass.config_entries.async_get_entry(registered.config_entry_id)
        coordinator = getattr(entry, "runtime_data", None)
        if not isinstance(coordinator, BacnetCoordinator) or entry is None:
            return None
        return coordinator, registered.unique_id.removeprefix(f"{entry.unique_id}_")

    async def _send(
        self, controllable: Controllable, state: ControlState, pairs: list[tuple[str, Any]], reason: str
    ) -> tuple[str, Any]:
        """Send what differs from what the entities hold, through the guard: (outcome, value sent)."""
        outcome, sent = "unchanged", None
        for entity_id, value in pairs:
            current_state = self.hass.states.get(entity_id)
            step = _limits(controllable, current_state).step if entity_id == controllable.entity_id else None
            if not needs_command(value, _current(current_state), step):
                state.last_commanded = {**(state.last_commanded or {}), entity_id: value}
                continue
            service, data = _service(entity_id, value)
            context = Context()
            self._own_contexts.append(context.id)
            cmd = Command(service, entity_id, data, "executor", "plan", context, reason)
            try:
                await get_guard(self.hass).async_call(cmd)
            except HomeAssistantError as err:
                _LOGGER.warning("Plan command %s on %s refused: %s", service, entity_id, err)
                return "refused", value
            state.last_commanded = {**(state.last_commanded or {}), entity_id: value}
            outcome, sent = "set", value
        return outcome, sent

    async def _command(
        self,
        key: str,
        controllable: Controllable,
        state: ControlState,
        plan: Plan,
        slot_start: datetime,
        target: Any,
        reason: str,
        reserve: float | None = None,
    ) -> None:
        pairs = self._commands(controllable, state, target, reserve)
        if state.dry_run:
            state.status = "dry_run"
            _LOGGER.info("Dry run: %s would be set to %s (%s)", key, pairs, reason)
            self._record(plan, key, slot_start, target, None, "dry_run", True, controllable, reason, pairs)
            return
        outcome, sent = await self._send(controllable, state, pairs, f"plan {plan.plan_id}: {reason}")
        state.status = "following"
        commanded = pairs[-1][1] if pairs and outcome == "set" else sent
        self._record(plan, key, slot_start, target, commanded, outcome, False, controllable, reason, pairs)

    async def _failsafe(self, key: str, controllable: Controllable, plan: Plan, reason: str) -> None:
        state = self.state_of(key)
        if state.status == "failsafe" and state.reason == reason:
            return
        state.status, state.reason = "failsafe", reason
        _LOGGER.warning("Plan fail-safe for %s: %s; EAIO stops commanding it", key, reason)
        pairs = (
            [] if state.dry_run else await self._to_safe_state(controllable, state, f"fail-safe: {reason}")
        )
        state.restore = state.reserve_restore = None
        state.last_slot = None
        self.hass.bus.async_fire(
            EVENT_PLAN_FAILSAFE, {"key": key, "entity_id": controllable.entity_id, "reason": reason}
        )
        self._record(plan, key, None, None, pairs[-1][1] if pairs else None, "failsafe", state.dry_run,
                     controllable, reason, pairs)  # fmt: skip
        self._changed()

    def _record(
        self,
        plan: Plan,
        key: str,
        slot_start: datetime | None,
        value: Any,
        commanded: Any,
        outcome: str,
        dry_run: bool,
        controllable: Controllable | None = None,
        reason: str = "",
        pairs: list[tuple[str, Any]] | None = None,
    ) -> None:
        now = dt_util.utcnow().isoformat()
        slot = slot_start.isoformat() if slot_start else None
        self.executions.append(
            {"plan_id": plan.plan_id, "key": key, "slot_start": slot, "value": value,
             "commanded": commanded, "dry_run": dry_run, "outcome": outcome, "at": now}
        )  # fmt: skip
        if outcome == "paused":
            return
        entity_id = controllable.entity_id or controllable.switch_entity if controllable else None
        self.hass.bus.async_fire(
            EVENT_PLAN_STEP,
            {"plan_id": plan.plan_id, "key": key, "entity_id": entity_id, "slot_start": slot, "value": value,
             "outcome": outcome, "reason": reason, "dry_run": dry_run,
             "commands": [[e, v] for e, v in pairs or []]},
        )  # fmt: skip


async def async_start_executor(hass: HomeAssistant, link: AddonCoordinator) -> PlanExecutor:
    executor = PlanExecutor(hass, link)
    await executor.async_start()
    return executor

"""What the add-on learns from: which entities, their live state changes, and their history.

The learned entities are EAIO's own (the entity registry's entries of platform ``eaio``) plus the
ones listed in the options. Live changes arrive through the ``state_changed`` subscription and go
through one writer task into the store. History comes from the recorder
(``history/history_during_period``): on the first start for the last ``backfill_days``, after a
reconnect or restart for the stretch the add-on missed. Each entity's ``covered_until`` mark says
up to when its history is complete in the store; it moves forward in the same transaction as the
readings, so nothing stored is fetched twice and an interrupted backfill resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import math
import sqlite3
import time
from typing import Any

from .ha_link import HaError, HaLink, LinkDown
from .rollup import HOUR_S, HourRollup, from_statistics, hour_of
from .store import EntityMeta, Reading, Store, StoreDb, reading
from .supervision import Supervisor

_LOGGER = logging.getLogger(__name__)

DAY_S = 86400.0
BATCH = 20  # entities per history request
WINDOW_MIN, WINDOW_MAX = 3600.0, DAY_S  # the span of one request adapts between these
TARGET_STATES = 50_000  # per request: about 2-3 MB of JSON, parsed in one piece
# The recorder writes states to its database every few seconds (commit_interval, 5 s by default):
# a stretch is fetched only once it is this far in the past.
RECORDER_LAG = 10.0
MARK_EVERY = 60.0  # how often live coverage is recorded, bounding what a crash makes fetch again
WRITE_BATCH = 5000
STATISTICS_WINDOW = 30 * DAY_S  # hours of long-term statistics per request (x entities in a batch)
LOG_LONG_BACKFILL = 3600.0  # entity-seconds per entity above which progress is logged in steps
ADDON_UNIQUE_ID = "addon"  # the integration's unique id of its add-on link entry
STOP_WAIT = 10.0  # at stop, how long queued readings may take to be stored
STORING, BACKFILL = "storing readings", "backfill"  # the troubles the collector reports


def transient(exc: BaseException) -> bool:
    """A store error that may go away by itself (a full disk, a locked or unwritable file): worth waiting for."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError))


@dataclass
class BackfillProgress:
    """Reported in /api/health: ``state`` idle (nothing fetched yet), running or done."""

    state: str = "idle"
    progress: float = 0.0  # percent of the history window that is in the store
    entities: int = 0
    readings: int = 0  # fetched by the current or last run
    last_run_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "progress": round(self.progress, 1), "entities": self.entities}


@dataclass(frozen=True)
class _Mark:
    """History of these entities is complete in the store up to ``until`` (after what is queued before)."""

    entity_ids: tuple[str, ...]
    until: float


@dataclass
class _SyncRequest:
    entity_ids: set[str]
    until: float
    done: asyncio.Event = field(default_factory=asyncio.Event)


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def is_device_point(entry: dict[str, Any], addon_entries: set[str]) -> bool:
    """Whether an entity-registry entry of platform ``eaio`` is a device's point (a measurement to learn from).

    The rest is EAIO's own output: the add-on link's recommendation, savings, forecast and plan
    sensors and its conversation agent. Learning from them would feed the add-on its own advice.
    They belong to the add-on's config entry, whose unique id (and so their unique ids' prefix) is
    ``addon``; a device entry's is ``modbus_…``, ``bacnet_…`` or ``mqtt_…``.
    """
    entity_id = str(entry.get("entity_id", ""))
    unique_id = str(entry.get("unique_id") or "")
    if entity_id.split(".", 1)[0] == "conversation":
        return False
    if unique_id == ADDON_UNIQUE_ID or unique_id.startswith(ADDON_UNIQUE_ID + "_"):
        return False
    return not (entry.get("config_entry_id") and entry["config_entry_id"] in addon_entries)


def history_readings(result: Any) -> list[Reading]:
    """Readings from a compressed, minimal ``history_during_period`` answer ({entity: [{"s", "lu"}]})."""
    out: list[Reading] = []
    if not isinstance(result, dict):
        return out
    for entity_id, states in result.items():
        for item in states if isinstance(states, list) else []:
            state, ts = item.get("s"), item.get("lu")
            if isinstance(state, str) and isinstance(ts, (int, float)):
                out.append(reading(entity_id, float(ts), state))
    return out


class Collector:
    """Keeps the store's readings of the learned entities complete and current."""

    def __init__(self, link: HaLink, store: Store, *, option_entities: Sequence[str], backfill_days: int,
                 recorder_lag: float = RECORDER_LAG, registry_debounce: float = 2.0,
                 clock: Callable[[], float] = time.time, supervisor: Supervisor | None = None) -> None:
        self._link = link
        self._supervisor = supervisor or Supervisor()
        self._store = store
        self._options = tuple(option_entities)
        self._backfill_span = backfill_days * DAY_S
        self._recorder_lag = recorder_lag
        self._registry_debounce = registry_debounce
        self._clock = clock
        self.learned: set[str] = set(option_entities)
        self.missing: set[str] = set()  # listed in the options but not in Home Assistant
        self.backfill = BackfillProgress()
        self.live_readings = 0
        self.listeners: list[Callable[[Sequence[Reading]], None]] = []  # told after readings are stored
        self._queue: asyncio.Queue[Reading | _Mark] = asyncio.Queue()
        self._held: list[dict[str, Any]] | None = None  # events held while the entity set is refreshed
        self._latest_event_ts: float | None = None
        self._requests: asyncio.Queue[_SyncRequest] = asyncio.Queue()
        self._syncing = False
        self._refresh_timer: asyncio.TimerHandle | None = None
        self._refresh_lock = asyncio.Lock()  # one refresh at a time, so held events are judged once
        self._tasks: list[asyncio.Task[None]] = []
        self._refused_outputs: set[str] = set()
        self.refreshes = 0  # entity-set refreshes done: a test waits for the one after a registry change

    def attach(self) -> None:
        self._link.subscribe("state_changed", self._on_state_changed)
        self._link.subscribe("entity_registry_updated", self._on_registry_updated)
        self._link.on_connect(self._on_connect)

    async def start(self) -> None:
        """Take up the entities learned before a restart, then run the writer, the syncs and the marks."""
        known = await self._store.call(StoreDb.entities)
        self.learned |= {meta.entity_id for meta in known}
        for name, work in (("writer", self._write_loop()), ("sync", self._sync_loop()),
                           ("marks", self._mark_loop())):
            self._tasks.append(asyncio.create_task(work, name=f"eaio-collector-{name}"))

    async def stop(self) -> None:
        """Store what is queued, then stop."""
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
        if self._tasks and not self._tasks[0].done():
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await self._queue.join()
            except TimeoutError:
                _LOGGER.error("Stopping with %d readings not stored: %s", self._queue.qsize(),
                              self._supervisor.troubles.get(STORING) or "the store is slow")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def sync(self, entity_ids: Iterable[str], until: float) -> None:
        """Fetch the history not yet stored for ``entity_ids`` up to ``until``; returns when done or abandoned."""
        request = _SyncRequest(set(entity_ids), until)
        self._requests.put_nowait(request)
        await request.done.wait()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    # --- live events ----------------------------------------------------------------------------

    def _on_state_changed(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        new = data.get("new_state")
        if not isinstance(new, dict):
            return  # the entity was removed
        ts = _epoch(new.get("last_updated"))
        if ts is None:
            return
        if self._latest_event_ts is None or ts > self._latest_event_ts:
            self._latest_event_ts = ts
        if self._held is not None:
            self._held.append(event)
            return
        self._take(data, new, ts)

    def _take(self, data: dict[str, Any], new: dict[str, Any], ts: float) -> None:
        entity_id = data.get("entity_id")
        if entity_id not in self.learned:
            return
        old = data.get("old_state")
        if isinstance(old, dict) and old.get("state") == new.get("state"):
            return  # only attributes changed: no new reading (the history's minimal answer drops these too)
        state = new.get("state")
        if isinstance(state, str):
            self._queue.put_nowait(reading(entity_id, ts, state))

    async def _addon_entries(self) -> set[str]:
        """The config entries of EAIO's add-on link: their entities are EAIO's output, not measurements."""
        try:
            entries = await self._link.call({"type": "eaio/devices"})
        except HaError:  # an integration without the command: the unique ids still tell
            return set()
        return {str(e.get("entry_id")) for e in entries if isinstance(e, dict) and e.get("source_type") == "addon"} \
            if isinstance(entries, list) else set()

    def _on_registry_updated(self, event: dict[str, Any]) -> None:
        # Added or removed EAIO entities; a burst (a new device brings many) is handled once.
        del event
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
        self._refresh_timer = asyncio.get_running_loop().call_later(
            self._registry_debounce, lambda: self._spawn(self._refresh_and_sync()))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work, name="eaio-collector-refresh")
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(exc, LinkDown):
            _LOGGER.error("Refreshing the learned entities failed", exc_info=exc)

    async def _refresh_and_sync(self) -> None:
        until = self._clock()
        added = await self._refresh_held()
        if added:
            _LOGGER.info("Learning from %d more entities: %s", len(added), ", ".join(sorted(added)))
            await self.sync(added, until)

    # --- on (re)connect -------------------------------------------------------------------------

    async def _on_connect(self) -> None:
        until = self._clock()
        await self._refresh_held()
        await self.sync(self.learned, until)

    async def _until_stored[T](self, step: str, work: Callable[[], Awaitable[T]]) -> T:
        """``work`` tried again, with back-off, while the store cannot take it (a full disk): the error
        is reported under ``step`` meanwhile, and anything else is raised."""
        delay = self._supervisor.backoff_initial
        while True:
            try:
                return await work()
            except Exception as exc:
                if not transient(exc):
                    raise
                self._supervisor.report(step, exc)
                await asyncio.sleep(delay)
                delay = min(self._supervisor.backoff_cap, delay * 2)

    async def _refresh_held(self) -> set[str]:
        """``_refresh_entities``, held through store errors that may pass: the backfill that follows
        would otherwise wait for the next reconnect."""
        return await self._until_stored(BACKFILL, self._refresh_entities)

    async def _refresh_entities(self) -> set[str]:
        """Read the registry and the states; returns the entities learned from now on that were not before."""
        async with self._refresh_lock:
            self._held = []
            learned: set[str] | None = None
            try:
                registry = await self._link.call({"type": "config/entity_registry/list"})
                states = await self._link.call({"type": "get_states"})
                addon_entries = await self._addon_entries()
                ours: set[str] = set()
                outputs: set[str] = set()
                for entry in registry:
                    if not isinstance(entry, dict) or entry.get("platform") != "eaio":
                        continue
                    if not is_device_point(entry, addon_entries):
                        outputs.add(entry["entity_id"])
                    elif not entry.get("disabled_by"):
                        ours.add(entry["entity_id"])
                refused = outputs & set(self._options)
                if refused and refused != self._refused_outputs:
                    _LOGGER.warning("Not learning from EAIO's own output entities listed in the options: %s",
                                    ", ".join(sorted(refused)))
                self._refused_outputs = refused
                wanted = ours | (set(self._options) - outputs)
                by_id = {state["entity_id"]: state for state in states if isinstance(state, dict)}
                metas = []
                for entity_id in sorted(wanted):
                    attributes = (by_id.get(entity_id) or {}).get("attributes") or {}
                    metas.append(EntityMeta(entity_id, "eaio" if entity_id in ours else "option",
                                            attributes.get("state_class"), attributes.get("unit_of_measurement"),
                                            attributes.get("device_class"), attributes.get("friendly_name")))
                await self._store.call(StoreDb.set_learned, metas)
                learned = wanted
                self.refreshes += 1
            finally:
                held, self._held = self._held, None
                added: set[str] = set()
                if learned is not None:
                    added = learned - self.learned
                    self.learned = learned
                # What arrived meanwhile, judged against the new set (the old one if the refresh failed).
                for event in held:
                    data = event.get("data") or {}
                    new = data.get("new_state") or {}
                    ts = _epoch(new.get("last_updated"))
                    if ts is not None:
                        self._take(data, new, ts)
        missing = set(self._options) - set(by_id)
        if missing and missing != self.missing:
            _LOGGER.warning("Entities in the options that Home Assistant does not have (yet): %s",
                            ", ".join(sorted(missing)))
        self.missing = missing
        return added

    # --- writing --------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < WRITE_BATCH and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._write_held(items)
            except Exception:
                _LOGGER.exception("Storing %d live readings failed", len(items))
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _write_held(self, items: list[Reading | _Mark]) -> None:
        """Store ``items``, holding them through store errors that may pass: a full disk loses no reading."""
        await self._until_stored(STORING, lambda: self._write(items))
        self._supervisor.clear(STORING)

    async def _write(self, items: list[Reading | _Mark]) -> None:
        batch: list[Reading] = []
        for item in items:
            if isinstance(item, Reading):
                batch.append(item)
                continue
            if batch:
                await self._store_live(batch)
                batch = []
            await self._store.call(StoreDb.set_covered, item.entity_ids, item.until)
        if batch:
            await self._store_live(batch)

    async def _store_live(self, batch: list[Reading]) -> None:
        await self._store.call(StoreDb.add_readings, batch)
        self.live_readings += len(batch)
        for listener in self.listeners:
            listener(batch)

    async def _mark_loop(self) -> None:
        """While caught up, record that the history up to the latest event received is in the store.

        Events come in the order Home Assistant fired them, so once an event stamped T arrived, every
        state of a learned entity from before T arrived too, and is queued ahead of the mark.
        """
        while True:
            await asyncio.sleep(MARK_EVERY)
            if (self._link.connected and not self._syncing and self._requests.empty() and self._held is None
                    and self._latest_event_ts is not None):
                self._queue.put_nowait(_Mark(tuple(sorted(self.learned)), self._latest_event_ts - 1.0))

    # --- history --------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        delay = self._supervisor.backoff_initial
        while True:
            request = await self._requests.get()
            self._syncing = True
            again = False
            try:
                await self._fetch_history(request.entity_ids, request.until)
                self._supervisor.clear(BACKFILL)
                delay = self._supervisor.backoff_initial
            except LinkDown:
                _LOGGER.info("Backfill paused: the link to Home Assistant is down; it resumes on reconnect")
            except Exception as exc:
                if transient(exc):
                    # The store cannot take it now: resume after a pause (what committed is not fetched again).
                    self._supervisor.report(BACKFILL, exc)
                    again = True
                else:
                    _LOGGER.exception("Backfill failed; it is tried again on the next connect")
            finally:
                self._syncing = False
                if not again:
                    request.done.set()
            if again:
                await asyncio.sleep(delay)
                delay = min(self._supervisor.backoff_cap, delay * 2)
                self._requests.put_nowait(request)

    async def _fetch_history(self, entity_ids: set[str], until: float) -> None:
        if not entity_ids:
            self.backfill.state, self.backfill.progress, self.backfill.entities = "done", 100.0, 0
            return
        horizon = until - self._backfill_span
        ids = sorted(entity_ids)
        marks = await self._store.call(StoreDb.covered_until, ids)
        starts = {e: max(marks.get(e) or horizon, horizon) for e in ids}
        span = until - horizon
        total = span * len(ids)
        done = sum(min(starts[e], until) - horizon for e in ids)
        groups: dict[float, list[str]] = {}
        for entity_id in ids:
            if starts[entity_id] < until:
                groups.setdefault(starts[entity_id], []).append(entity_id)
        progress = self.backfill
        progress.entities = len(ids)
        progress.progress = 100.0 * done / total if total > 0 else 100.0
        if not groups:
            await self._statistics_or_not(ids, horizon, until)
            progress.state = "done"
            return
        longest = until - min(groups)
        verbose = longest > LOG_LONG_BACKFILL
        progress.state = "running"
        progress.readings = 0
        began = time.monotonic()
        if verbose:
            _LOGGER.info("Backfill: fetching up to %.1f days of history for %d entities (%.0f%% already stored)",
                         longest / DAY_S, len(ids), progress.progress)
        logged_step = int(progress.progress // 5)
        for start, members in sorted(groups.items()):
            for i in range(0, len(members), BATCH):
                batch = members[i:i + BATCH]
                t, window = start, WINDOW_MAX
                while t < until:
                    end = min(t + window, until)
                    wait = end + self._recorder_lag - self._clock()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    result = await self._link.call({
                        "type": "history/history_during_period",
                        # The recorder's query excludes both ends: start a millisecond early, so a state
                        # stamped exactly at a chunk boundary is not lost (a repeat is ignored).
                        "start_time": _iso(t - 0.001),
                        "end_time": _iso(end),
                        "entity_ids": batch,
                        "include_start_time_state": False,
                        "significant_changes_only": False,
                        "minimal_response": True,
                        "no_attributes": True,
                    })
                    readings = history_readings(result)
                    await self._store.call(StoreDb.add_readings, readings, covered=(batch, end))
                    progress.readings += len(readings)
                    done += (end - t) * len(batch)
                    progress.progress = min(100.0, 100.0 * done / total)
                    if verbose and int(progress.progress // 5) > logged_step:
                        logged_step = int(progress.progress // 5)
                        _LOGGER.info("Backfill: %d%% (%d readings fetched so far)", int(progress.progress),
                                     progress.readings)
                    # Keep each answer near TARGET_STATES: dense sensors get shorter spans, sparse ones longer.
                    if len(readings) > TARGET_STATES:
                        window = max(WINDOW_MIN, window / 2)
                    elif len(readings) < TARGET_STATES / 4:
                        window = min(WINDOW_MAX, window * 2)
                    t = end
        await self._statistics_or_not(ids, horizon, until)
        progress.state = "done"
        progress.progress = 100.0
        progress.last_run_s = time.monotonic() - began
        _LOGGER.info("Backfill: done, %d readings for %d entities in %.1f s", progress.readings, len(ids),
                     progress.last_run_s)

    async def _statistics_or_not(self, ids: list[str], horizon: float, until: float) -> None:
        """The states are in; statistics only add older hours, so a refusal leaves the backfill done."""
        try:
            await self._fill_from_statistics(ids, horizon, until)
        except HaError as exc:
            _LOGGER.warning("Backfill: Home Assistant's long-term statistics could not be read (%s); the history"
                            " starts at the recorder's oldest state", exc)

    async def _fill_from_statistics(self, ids: list[str], horizon: float, until: float) -> None:
        """Hours before the recorder's oldest state, from its long-term statistics.

        The recorder keeps states for ``purge_keep_days`` (10 by default) but hourly statistics of
        every sensor with a state class for good: a 30-day backfill on a default install gets its
        first 20 days from them. Only hours before an entity's first rollup are filled, so this can
        run after every sync; a statistic kept in another unit than the entity's state is skipped.
        """
        metas = {m.entity_id: m for m in await self._store.call(StoreDb.entities)}
        candidates = [e for e in ids if e in metas and metas[e].state_class]
        if not candidates:
            return
        first_full = math.ceil(horizon / HOUR_S) * HOUR_S
        firsts = await self._store.call(StoreDb.first_hours, candidates)
        gaps: dict[str, float] = {}
        for entity_id in candidates:
            first = firsts[entity_id]
            end = first if first is not None else hour_of(until)
            if end > first_full:
                gaps[entity_id] = end
        hours = 0
        for i in range(0, len(gaps), BATCH):
            batch = sorted(gaps)[i:i + BATCH]
            listed = await self._link.call({"type": "recorder/get_statistics_metadata", "statistic_ids": batch})
            usable = []
            for item in listed if isinstance(listed, list) else []:
                entity_id = item.get("statistic_id")
                if entity_id not in gaps:
                    continue
                unit = item.get("statistics_unit_of_measurement")
                if unit != metas[entity_id].unit:
                    _LOGGER.warning("Backfill: the statistics of %s are in %s, its state in %s; not used", entity_id,
                                    unit, metas[entity_id].unit)
                    continue
                usable.append(entity_id)
            if not usable:
                continue
            end = max(gaps[e] for e in usable)
            # Newest stretch first: each one ends where the stored hours begin. One hour earlier than the
            # stretch, so a meter's first hour in it has the sum it grew from.
            while end > first_full:
                start = max(first_full, end - STATISTICS_WINDOW)
                result = await self._link.call({
                    "type": "recorder/statistics_during_period",
                    "start_time": _iso(start - HOUR_S),
                    "end_time": _iso(end),
                    "statistic_ids": usable,
                    "period": "hour",
                    "types": ["mean", "min", "max", "state", "sum"],
                })
                for entity_id in usable:
                    rows = result.get(entity_id) if isinstance(result, dict) else None
                    rollups = [r for r in statistics_rollups(rows, metas[entity_id].state_class,
                                                             before=min(gaps[entity_id], end)) if r.hour >= start]
                    if rollups:
                        hours += await self._store.call(StoreDb.add_statistics, entity_id, rollups)
                end = start
        if hours:
            _LOGGER.info("Backfill: %d hours from the recorder's long-term statistics, before its oldest states",
                         hours)


def _start_epoch(value: Any) -> float | None:
    """A statistics row's start: epoch milliseconds (current Home Assistant) or ISO text (older)."""
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
    return _epoch(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def statistics_rollups(rows: Any, state_class: str | None, *, before: float) -> list[HourRollup]:
    """Rollups from one entity's hourly ``statistics_during_period`` rows, for the hours before ``before``.

    An energy meter's hour counts the growth of its ``sum`` (which already accounts for meter resets)
    since the hour before; the first hour, with nothing before it, has no count.
    """
    out: list[HourRollup] = []
    previous_sum: float | None = None
    previous_hour: float | None = None
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        hour = _start_epoch(row.get("start"))
        if hour is None or hour >= before:
            continue
        total = _number(row.get("sum"))
        delta = None
        if total is not None and previous_sum is not None and previous_hour == hour - HOUR_S:
            delta = total - previous_sum
        previous_sum, previous_hour = total, hour
        rollup = from_statistics(hour, _number(row.get("mean")), _number(row.get("min")), _number(row.get("max")),
                                 _number(row.get("state")), delta, state_class)
        if rollup is not None:
            out.append(rollup)
    return out

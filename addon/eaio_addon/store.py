"""The local store: readings, hourly rollups, entity metadata, the outbox and recommendations.

SQLite in the data directory, in WAL mode (readers never wait for the writer). ``StoreDb`` is the
synchronous store; ``Store`` runs every call of it on one dedicated thread, so the event loop never
waits for the disk and the connection is only ever used from the thread that opened it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
import functools
import json
import logging
import math
from pathlib import Path
import sqlite3
import time
from typing import Any, Concatenate, NamedTuple
import uuid

from .migrations import migrate, write_rollups
from .rollup import HOUR_S, HourRollup, fold, hour_of

_LOGGER = logging.getLogger(__name__)

DB_FILE = "eaio.db"
_BINARY = {"on": 1.0, "off": 0.0}


class Reading(NamedTuple):
    """One state of one entity: ``value`` when it is a number (on/off as 1/0), ``state`` when it is text."""

    entity_id: str
    ts: float  # epoch seconds: Home Assistant's last_updated
    value: float | None
    state: str | None


def reading(entity_id: str, ts: float, state: str) -> Reading:
    """The reading for a Home Assistant state string.

    The time is rounded to the microsecond: the recorder's history carries the full float, a live
    event the ISO text (microseconds), and the same state must be one reading however it came.
    """
    ts = round(ts, 6)
    if state in _BINARY:
        return Reading(entity_id, ts, _BINARY[state], state)
    try:
        value = float(state)
    except ValueError:
        return Reading(entity_id, ts, None, state)
    if not math.isfinite(value):  # "nan", "inf" parse as floats but are no measurement
        return Reading(entity_id, ts, None, state)
    return Reading(entity_id, ts, value, None)


@dataclass(frozen=True)
class EntityMeta:
    """What the add-on knows about an entity it learns from."""

    entity_id: str
    source: str  # "eaio" (EAIO's own entity) or "option" (listed in the options)
    state_class: str | None = None
    unit: str | None = None
    device_class: str | None = None
    name: str | None = None


class Decision(NamedTuple):
    """One decision about a recommendation: proposed, applied, dismissed, expired or verified."""

    ts: float
    rec_id: str
    kind: str
    category: str
    target: str
    value: str | None
    saving_kwh: float | None
    run_id: str | None


@dataclass(frozen=True)
class OutboxItem:
    """One push to Home Assistant: a service call, delivered in order, at least once."""

    id: int
    push_id: str
    created_at: float
    domain: str
    service: str
    data: dict[str, Any]
    return_response: bool
    state: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
    response: Any


@dataclass(frozen=True)
class StoreCounts:
    readings: int
    entities: int
    outbox_pending: int
    outbox_delivered: int
    outbox_failed: int
    oldest_reading: float | None
    newest_reading: float | None


@dataclass(frozen=True)
class HourlyRow:
    """One hour of one entity as the engine reads it."""

    hour: float  # epoch seconds of the hour's start (UTC)
    mean: float | None  # time-weighted
    minimum: float | None
    maximum: float | None
    last: float | None
    count: int
    delta: float | None  # energy counted in the hour (energy-like sensors)


_OUTBOX_COLUMNS = ("id, push_id, created_at, domain, service, data, return_response, state, attempts,"
                   " next_attempt_at, last_error, delivered_at, response")


class StoreDb:
    """The store on one SQLite connection; use it from one thread only (``Store`` does)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (``_transaction``), migrations included.
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed transaction when the process dies, only on power loss.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        applied = migrate(self._db)
        if applied:
            _LOGGER.info("Store %s: schema migrated to version %s", path, applied[-1])
        self._ids: dict[str, int] = {}
        self._state_class: dict[int, str | None] = {}
        self._readings = 0
        self._load_caches()

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a full disk) leaves the transaction open: without this every later
            # BEGIN fails too, and the store stays broken after the cause is gone.
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        # What the rolled-back transaction added to the caches is not in the database.
        self._load_caches()

    def _load_caches(self) -> None:
        self._ids = {}
        self._state_class = {}
        for key, entity_id, state_class in self._db.execute("SELECT id, entity_id, state_class FROM entities"):
            self._ids[entity_id] = key
            self._state_class[key] = state_class
        self._readings = int(self._db.execute("SELECT count(*) FROM readings").fetchone()[0])

    def _entity(self, entity_id: str) -> int:
        key = self._ids.get(entity_id)
        if key is None:
            cursor = self._db.execute("INSERT INTO entities (entity_id) VALUES (?)", (entity_id,))
            key = int(cursor.lastrowid or 0)
            self._ids[entity_id] = key
            self._state_class[key] = None
        return key

    # --- readings and rollups -------------------------------------------------------------------

    def add_readings(self, readings: Sequence[Reading],
                     covered: tuple[Sequence[str], float] | None = None) -> int:
        """Store readings (a repeat of a stored one is ignored) and update the rollups.

        ``covered`` marks, in the same transaction, that these entities' history up to a time is
        now complete in the store: a backfill interrupted at any point resumes exactly after the
        last chunk that committed. Returns how many readings were new.
        """
        by_entity: dict[str, list[Reading]] = {}
        for item in readings:
            by_entity.setdefault(item.entity_id, []).append(item)
        added = 0
        with self._transaction() as db:
            for entity_id, items in by_entity.items():
                key = self._entity(entity_id)
                newest = db.execute("SELECT max(ts) FROM readings WHERE entity = ?", (key,)).fetchone()[0]
                new: list[Reading] = []
                for item in items:
                    cursor = db.execute("INSERT OR IGNORE INTO readings (entity, ts, value, state) VALUES (?, ?, ?, ?)",
                                        (key, item.ts, item.value, item.state))
                    if cursor.rowcount:
                        new.append(item)
                if new:
                    new.sort(key=lambda r: r.ts)
                    self._update_rollups(key, new, newest)
                    added += len(new)
            if covered is not None:
                self._set_covered(covered[0], covered[1])
        self._readings += added
        return added

    def _update_rollups(self, key: int, new: list[Reading], newest: float | None) -> None:
        state_class = self._state_class.get(key)
        db = self._db
        if newest is None or new[0].ts > newest:
            # Appending after everything stored: continue the newest hour (the live path).
            row = db.execute("SELECT * FROM rollups WHERE entity = ? ORDER BY hour DESC LIMIT 1", (key,)).fetchone()
            last = _rollup(row) if row is not None else None
            if last is not None and last.hour == hour_of(new[0].ts):
                rollups = fold(((r.ts, r.value) for r in new), state_class, current=last)
            else:
                rollups = fold(((r.ts, r.value) for r in new), state_class, before=last)
            write_rollups(db, key, rollups)
            return
        # Readings older than stored ones (a backfill): rebuild from the first touched hour up to the
        # hour of the next numeric reading after them, whose increment and carried value change.
        first = hour_of(new[0].ts)
        after = db.execute("SELECT ts FROM readings WHERE entity = ? AND ts > ? AND value IS NOT NULL"
                           " ORDER BY ts LIMIT 1", (key, new[-1].ts)).fetchone()
        end = hour_of(after[0] if after is not None else new[-1].ts) + HOUR_S
        row = db.execute("SELECT * FROM rollups WHERE entity = ? AND hour < ? ORDER BY hour DESC LIMIT 1",
                         (key, first)).fetchone()
        source = db.execute("SELECT ts, value FROM readings WHERE entity = ? AND ts >= ? AND ts < ? ORDER BY ts",
                            (key, first, end))
        rollups = fold(source, state_class, before=_rollup(row) if row is not None else None)
        db.execute("DELETE FROM rollups WHERE entity = ? AND hour >= ? AND hour < ?", (key, first, end))
        write_rollups(db, key, [r for r in rollups if r.hour < end])

    def first_hours(self, entity_ids: Sequence[str]) -> dict[str, float | None]:
        """The earliest hour each entity has a rollup for (None: none yet)."""
        out: dict[str, float | None] = {}
        for entity_id in entity_ids:
            key = self._ids.get(entity_id)
            row = None if key is None else self._db.execute(
                "SELECT min(hour) FROM rollups WHERE entity = ?", (key,)).fetchone()
            out[entity_id] = row[0] if row is not None else None
        return out

    def hour_counts(self, entity_ids: Sequence[str], start: float, end: float) -> dict[str, int]:
        """How many hours in [start, end) each entity has a rollup for."""
        out: dict[str, int] = {}
        for entity_id in entity_ids:
            key = self._ids.get(entity_id)
            out[entity_id] = 0 if key is None else self._db.execute(
                "SELECT count(*) FROM rollups WHERE entity = ? AND hour >= ? AND hour < ?", (key, start, end)).fetchone()[0]
        return out

    def add_statistics(self, entity_id: str, rollups: Sequence[HourRollup]) -> int:
        """Store hours from the recorder's long-term statistics, only before the entity's first rollup.

        Hours built from readings are finer and always win: statistics only fill the stretch the
        recorder no longer has states for. Returns how many hours were added.
        """
        with self._transaction() as db:
            key = self._entity(entity_id)
            first = db.execute("SELECT min(hour) FROM rollups WHERE entity = ?", (key,)).fetchone()[0]
            keep = [r for r in rollups if first is None or r.hour < first]
            write_rollups(db, key, keep)
        return len(keep)

    def readings_between(self, entity_id: str, start: float, end: float) -> list[Reading]:
        key = self._ids.get(entity_id)
        if key is None:
            return []
        rows = self._db.execute("SELECT ts, value, state FROM readings WHERE entity = ? AND ts >= ? AND ts < ?"
                                " ORDER BY ts", (key, start, end))
        return [Reading(entity_id, ts, value, state) for ts, value, state in rows]

    def hourly(self, entity_id: str, start: float, end: float, now: float | None = None) -> list[HourlyRow]:
        """Rollups of the hours starting in [start, end); hours without a row are absent (unknown)."""
        key = self._ids.get(entity_id)
        if key is None:
            return []
        now = time.time() if now is None else now
        rows = self._db.execute("SELECT * FROM rollups WHERE entity = ? AND hour >= ? AND hour < ? ORDER BY hour",
                                (key, start, end))
        out = []
        for row in rows:
            r = _rollup(row)
            out.append(HourlyRow(r.hour, r.mean(now), r.minimum, r.maximum, r.last, r.count, r.delta))
        return out

    def purge_readings(self, before: float) -> int:
        """Delete raw readings older than ``before``; the hourly rollups stay."""
        removed = 0
        with self._transaction() as db:
            for key in self._ids.values():  # per entity: the primary key (entity, ts) serves each delete
                removed += db.execute("DELETE FROM readings WHERE entity = ? AND ts < ?", (key, before)).rowcount
        self._readings -= removed
        return removed

    # --- entities -------------------------------------------------------------------------------

    def set_learned(self, metas: Sequence[EntityMeta]) -> None:
        """Record the entities learned from now on; the others keep their data but lose their source.

        The state class decides whether rollups carry an energy delta; hours already rolled up keep
        what they were computed with (a sensor rarely changes its state class).
        """
        with self._transaction() as db:
            db.execute("UPDATE entities SET source = NULL")
            for meta in metas:
                key = self._entity(meta.entity_id)
                db.execute("UPDATE entities SET source = ?, state_class = ?, unit = ?, device_class = ?, name = ?"
                           " WHERE id = ?",
                           (meta.source, meta.state_class, meta.unit, meta.device_class, meta.name, key))
                self._state_class[key] = meta.state_class

    def entities(self) -> list[EntityMeta]:
        rows = self._db.execute("SELECT entity_id, source, state_class, unit, device_class, name FROM entities"
                                " WHERE source IS NOT NULL ORDER BY entity_id")
        return [EntityMeta(*row) for row in rows]

    def covered_until(self, entity_ids: Sequence[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for entity_id in entity_ids:
            row = self._db.execute("SELECT covered_until FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
            out[entity_id] = row[0] if row is not None else None
        return out

    def set_covered(self, entity_ids: Sequence[str], until: float) -> None:
        with self._transaction():
            self._set_covered(entity_ids, until)

    def _set_covered(self, entity_ids: Sequence[str], until: float) -> None:
        for entity_id in entity_ids:
            key = self._entity(entity_id)
            # Only forwards: a late, older mark must not make the next start fetch again.
            self._db.execute("UPDATE entities SET covered_until = max(coalesce(covered_until, 0), ?) WHERE id = ?",
                             (until, key))

    # --- agent memory: decisions and their outcomes ----------------------------------------------

    def add_decisions(self, rows: Sequence[Decision]) -> None:
        with self._transaction() as db:
            db.executemany("INSERT INTO decisions (ts, rec_id, kind, category, target, value, saving_kwh, run_id)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def decisions(self, *, kind: str | None = None, rec_id: str | None = None, category: str | None = None,
                  target: str | None = None) -> list[Decision]:
        """The decisions matching every filter given, oldest first."""
        where = [(column, value) for column, value in (("kind", kind), ("rec_id", rec_id), ("category", category),
                                                       ("target", target)) if value is not None]
        sql = "SELECT ts, rec_id, kind, category, target, value, saving_kwh, run_id FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(f"{column} = ?" for column, _ in where)
        rows = self._db.execute(sql + " ORDER BY id", tuple(value for _, value in where))
        return [Decision(*row) for row in rows]

    # --- issued forecasts -----------------------------------------------------------------------

    def add_forecast(self, issued: float, hours: Sequence[tuple[float, float]], keep_days: float = 90.0) -> int:
        """Keep the load forecast (hour, kW) for hours not forecast before: the first issue, the longest
        lead, is the one whose error counts. Returns how many hours were new."""
        with self._transaction() as db:
            added = sum(db.execute("INSERT OR IGNORE INTO forecasts (hour, issued, p50) VALUES (?, ?, ?)",
                                   (hour, issued, p50)).rowcount for hour, p50 in hours)
            db.execute("DELETE FROM forecasts WHERE hour < ?", (issued - keep_days * 86400.0,))
        return added

    def issued_forecasts(self, start: float, end: float) -> list[tuple[float, float, float]]:
        """(hour, issued, kW) of the hours in [start, end) that have a forecast."""
        rows = self._db.execute("SELECT hour, issued, p50 FROM forecasts WHERE hour >= ? AND hour < ? ORDER BY hour",
                                (start, end))
        return [(float(h), float(i), float(p)) for h, i, p in rows]

    # --- outbox and recommendations -------------------------------------------------------------

    def enqueue(self, domain: str, service: str, data: dict[str, Any], *, return_response: bool = False,
                push_id: str | None = None) -> OutboxItem:
        with self._transaction():
            return self._enqueue(domain, service, data, return_response, push_id)

    def enqueue_superseding(self, domain: str, service: str, data: dict[str, Any], *, push_id: str,
                            keep_s: float = 86400.0) -> OutboxItem:
        """Queue a push that replaces every earlier one of its service (a plan replaces the last plan whole):
        earlier pending ones are dropped, delivered or failed ones are kept ``keep_s`` for the record."""
        with self._transaction() as db:
            db.execute("DELETE FROM outbox WHERE domain = ? AND service = ? AND (state = 'pending' OR created_at < ?)",
                       (domain, service, time.time() - keep_s))
            return self._enqueue(domain, service, data, True, push_id)

    def _enqueue(self, domain: str, service: str, data: dict[str, Any], return_response: bool,
                 push_id: str | None) -> OutboxItem:
        cursor = self._db.execute(
            "INSERT INTO outbox (push_id, created_at, domain, service, data, return_response) VALUES (?, ?, ?, ?, ?, ?)",
            (push_id or uuid.uuid4().hex, time.time(), domain, service, json.dumps(data), int(return_response)))
        return self._outbox_item(int(cursor.lastrowid or 0))

    def save_recommendations(self, recommendations: Sequence[dict[str, Any]], replace: bool) -> OutboxItem:
        """Queue ``eaio.submit_recommendations`` and keep the batch as the add-on's current set, atomically."""
        with self._transaction() as db:
            item = self._enqueue("eaio", "submit_recommendations",
                                 {"recommendations": list(recommendations), "replace": replace}, True, None)
            if replace:
                db.execute("DELETE FROM recommendations")
            db.executemany("INSERT OR REPLACE INTO recommendations (id, body, push_id, submitted_at) VALUES (?, ?, ?, ?)",
                           [(rec["id"], json.dumps(rec), item.push_id, item.created_at) for rec in recommendations])
        return item

    def recommendations(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM recommendations ORDER BY submitted_at, rowid")
        return [json.loads(body) for (body,) in rows]

    def outbox_head(self) -> OutboxItem | None:
        """The oldest undelivered push: delivery keeps the order in which pushes were made."""
        row = self._db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1"
                               ).fetchone()
        return _outbox(row) if row is not None else None

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        row = self._db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (item_id,)).fetchone()
        return _outbox(row) if row is not None else None

    def _outbox_item(self, item_id: int) -> OutboxItem:
        item = self.outbox_item(item_id)
        assert item is not None
        return item

    def outbox_delivered(self, item_id: int, response: Any) -> None:
        with self._transaction() as db:
            db.execute("UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1,"
                       " response = ?, last_error = NULL WHERE id = ?", (time.time(), json.dumps(response), item_id))

    def outbox_retry(self, item_id: int, error: str, next_attempt_at: float, *, count_attempt: bool = True) -> None:
        with self._transaction() as db:
            db.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                       (int(count_attempt), error, next_attempt_at, item_id))

    def outbox_failed(self, item_id: int, error: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
                       (error, item_id))

    def outbox_rearm(self) -> None:
        """Make every pending push due now (the link just came back)."""
        with self._transaction() as db:
            db.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state = 'pending'")

    def outbox_recent(self, limit: int = 20) -> list[OutboxItem]:
        rows = self._db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?", (limit,))
        return [_outbox(row) for row in rows]

    def health_counts(self) -> tuple[int, int, OutboxItem | None]:
        """What /api/health reports, cheaply: readings, pending pushes, the oldest pending one."""
        pending = self._db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        return self._readings, int(pending), self.outbox_head()

    def counts(self) -> StoreCounts:
        by_state = dict(self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        oldest = newest = None
        for key in self._ids.values():  # min/max per entity use the primary key; a global one would scan
            lo, hi = self._db.execute("SELECT min(ts), max(ts) FROM readings WHERE entity = ?", (key,)).fetchone()
            if lo is not None:
                oldest = lo if oldest is None else min(oldest, lo)
                newest = hi if newest is None else max(newest, hi)
        return StoreCounts(
            readings=self._readings,
            entities=sum(1 for _ in self._db.execute("SELECT 1 FROM entities WHERE source IS NOT NULL")),
            outbox_pending=int(by_state.get("pending", 0)),
            outbox_delivered=int(by_state.get("delivered", 0)),
            outbox_failed=int(by_state.get("failed", 0)),
            oldest_reading=oldest,
            newest_reading=newest,
        )


def _rollup(row: sqlite3.Row | tuple[Any, ...]) -> HourRollup:
    _, hour, count, minimum, maximum, last, last_ts, integral, covered, delta, ref = row
    return HourRollup(hour, count, minimum, maximum, last, last_ts, integral, covered, delta, ref)


def _outbox(row: tuple[Any, ...]) -> OutboxItem:
    (item_id, push_id, created_at, domain, service, data, return_response, state, attempts, next_attempt_at,
     last_error, delivered_at, response) = row
    return OutboxItem(item_id, push_id, created_at, domain, service, json.loads(data), bool(return_response),
                      state, attempts, next_attempt_at, last_error, delivered_at,
                      json.loads(response) if response is not None else None)


class Store:
    """``StoreDb`` on its own thread: ``await store.call(StoreDb.add_readings, batch)``."""

    def __init__(self, executor: ThreadPoolExecutor, db: StoreDb) -> None:
        self._executor = executor
        self._db = db

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eaio-store")
        try:
            db = await asyncio.get_running_loop().run_in_executor(executor, StoreDb, data_dir / DB_FILE)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, db)

    @property
    def path(self) -> Path:
        return self._db.path

    async def call[**P, T](self, work: Callable[Concatenate[StoreDb, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``work(db, *args, **kwargs)`` on the store's thread; calls run one at a time, in the order made."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(work, self._db, *args, **kwargs))

    async def close(self) -> None:
        await self.call(StoreDb.close)
        self._executor.shutdown(wait=True)

"""The store's schema, as a list of migrations applied in order.

Each migration runs in its own transaction and records its version in ``schema_version``; a
database opened by this code is brought up to ``LATEST`` and one written by a newer add-on is
refused (an older add-on cannot know what the newer schema means). Never edit a migration that
has shipped: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import sqlite3
import time

from .rollup import HourRollup, fold


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer add-on."""


def _v1_readings_and_outbox(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE entities (id INTEGER PRIMARY KEY, entity_id TEXT NOT NULL UNIQUE)")
    # One row per state change; the primary key deduplicates a reading seen live and in history.
    # value: the state as a number (on/off as 1/0); state: the text when it is not a plain number.
    db.execute("""CREATE TABLE readings (
        entity INTEGER NOT NULL REFERENCES entities(id),
        ts REAL NOT NULL,
        value REAL,
        state TEXT,
        PRIMARY KEY (entity, ts)) WITHOUT ROWID""")
    # Every push to Home Assistant, in the order it was made; delivered rows stay as a record.
    db.execute("""CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        push_id TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        domain TEXT NOT NULL,
        service TEXT NOT NULL,
        data TEXT NOT NULL,
        return_response INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        delivered_at REAL,
        response TEXT)""")
    db.execute("CREATE INDEX outbox_by_state ON outbox (state, id)")


def _v2_rollups_metadata_recommendations(db: sqlite3.Connection) -> None:
    for column in ("source TEXT", "state_class TEXT", "unit TEXT", "device_class TEXT", "name TEXT",
                   "covered_until REAL"):  # covered_until: history up to here is in the store
        db.execute(f"ALTER TABLE entities ADD COLUMN {column}")
    db.execute("""CREATE TABLE rollups (
        entity INTEGER NOT NULL REFERENCES entities(id),
        hour REAL NOT NULL,
        count INTEGER NOT NULL,
        minimum REAL,
        maximum REAL,
        last REAL,
        last_ts REAL NOT NULL,
        integral REAL NOT NULL,
        covered REAL NOT NULL,
        delta REAL,
        ref REAL,
        PRIMARY KEY (entity, hour)) WITHOUT ROWID""")
    db.execute("""CREATE TABLE recommendations (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        push_id TEXT NOT NULL,
        submitted_at REAL NOT NULL)""")
    # Readings stored by version 1 get their rollups now (no state class was known then: no delta).
    for (entity,) in db.execute("SELECT id FROM entities").fetchall():
        rows = db.execute("SELECT ts, value FROM readings WHERE entity = ? ORDER BY ts", (entity,))
        write_rollups(db, entity, fold(rows, None))


def _v3_agent_memory(db: sqlite3.Connection) -> None:
    # What the agents proposed and what became of it (applied, dismissed, expired, verified),
    # so a recommendation the user keeps dismissing is not proposed again in the same form.
    db.execute("""CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        rec_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        category TEXT NOT NULL,
        target TEXT NOT NULL,
        value TEXT,
        saving_kwh REAL,
        run_id TEXT)""")
    db.execute("CREATE INDEX decisions_by_form ON decisions (category, target, kind)")
    db.execute("CREATE INDEX decisions_by_rec ON decisions (rec_id)")


def _v4_issued_forecasts(db: sqlite3.Connection) -> None:
    # The load forecast as first issued for each hour, so its error is measured out of sample
    # once the hour's metered load is in.
    db.execute("""CREATE TABLE forecasts (
        hour REAL PRIMARY KEY,
        issued REAL NOT NULL,
        p50 REAL NOT NULL) WITHOUT ROWID""")


def write_rollups(db: sqlite3.Connection, entity: int, rollups: list[HourRollup]) -> None:
    """Insert or replace rollup rows (shared by the migration and the store)."""
    db.executemany(
        "INSERT OR REPLACE INTO rollups (entity, hour, count, minimum, maximum, last, last_ts, integral,"
        " covered, delta, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(entity, r.hour, r.count, r.minimum, r.maximum, r.last, r.last_ts, r.integral, r.covered,
          r.delta, r.ref) for r in rollups],
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "readings, entities and the outbox", _v1_readings_and_outbox),
    Migration(2, "hourly rollups, entity metadata and backfill marks, recommendations",
              _v2_rollups_metadata_recommendations),
    Migration(3, "agent memory: decisions and their outcomes", _v3_agent_memory),
    Migration(4, "the load forecast as issued, for its error", _v4_issued_forecasts),
)
LATEST = MIGRATIONS[-1].version


def current_version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL,"
               " description TEXT NOT NULL)")
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(db: sqlite3.Connection, target: int = LATEST) -> list[int]:
    """Apply the missing migrations up to ``target``; returns the versions applied.

    ``db`` must be in autocommit mode (``isolation_level=None``): each migration gets an explicit
    transaction, so a failure leaves the database at the last complete version.
    """
    version = current_version(db)
    if version > LATEST:
        raise SchemaTooNew(f"the store has schema version {version}, this add-on knows up to {LATEST}; "
                           "it was written by a newer add-on version")
    applied = []
    for migration in MIGRATIONS:
        if version < migration.version <= target:
            db.execute("BEGIN IMMEDIATE")
            try:
                migration.apply(db)
                db.execute("INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                           (migration.version, time.time(), migration.description))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            applied.append(migration.version)
    return applied

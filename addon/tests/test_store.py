"""The store: migrations, deduplication, hourly rollups, retention, the outbox across restarts."""

from __future__ import annotations

from pathlib import Path
import random
import sqlite3
import threading

from eaio_addon.migrations import LATEST, SchemaTooNew, current_version, migrate
from eaio_addon.rollup import HOUR_S, fold
from eaio_addon.store import DB_FILE, EntityMeta, Reading, Store, StoreDb, reading
import pytest

T0 = 1_764_000_000.0 - 1_764_000_000.0 % HOUR_S  # the start of an hour (2025-11-24 16:00 UTC)


@pytest.fixture
def db(tmp_path: Path) -> StoreDb:
    store = StoreDb(tmp_path / DB_FILE)
    yield store
    store.close()


def _hours(db: StoreDb, entity_id: str, now: float = T0 + 100 * HOUR_S) -> list[tuple[float, ...]]:
    return [(r.hour, r.count, r.minimum, r.maximum, r.last, r.delta, round(r.mean or 0, 9))
            for r in db.hourly(entity_id, 0, 1e12, now)]


def test_the_same_state_from_history_and_from_an_event_is_one_reading(db: StoreDb) -> None:
    # The recorder's history has the full float; the event's ISO text has microseconds.
    from datetime import datetime

    history_ts = 1795609548.2695742
    event_ts = datetime.fromisoformat("2026-11-25T12:25:48.269574+00:00").timestamp()
    assert history_ts != event_ts
    assert db.add_readings([reading("sensor.t", history_ts, "1")]) == 1
    assert db.add_readings([reading("sensor.t", event_ts, "1")]) == 0


def test_reading_from_state() -> None:
    assert reading("sensor.t", 1.0, "21.5") == Reading("sensor.t", 1.0, 21.5, None)
    assert reading("switch.s", 1.0, "on") == Reading("switch.s", 1.0, 1.0, "on")
    assert reading("switch.s", 1.0, "off").value == 0.0
    assert reading("sensor.t", 1.0, "unavailable") == Reading("sensor.t", 1.0, None, "unavailable")
    assert reading("sensor.t", 1.0, "nan").value is None


# --- migrations -----------------------------------------------------------------------------------

def test_a_new_store_is_at_the_latest_schema(db: StoreDb, tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / DB_FILE)
    assert current_version(con) == LATEST
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_upgrade_from_version_1_keeps_the_readings_and_builds_rollups(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    con = sqlite3.connect(path, isolation_level=None)
    assert migrate(con, target=1) == [1]
    con.execute("INSERT INTO entities (entity_id) VALUES ('sensor.power')")
    con.executemany("INSERT INTO readings (entity, ts, value, state) VALUES (1, ?, ?, NULL)",
                    [(T0 + 600, 100.0), (T0 + 1800, 300.0), (T0 + HOUR_S + 10, 50.0)])
    con.execute("INSERT INTO outbox (push_id, created_at, domain, service, data) VALUES ('p1', 1, 'eaio', 's', '{}')")
    con.close()

    store = StoreDb(path)
    try:
        assert store.counts().readings == 3
        hours = store.hourly("sensor.power", 0, 1e12, now=T0 + 2 * HOUR_S)
        assert [h.count for h in hours] == [2, 1]
        # 100 W from :10 to :30, then 300 W to the hour's end: (100*1200 + 300*1800) / 3000
        assert hours[0].mean == pytest.approx(220.0)
        assert store.outbox_head() is not None and store.outbox_head().push_id == "p1"  # type: ignore[union-attr]
    finally:
        store.close()
    con = sqlite3.connect(path)
    assert [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")] == list(range(1, LATEST + 1))
    con.close()


def test_a_store_from_a_newer_addon_is_refused(tmp_path: Path) -> None:
    StoreDb(tmp_path / DB_FILE).close()
    con = sqlite3.connect(tmp_path / DB_FILE)
    con.execute("INSERT INTO schema_version VALUES (99, 0, 'from the future')")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNew, match="version 99"):
        StoreDb(tmp_path / DB_FILE)


def test_a_failing_migration_leaves_the_last_complete_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eaio_addon import migrations

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk full")

    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS[:1], migrations.Migration(2, "x", broken)))
    con = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    with pytest.raises(RuntimeError, match="disk full"):
        migrations.migrate(con)
    assert current_version(con) == 1
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    con.close()


# --- readings and rollups -------------------------------------------------------------------------

def test_a_repeated_reading_is_stored_once(db: StoreDb) -> None:
    batch = [reading("sensor.t", T0 + i, str(20 + i)) for i in range(5)]
    assert db.add_readings(batch) == 5
    assert db.add_readings([*batch[2:], reading("sensor.t", T0 + 5, "30")]) == 1
    assert db.counts().readings == 6
    assert [r.value for r in db.readings_between("sensor.t", T0, T0 + 10)] == [20, 21, 22, 23, 24, 30]


def test_time_weighted_hourly_rollups(db: StoreDb) -> None:
    db.add_readings([reading("sensor.t", T0 + 900, "10"), reading("sensor.t", T0 + 2700, "20"),
                     reading("sensor.t", T0 + 2 * HOUR_S + 1800, "unavailable"),
                     reading("sensor.t", T0 + 2 * HOUR_S + 2700, "30")])
    hours = db.hourly("sensor.t", 0, 1e12, now=T0 + 10 * HOUR_S)
    assert [h.hour - T0 for h in hours] == [0, HOUR_S, 2 * HOUR_S]
    first, carried, third = hours
    assert (first.count, first.minimum, first.maximum, first.last) == (2, 10, 20, 20)
    assert first.mean == pytest.approx((10 * 1800 + 20 * 900) / 2700)  # known from :15 on
    assert (carried.count, carried.mean, carried.minimum) == (0, 20, 20)  # nothing changed: 20 held
    # 20 until :30, unknown until :45, then 30: (20*1800 + 30*900) / 2700
    assert third.mean == pytest.approx((20 * 1800 + 30 * 900) / 2700)
    assert first.delta is None  # not an energy sensor


def test_the_current_hour_is_weighted_up_to_now(db: StoreDb) -> None:
    db.add_readings([reading("sensor.p", T0 + 0, "100"), reading("sensor.p", T0 + 600, "400")])
    [hour] = db.hourly("sensor.p", 0, 1e12, now=T0 + 1200)
    assert hour.mean == pytest.approx((100 * 600 + 400 * 600) / 1200)


def test_energy_deltas_with_a_meter_reset(db: StoreDb) -> None:
    db.set_learned([EntityMeta("sensor.energy", "eaio", "total_increasing", "kWh", "energy", "Energy")])
    db.add_readings([reading("sensor.energy", T0 + s, v) for s, v in [
        (60, "1000.0"), (1800, "1002.5"), (HOUR_S + 60, "1003.0"), (HOUR_S + 600, "1002.9"),  # noise: 0
        (HOUR_S + 1200, "1.5"),  # reset: 1.5 kWh since it
        (2 * HOUR_S + 5, "2.0")]])
    deltas = [h.delta for h in db.hourly("sensor.energy", 0, 1e12)]
    assert deltas == pytest.approx([2.5, 0.5 + 0 + 1.5, 0.5])


def _random_readings(rng: random.Random, entity_id: str, n: int) -> list[Reading]:
    out, ts, value = [], T0 + rng.uniform(0, 600), 1000.0
    for _ in range(n):
        ts += rng.choice([5, 30, 300, 2000, 9000])
        value += rng.uniform(0, 2)
        state = "unavailable" if rng.random() < 0.05 else f"{value:.3f}"
        out.append(reading(entity_id, ts, state))
    return out


@pytest.mark.parametrize("state_class", [None, "total_increasing"])
def test_rollups_do_not_depend_on_arrival_order(tmp_path: Path, state_class: str | None) -> None:
    rng = random.Random(7)
    readings = _random_readings(rng, "sensor.x", 400)
    meta = [EntityMeta("sensor.x", "eaio", state_class)]
    results = []
    for name, batches in (
        ("one by one", [[r] for r in readings]),
        ("backfill in shuffled chunks", [readings[i:i + 37] for i in rng.sample(range(0, 400, 37), 11)]),
        ("newest first", [[r] for r in reversed(readings)]),
    ):
        db = StoreDb(tmp_path / f"{name}.db")
        db.set_learned(meta)
        for batch in batches:
            db.add_readings(batch)
        results.append(_hours(db, "sensor.x"))
        db.close()
    reference = fold(((r.ts, r.value) for r in readings), state_class)
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == len(reference)


def test_retention_purges_raw_readings_and_keeps_rollups(db: StoreDb) -> None:
    db.add_readings([reading("sensor.t", T0 + i * 600, str(i)) for i in range(30)])
    before = _hours(db, "sensor.t")
    assert db.purge_readings(T0 + 10 * 600) == 10
    assert db.counts().readings == 20
    assert db.readings_between("sensor.t", 0, 1e12)[0].ts == T0 + 10 * 600
    assert _hours(db, "sensor.t") == before


def test_covered_marks_only_move_forward(db: StoreDb) -> None:
    db.add_readings([reading("sensor.a", T0, "1")], covered=(["sensor.a", "sensor.b"], T0 + 100))
    db.set_covered(["sensor.a"], T0 + 50)
    assert db.covered_until(["sensor.a", "sensor.b", "sensor.c"]) == {
        "sensor.a": T0 + 100, "sensor.b": T0 + 100, "sensor.c": None}


def test_learned_entities(db: StoreDb) -> None:
    db.set_learned([EntityMeta("sensor.a", "eaio", "measurement", "W"), EntityMeta("sensor.b", "option")])
    db.set_learned([EntityMeta("sensor.b", "option")])
    assert [e.entity_id for e in db.entities()] == ["sensor.b"]


# --- outbox ---------------------------------------------------------------------------------------

def test_outbox_order_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    db = StoreDb(path)
    pushes = [db.enqueue("eaio", "submit_recommendations", {"n": i}, return_response=True) for i in range(3)]
    head = db.outbox_head()
    assert head is not None and head.push_id == pushes[0].push_id and head.data == {"n": 0}
    db.outbox_delivered(head.id, {"accepted": ["a"]})
    db.outbox_retry(pushes[1].id, "not_found: Service eaio.submit_recommendations not found.", T0)
    db.close()

    db = StoreDb(path)  # a restart of the add-on
    head = db.outbox_head()
    assert head is not None and head.data == {"n": 1} and head.attempts == 1 and head.next_attempt_at == T0
    assert head.return_response is True
    db.outbox_rearm()
    assert db.outbox_head().next_attempt_at == 0  # type: ignore[union-attr]
    db.outbox_failed(head.id, "invalid_format: bad")
    assert db.outbox_head().data == {"n": 2}  # type: ignore[union-attr]
    counts = db.counts()
    assert (counts.outbox_pending, counts.outbox_delivered, counts.outbox_failed) == (1, 1, 1)
    delivered = db.outbox_item(pushes[0].id)
    assert delivered is not None and delivered.response == {"accepted": ["a"]} and delivered.delivered_at
    db.close()


def test_recommendations_are_queued_and_kept(db: StoreDb) -> None:
    first = db.save_recommendations([{"id": "a", "title": "A"}, {"id": "b", "title": "B"}], replace=True)
    db.save_recommendations([{"id": "c", "title": "C"}], replace=False)
    assert [r["id"] for r in db.recommendations()] == ["a", "b", "c"]
    db.save_recommendations([{"id": "d", "title": "D"}], replace=True)
    assert [r["id"] for r in db.recommendations()] == ["d"]
    assert first.service == "submit_recommendations" and first.return_response
    assert first.data == {"recommendations": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}], "replace": True}


async def test_the_async_store_works_on_one_thread(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    threads = {await store.call(lambda db: threading.current_thread().name) for _ in range(5)}
    assert len(threads) == 1
    assert next(iter(threads)).startswith("eaio-store")
    assert threading.current_thread().name not in threads
    assert await store.call(StoreDb.add_readings, [reading("sensor.t", T0, "1")]) == 1
    await store.close()


def test_long_term_statistics_fill_only_the_hours_before_the_readings(db: StoreDb) -> None:
    from eaio_addon.collector import statistics_rollups

    db.set_learned([EntityMeta("sensor.p", "option", "measurement", "W"),
                    EntityMeta("sensor.e", "option", "total_increasing", "kWh")])
    db.add_readings([reading("sensor.p", T0 + 2 * HOUR_S + 600, "500"), reading("sensor.e", T0 + 3 * HOUR_S, "20")])
    assert db.first_hours(["sensor.p", "sensor.e", "sensor.none"]) == {
        "sensor.p": T0 + 2 * HOUR_S, "sensor.e": T0 + 3 * HOUR_S, "sensor.none": None}
    # The recorder's rows: epoch milliseconds; the third power hour overlaps the readings and is not taken.
    power = [{"start": (T0 + k * HOUR_S) * 1000, "mean": 100.0 * (k + 1), "min": 50.0, "max": 400.0} for k in range(3)]
    meter = [{"start": (T0 + k * HOUR_S) * 1000, "state": 17.0 + k, "sum": 5.0 + k * 1.5} for k in range(3)]
    rollups = statistics_rollups(power, "measurement", before=T0 + 3 * HOUR_S)
    assert db.add_statistics("sensor.p", rollups) == 2
    assert db.add_statistics("sensor.e", statistics_rollups(meter, "total_increasing", before=T0 + 3 * HOUR_S)) == 3
    p = db.hourly("sensor.p", 0, 1e12, T0 + 4 * HOUR_S)
    assert [(r.hour, r.mean, r.minimum, r.maximum, r.count) for r in p[:2]] == [
        (T0, 100.0, 50.0, 400.0, 0), (T0 + HOUR_S, 200.0, 50.0, 400.0, 0)]
    # The first hour of readings is still the readings' own (the value before it is unknown there).
    assert p[2].hour == T0 + 2 * HOUR_S and p[2].mean == 500.0 and p[2].count == 1
    e = db.hourly("sensor.e", 0, 1e12, T0 + 4 * HOUR_S)
    # Energy per hour from the sum's growth; the first hour has nothing before it.
    assert [(r.hour, r.delta, r.last) for r in e[:3]] == [(T0, None, 17.0), (T0 + HOUR_S, 1.5, 18.0),
                                                          (T0 + 2 * HOUR_S, 1.5, 19.0)]
    # Filling again adds nothing: the hours before the first rollup are taken.
    assert db.add_statistics("sensor.p", rollups) == 0


def test_statistics_rows_that_say_nothing_are_skipped() -> None:
    from eaio_addon.collector import statistics_rollups

    rows = [{"start": "2025-11-24T16:00:00+00:00", "mean": 1.0}, {"start": T0 * 1000 + HOUR_S * 1000, "mean": None},
            {"start": None, "mean": 2.0}, "junk", {"start": T0 * 1000 + 2 * HOUR_S * 1000, "mean": float("nan")}]
    out = statistics_rollups(rows, "measurement", before=1e12)
    assert [(r.hour, r.mean(1e12)) for r in out] == [(T0, 1.0)]
    assert statistics_rollups(None, "measurement", before=1e12) == []


def test_accuracy_of_a_forecast() -> None:
    from eaio_addon.engine.accuracy import forecast_accuracy
    import numpy as np

    actual = np.array([1.0, 2.0, np.nan, 3.0])
    forecast = np.array([1.5, 1.5, 9.0, np.nan])
    result = forecast_accuracy(actual, forecast)
    assert result is not None and result.hours == 2 and result.mean_actual == 1.5
    assert result.mae == 0.5 and result.cv_rmse == pytest.approx(0.5 / 1.5) and result.nmbe == 0.0
    assert forecast_accuracy(np.array([np.nan]), np.array([1.0])) is None
    assert forecast_accuracy(np.array([0.0]), np.array([1.0])) is None  # no mean to scale by


def test_issued_forecasts_keep_the_first_issue_and_age_out(db: StoreDb) -> None:
    assert db.add_forecast(T0, [(T0 + HOUR_S, 1.0), (T0 + 2 * HOUR_S, 2.0)]) == 2
    assert db.add_forecast(T0 + HOUR_S, [(T0 + 2 * HOUR_S, 5.0), (T0 + 3 * HOUR_S, 3.0)]) == 1
    assert db.issued_forecasts(T0, T0 + 10 * HOUR_S) == [
        (T0 + HOUR_S, T0, 1.0), (T0 + 2 * HOUR_S, T0, 2.0), (T0 + 3 * HOUR_S, T0 + HOUR_S, 3.0)]
    db.add_forecast(T0 + 91 * 86400, [])
    assert db.issued_forecasts(0, 1e12) == []


class _StatisticsLink:
    """Answers the two recorder commands the statistics fill sends, from an hourly meter that grows 1 kWh/h."""

    def __init__(self, first_hour: float, hours: int) -> None:
        self.first_hour, self.hours = first_hour, hours
        self.requests: list[dict[str, object]] = []

    async def call(self, message: dict[str, object]) -> object:
        from datetime import datetime

        self.requests.append(message)
        if message["type"] == "recorder/get_statistics_metadata":
            return [{"statistic_id": "sensor.meter", "statistics_unit_of_measurement": "kWh"}]
        start = datetime.fromisoformat(str(message["start_time"])).timestamp()
        end = datetime.fromisoformat(str(message["end_time"])).timestamp()
        rows = [{"start": h * 1000, "state": 100.0 + k, "sum": float(k)}
                for k in range(self.hours) if start <= (h := self.first_hour + k * HOUR_S) < end]
        return {"sensor.meter": rows}


async def test_statistics_are_read_newest_stretch_first_and_meet_without_a_gap(tmp_path: Path) -> None:
    from eaio_addon.collector import STATISTICS_WINDOW, Collector

    store = await Store.open(tmp_path)
    try:
        await store.call(StoreDb.set_learned, [EntityMeta("sensor.meter", "eaio", "total_increasing", "kWh")])
        hours = 70 * 24
        until = T0 + hours * HOUR_S
        link = _StatisticsLink(T0, hours)
        collector = Collector(link, store, option_entities=[], backfill_days=70)  # type: ignore[arg-type]
        await collector._fill_from_statistics(["sensor.meter"], T0 - 0.5, until)
        rows = await store.call(StoreDb.hourly, "sensor.meter", 0, 1e12, until)
        assert [r.hour for r in rows] == [T0 + k * HOUR_S for k in range(hours)]
        # Every hour's energy is there, across the stretches' seams; the first has nothing before it.
        assert rows[0].delta is None and {r.delta for r in rows[1:]} == {1.0}
        reads = [m for m in link.requests if m["type"] == "recorder/statistics_during_period"]
        assert len(reads) == -(-hours * HOUR_S // STATISTICS_WINDOW)  # 70 days in 30-day stretches: 3
        # Once filled, a second pass asks nothing more of the statistics.
        link.requests.clear()
        await collector._fill_from_statistics(["sensor.meter"], T0 - 0.5, until)
        assert not [m for m in link.requests if m["type"] == "recorder/statistics_during_period"]
    finally:
        await store.close()

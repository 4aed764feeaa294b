"""Fault suite: the add-on killed with SIGKILL in the middle of a backfill and in the middle of delivery.

The add-on runs as its own process (the command line's ``serve``) against the local Home Assistant
websocket server of the tests; Home Assistant answers slowly enough that the kill lands mid-way.
After a restart the store passes SQLite's integrity check, holds every reading exactly once, and
every push is delivered, in the order made (the one in flight at the kill may arrive twice: each
push carries its ids, so a repeat is harmless).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import signal
import socket
import sqlite3
import sys
import time
from typing import Any

import aiohttp
from eaio_addon.store import DB_FILE, StoreDb

from tests.fake_ha import FakeHomeAssistant
from tests.helpers import wait_until

ADDON = Path(__file__).resolve().parents[1]
METER = "sensor.eaio_meter_power"
OUTDOOR = "sensor.outdoor_temperature"
DAYS = 4

RUN = """
import asyncio, json, logging, sys
from pathlib import Path
from eaio_addon.cli import serve
from eaio_addon.options import parse_options
from eaio_addon.runtime import Settings
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
a = json.loads(sys.argv[1])
sys.exit(asyncio.run(serve(Settings(
    mode="standalone", ha_ws_url=a["ws"], ha_token="good-token", data_dir=Path(a["data"]),
    options=parse_options(a["options"]), host="127.0.0.1", port=a["port"], reconnect_cap=0.2,
    recorder_lag=0.0, registry_debounce=0.05))))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AddonProcess:
    """``python -m eaio_addon``'s serve() in a child process, killed or stopped by the test."""

    def __init__(self, ha: FakeHomeAssistant, data_dir: Path, options: dict[str, Any]) -> None:
        self.port = _free_port()
        self._args = json.dumps({"ws": f"ws://127.0.0.1:{ha.port}/api/websocket", "data": str(data_dir),
                                 "port": self.port, "options": {**options, "mcp_port": _free_port(),
                                                                "optimize_every_minutes": 0}})
        self._data_dir = data_dir
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUN, self._args, cwd=ADDON, env={**os.environ, "PYTHONPATH": str(ADDON)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await wait_until(self._answers, 30, "the add-on's API up")

    async def _answers(self) -> bool:
        try:
            await self.health()
        except (aiohttp.ClientError, OSError, ValueError):
            return False
        return True

    async def health(self) -> dict[str, Any]:
        token = (self._data_dir / "api_token").read_text().strip()
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{self.port}/api/health", headers={"Authorization": f"Bearer {token}"}) as resp:
            resp.raise_for_status()
            body: dict[str, Any] = await resp.json()
            return body

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert await self.proc.wait() == -signal.SIGKILL

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 30)


def _slow(ha: FakeHomeAssistant, kind: str, seconds: float) -> None:
    """Home Assistant answers ``kind`` only after ``seconds``: a kill lands in the middle of the work."""
    original = ha._handle

    async def handle(ws: Any, subscriptions: Any, msg: dict[str, Any]) -> None:
        if msg["type"] == kind:
            await asyncio.sleep(seconds)
        await original(ws, subscriptions, msg)

    ha._handle = handle  # type: ignore[method-assign]


def _integrity(db_path: Path) -> str:
    with sqlite3.connect(db_path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


async def test_a_kill_during_backfill_loses_no_reading_and_stores_none_twice(ha: FakeHomeAssistant,
                                                                             tmp_path: Path) -> None:
    now = time.time()
    ha.registry = [{"entity_id": METER, "platform": "eaio", "disabled_by": None, "unique_id": "modbus_1_power"}]
    for index, entity_id in enumerate((METER, OUTDOOR)):
        ha.history[entity_id] = [(now - DAYS * 86400 + 60 * (k + 1) + index, str(100 + k % 37))
                                 for k in range(DAYS * 1440 - 3)]
        ha.states[entity_id] = {"entity_id": entity_id, "state": "1", "attributes": {"state_class": "measurement"}}
    _slow(ha, "history/history_during_period", 0.4)
    addon = AddonProcess(ha, tmp_path / "data", {"entities": [OUTDOOR], "backfill_days": DAYS})
    await addon.start()
    try:
        await wait_until(lambda: len(ha.history_requests) >= 3, 30, "the backfill under way")
        await addon.kill()
        killed_after = len(ha.history_requests)
        await addon.start()
        await wait_until(lambda: _backfill_done(addon), 60, "the backfill done after the restart")
    finally:
        await addon.stop()
    assert killed_after < len(ha.history_requests)  # the kill was mid-way: the restart fetched the rest
    db_path = tmp_path / "data" / DB_FILE
    assert _integrity(db_path) == "ok"
    db = StoreDb(db_path)
    try:
        for entity_id in (METER, OUTDOOR):
            stored = [(r.ts, r.state if r.value is None else f"{r.value:g}")
                      for r in db.readings_between(entity_id, 0, 1e12)]
            expected = [(round(ts, 6), s) for ts, s in ha.history[entity_id]]
            assert len(stored) == len(set(stored)) == len(expected)  # none twice, none lost
            assert stored == expected
    finally:
        db.close()


async def _backfill_done(addon: AddonProcess) -> bool:
    try:
        return (await addon.health())["backfill"]["state"] == "done"
    except (aiohttp.ClientError, OSError):
        return False


async def test_a_kill_during_delivery_delivers_every_push_in_order(ha: FakeHomeAssistant, tmp_path: Path) -> None:
    pushes = 30
    db = StoreDb(tmp_path / "data" / DB_FILE)
    made = [db.enqueue("eaio", "test_push", {"n": n}).push_id for n in range(pushes)]
    db.close()
    received: list[int] = []
    ha.services[("eaio", "test_push")] = lambda data: received.append(int(data["n"]))
    _slow(ha, "call_service", 0.1)
    addon = AddonProcess(ha, tmp_path / "data", {"backfill_days": 0})
    await addon.start()
    try:
        await wait_until(lambda: len(received) >= 8, 30, "delivery under way")
        await addon.kill()
        killed_after = len(received)
        await addon.start()
        await wait_until(lambda: _all_delivered(addon), 60, "every push delivered after the restart")
    finally:
        await addon.stop()
    assert killed_after < pushes
    first_seen = list(dict.fromkeys(received))
    assert first_seen == list(range(pushes))  # every push, in the order made
    assert len(received) - pushes <= 1  # at most the one in flight at the kill, again
    path = tmp_path / "data" / DB_FILE
    assert _integrity(path) == "ok"
    db = StoreDb(path)
    try:
        counts = db.counts()
        assert (counts.outbox_pending, counts.outbox_delivered, counts.outbox_failed) == (0, pushes, 0)
        assert [item.push_id for item in reversed(db.outbox_recent(pushes))] == made
    finally:
        db.close()


async def _all_delivered(addon: AddonProcess) -> bool:
    try:
        return (await addon.health())["store"]["outbox_pending"] == 0
    except (aiohttp.ClientError, OSError):
        return False

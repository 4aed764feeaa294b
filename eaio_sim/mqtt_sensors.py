"""A simulated room multi-sensor publishing to MQTT, as EAIO's ``multi_sensor`` profile expects.

``python -m eaio_sim.mqtt_sensors --port PORT --username USER --topic BASE [--interval 5]``: one JSON
message on the base topic every ``interval`` seconds, ``{"occupancy", "co2", "illuminance",
"temperature", "humidity", "battery"}``, with values that move like a meeting room's: people come and
go, CO2 climbs while the room is occupied and airs out after, daylight follows the clock and the
lights add to it while someone is there. Messages are retained, so a subscriber that arrives later
(Home Assistant restarting) has the latest reading at once instead of waiting for the next.
The password comes from the environment (``EAIO_MQTT_PASSWORD``), not the command line.
Prints ``READY mqtt_sensors <topic>`` once connected and each message to stderr; SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import datetime as dt
import json
import math
import os
import random
import signal
import sys
import threading
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

PASSWORD_ENV = "EAIO_MQTT_PASSWORD"
CONNECT_TIMEOUT = 10.0
OUTDOOR_CO2 = 420.0


@dataclass
class MeetingRoom:
    """The room's state, advanced by ``step``; ``reading`` is what the sensor reports."""

    occupancy_period: float = 240.0  # seconds per occupied or empty spell, on average
    seed: int = 7
    occupied: bool = True
    co2: float = 650.0
    temperature: float = 21.5
    humidity: float = 44.0
    battery: float = 96.0
    _rng: random.Random = field(init=False)
    _spell_left: float = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._spell_left = self._spell()

    def _spell(self) -> float:
        return self._rng.uniform(0.5, 1.5) * self.occupancy_period

    def daylight(self, now: dt.datetime) -> float:
        """Lux at the sensor from the windows: a half-sine between 07:00 and 19:00 local time."""
        hour = now.hour + now.minute / 60
        if not 7.0 <= hour <= 19.0:
            return 0.0
        return 450.0 * math.sin(math.pi * (hour - 7.0) / 12.0)

    def step(self, seconds: float) -> None:
        self._spell_left -= seconds
        if self._spell_left <= 0:
            self.occupied = not self.occupied
            self._spell_left = self._spell()
        # People breathe CO2 in; ventilation pulls it back toward outdoor air (time constant ~10 min).
        target = 1150.0 if self.occupied else OUTDOOR_CO2
        self.co2 += (target - self.co2) * min(1.0, seconds / 600.0) + self._rng.gauss(0.0, 4.0)
        warm = 22.8 if self.occupied else 21.2
        self.temperature += (warm - self.temperature) * min(1.0, seconds / 900.0) + self._rng.gauss(0.0, 0.02)
        damp = 48.0 if self.occupied else 42.0
        self.humidity += (damp - self.humidity) * min(1.0, seconds / 900.0) + self._rng.gauss(0.0, 0.1)
        self.battery = max(5.0, self.battery - seconds / 36_000.0)  # a visible trickle, not a real cell

    def reading(self, now: dt.datetime) -> dict[str, Any]:
        lux = self.daylight(now) + (320.0 if self.occupied else 0.0) + self._rng.gauss(0.0, 3.0)
        return {
            "occupancy": self.occupied,
            "co2": round(max(OUTDOOR_CO2 - 20.0, self.co2)),
            "illuminance": round(max(0.0, lux)),
            "temperature": round(self.temperature, 1),
            "humidity": round(min(100.0, max(0.0, self.humidity)), 1),
            "battery": round(self.battery),
        }


def connect(host: str, port: int, username: str, password: str, *, name: str = "eaio-sensors",
            max_inflight: int | None = None) -> mqtt.Client:
    """A connected client with its network loop in a background thread; reconnects by itself."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{os.getpid()}")
    client.username_pw_set(username, password)
    if max_inflight is not None:
        client.max_inflight_messages_set(max_inflight)
    connected = threading.Event()

    def on_connect(_client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT):
        client.loop_stop()
        raise SystemExit(f"could not connect to {host}:{port} as {username}")
    return client


def run(args: argparse.Namespace) -> None:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    client = connect(args.host, args.port, args.username, os.environ.get(PASSWORD_ENV, ""))
    room = MeetingRoom(occupancy_period=args.occupancy_period)
    print(f"READY mqtt_sensors {args.topic}", flush=True)
    try:
        while True:
            payload = json.dumps(room.reading(dt.datetime.now()))
            client.publish(args.topic, payload, qos=1, retain=True)
            print(payload, file=sys.stderr, flush=True)  # the demo keeps stderr in a log file
            if stop.wait(args.interval):
                break
            room.step(args.interval)
    finally:
        client.disconnect()
        client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m eaio_sim.mqtt_sensors", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--topic", required=True, help="the device's base topic")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between messages (default 5)")
    parser.add_argument("--occupancy-period", type=float, default=240.0,
                        help="average seconds of each occupied or empty spell (default 240)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()

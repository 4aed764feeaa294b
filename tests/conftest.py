"""Shared fixtures: a real pymodbus server in its own process, and EAIO set up through its flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

from homeassistant.core import callback
import pytest

from tests.peers import start_peer

ROOT = Path(__file__).resolve().parent.parent
# The simulated devices are peers, not part of Home Assistant: with Home Assistant's pinned pymodbus
# (which lacks the simulator API they serve with) they run in the newest pymodbus's environment.
PEER_PYTHON = os.environ.get("EAIO_PEER_PYTHON") or sys.executable


def pytest_report_header() -> list[str]:
    import homeassistant.const
    import pymodbus
    import voluptuous

    return [f"Home Assistant {homeassistant.const.__version__}, pymodbus {pymodbus.__version__}, "
            f"voluptuous from {voluptuous.__name__}, device peers on {PEER_PYTHON}"]


def pytest_configure(config: pytest.Config) -> None:
    # The switch must have taken effect before Home Assistant imported voluptuous (see the plugin).
    if os.environ.get("EAIO_VOLUPTUOUS") == "probatio":
        import voluptuous

        if not voluptuous.__name__.startswith("probatio"):
            raise pytest.UsageError("EAIO_VOLUPTUOUS=probatio needs -p tests.voluptuous_probatio")


def in_order(events: list[Any]) -> Callable[[Any], None]:
    """A bus listener that keeps events in firing order.

    A plain ``events.append`` is no callback: Home Assistant runs it as an executor job, and
    2026's releases deliver such jobs out of order.
    """

    @callback
    def record(event: Any) -> None:
        events.append(event)

    return record


class ModbusSim:
    """A simulated building served by pymodbus on loopback, in a child process."""

    def __init__(self, args: list[str], port: int = 0) -> None:
        self.args = args
        self.port = port  # 0 until the first start picks a free one; restarts keep it
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc, self.port = start_peer([PEER_PYTHON, "-m", "eaio_sim", "--port", str(self.port), *self.args],
                                          "simulator", timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def modbus_sim_factory() -> Iterator[Callable[..., ModbusSim]]:
    sims: list[ModbusSim] = []

    def start(*args: str) -> ModbusSim:
        sim = ModbusSim(list(args))
        sim.start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


@pytest.fixture(scope="session")
def building_sim() -> Iterator[ModbusSim]:
    """One static building for the tests that only read: meter on unit 1, HVAC on unit 2."""
    sim = ModbusSim(
        [
            "--static",
            "--device",
            "1:three_phase_meter",
            "--device",
            "2:hvac_unit",
            "--device",
            "3:single_phase_meter",
            "--device",
            "4:pv_inverter",
        ]
    )
    sim.start()
    yield sim
    sim.stop()


def _os_free_port() -> int:
    """A free loopback port, asked of a child process (this one's sockets are guarded)."""
    out = subprocess.run(
        [sys.executable, "-c",
         "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout)


class Mosquitto:
    """A real MQTT broker on loopback with a password, in a child process."""

    user = "eaio"
    password = "eaio-test"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _os_free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        passwd = workdir / "passwd"
        passwd.write_text("")
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), self.user, self.password], check=True)
        (workdir / "mosquitto.conf").write_text(
            "per_listener_settings false\nallow_anonymous false\n"
            f"password_file {passwd}\npersistence false\n"
            # Started as root, the broker would drop to a user that cannot read the password file.
            "user root\n"
            f"listener {self.port} 127.0.0.1\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-u", self.user,
                 "-P", self.password, "-t", "eaio/probe", "-m", "1"],
                capture_output=True,
            )  # fmt: skip
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise TimeoutError("broker did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-u", self.user,
                "-P", self.password, "-q", "1", "-t", topic, "-m", payload]  # fmt: skip
        subprocess.run([*args, "-r"] if retain else args, check=True, capture_output=True)


@pytest.fixture(scope="session")
def _broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    # Session-wide, so it outlives every test's Home Assistant, which unsubscribes on teardown.
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto(_broker: Mosquitto) -> Mosquitto:
    """The broker, running (a test that stopped it has started it again)."""
    if _broker.proc is None:
        _broker.start()
    return _broker

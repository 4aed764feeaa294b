"""Shared fixtures: a real pymodbus server in its own process, and EAIO set up through its flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import os
from pathlib import Path
import select
import subprocess
import sys
import time

import pytest

ROOT = Path(__file__).resolve().parent.parent


class ModbusSim:
    """A simulated building served by pymodbus on loopback, in a child process."""

    def __init__(self, args: list[str], port: int = 0) -> None:
        self.args = args
        self.port = port  # 0 until the first start picks a free one; restarts keep it
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eaio_sim", "--port", str(self.port), *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            line = self.proc.stdout.readline() if ready else ""
            if line.startswith("READY"):
                self.port = int(line.split()[-1])
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with {self.proc.returncode}")
        raise TimeoutError("simulator did not start")

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

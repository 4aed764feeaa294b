"""A pymodbus server that misbehaves on demand, for the fault suite.

``python -m tests.bms.fault_modbus --profile hvac_unit --unit 1 --control FILE`` serves one
profile (the simulated building's static values) and prints ``READY modbus 127.0.0.1 PORT``.
Before every request it reads FILE (JSON), so a test changes the behaviour while it runs:

- ``{"mode": "ok"}`` answers normally;
- ``{"mode": "exception", "code": 11, "delay": 1.0}`` waits ``delay`` s then answers that
  exception for every request (a gateway whose target is silent);
- ``{"mode": "silent"}`` never answers;
- ``{"mode": "absurd"}`` answers every holding and input register as 0x7FC0 (a device that
  sends well-formed nonsense);
- ``"refuse": [["input", 60, 61]]`` answers "illegal data address" for requests that touch
  those addresses (start inclusive, end exclusive), in any mode;
- ``"values": {"key": value}`` serves those engineering values instead of the defaults.

``--garbage`` serves no Modbus at all: every request gets random bytes back.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.eaio.bms.codec import encode_value
from custom_components.eaio.bms.points import DataType, RegisterType
from custom_components.eaio.bms.profiles import Profile, load_catalog

if TYPE_CHECKING:
    from pymodbus.simulator import SimData, SimDevice

# The server's own imports (pymodbus' simulator API, the simulated building) are made in the
# server process only: the tests that start it may run under a pymodbus without that API.

ROOT = Path(__file__).resolve().parents[2]
# The server needs the simulator API of newer pymodbus releases: under an older Home Assistant's
# pin it runs from another environment (tests/conftest.py's EAIO_PEER_PYTHON), as a real peer would.
PEER_PYTHON = os.environ.get("EAIO_PEER_PYTHON") or sys.executable
ABSURD_WORD = 0x7FC0
_TABLES = {1: RegisterType.COIL, 2: RegisterType.DISCRETE, 3: RegisterType.HOLDING, 4: RegisterType.INPUT,
           5: RegisterType.COIL, 6: RegisterType.HOLDING, 15: RegisterType.COIL, 16: RegisterType.HOLDING}  # fmt: skip


class Control:
    """The behaviour file, read again only when it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self.state: dict[str, Any] = {"mode": "ok"}

    def current(self) -> dict[str, Any]:
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return self.state
        if stamp != self._stamp:
            self._stamp = stamp
            self.state = json.loads(self.path.read_text())  # written whole (FaultDevice.set renames)
        return self.state


def _words(profile: Profile, table: RegisterType, values: dict[str, Any]) -> list[int]:
    points = [p for p in profile.points if p.register_type is table]
    if table.is_bit:
        return [int(bool(values.get(p.key, False))) for p in sorted(points, key=lambda p: p.address)]
    end = max((p.end for p in points), default=1)
    words = [0] * end
    for point in points:
        if point.data_type is DataType.STRING:
            raw = str(values.get(point.key, "")).encode()[: point.length * 2].ljust(point.length * 2, b"\0")
            words[point.address : point.end] = [
                int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)
            ]
        else:
            words[point.address : point.end] = encode_value(point, values.get(point.key, 0))
    return words


def _simdata(profile: Profile, table: RegisterType, values: dict[str, Any]) -> list[SimData]:
    from pymodbus.simulator import DataType as SimType, SimData

    points = [p for p in profile.points if p.register_type is table]
    if not points:
        return [SimData(0, datatype=SimType.INVALID)]
    if table.is_bit:
        bits = [False] * (max(p.address for p in points) + 1)
        for point in points:
            bits[point.address] = bool(values.get(point.key, False))
        return [SimData(0, values=bits, datatype=SimType.BITS)]
    return [
        SimData(a, values=w, datatype=SimType.UINT16) for a, w in enumerate(_words(profile, table, values))
    ]


def _encoded(profile: Profile, table: RegisterType, values: dict[str, Any]) -> dict[int, int]:
    out: dict[int, int] = {}
    for point in profile.points:
        if point.register_type is table and point.key in values and point.data_type is not DataType.STRING:
            for i, word in enumerate(encode_value(point, values[point.key])):
                out[point.address + i] = word
    return out


def device(profile: Profile, unit: int, control: Control) -> SimDevice:
    from pymodbus.constants import ExcCodes
    from pymodbus.simulator import SimDevice

    from eaio_sim.building import BuildingModel

    defaults = {k: v for k, v in BuildingModel(static=True).values(0.0).items()}
    pristine = {t: _words(profile, t, defaults) for t in (RegisterType.HOLDING, RegisterType.INPUT)}

    async def action(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        state = control.current()
        table = _TABLES.get(function_code)
        if state.get("delay"):
            await asyncio.sleep(float(state["delay"]))
        mode = state.get("mode", "ok")
        if mode == "silent":
            await asyncio.sleep(3600)
        if mode == "exception":
            return ExcCodes(int(state.get("code", 4)))
        for name, low, high in state.get("refuse", []):
            if table is RegisterType(name) and address < high and low < address + count:
                return ExcCodes.ILLEGAL_ADDRESS
        if table in pristine and set_values is None:
            offset = address - start_address
            for i in range(offset, offset + count):
                if mode == "absurd":
                    registers[i] = ABSURD_WORD
                elif i < len(pristine[table]):
                    registers[i] = pristine[table][i]
            for where, word in _encoded(profile, table, state.get("values", {})).items():
                if mode != "absurd" and offset <= where - start_address < offset + count:
                    registers[where - start_address] = word
        return None

    return SimDevice(
        unit,
        simdata=(
            _simdata(profile, RegisterType.COIL, defaults),
            _simdata(profile, RegisterType.DISCRETE, defaults),
            _simdata(profile, RegisterType.HOLDING, defaults),
            _simdata(profile, RegisterType.INPUT, defaults),
        ),
        action=action,
    )


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.read(260):
            writer.write(os.urandom(9) + b"\xff" * 7)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.garbage:
        server = await asyncio.start_server(_garbage, "127.0.0.1", args.port)
        port = server.sockets[0].getsockname()[1]
        print(f"READY modbus 127.0.0.1 {port}", flush=True)
        await stop.wait()
        server.close()
        return
    from pymodbus.server import ModbusTcpServer

    profile = load_catalog(None).profiles[args.profile]
    modbus = ModbusTcpServer(
        [device(profile, args.unit, Control(Path(args.control)))], address=("127.0.0.1", args.port)
    )
    await modbus.serve_forever(background=True)
    transport: Any = modbus.transport
    print(f"READY modbus 127.0.0.1 {transport.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    await modbus.shutdown()  # type: ignore[no-untyped-call]


class FaultDevice:
    """The misbehaving server in a child process, and its behaviour file (for tests)."""

    def __init__(
        self, workdir: Path, profile: str = "hvac_unit", unit: int = 1, *, garbage: bool = False
    ) -> None:
        self.control_path = workdir / f"fault-{profile}-{unit}.json"
        self.args = ["--profile", profile, "--unit", str(unit), "--control", str(self.control_path)]
        if garbage:
            self.args.append("--garbage")
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.set(mode="ok")

    def set(self, **state: Any) -> None:
        """Change the behaviour; the next request sees it."""
        tmp = self.control_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.control_path)

    def start(self, timeout: float = 30.0) -> None:
        from tests.peers import start_peer

        self.proc, self.port = start_peer(
            [PEER_PYTHON, "-m", "tests.bms.fault_modbus", "--port", str(self.port), *self.args], "fault server", timeout
        )

    def kill(self) -> None:
        """kill -9: no goodbye on the wire."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def fault_device(tmp_path: Path) -> Iterator[Callable[..., FaultDevice]]:
    """Start misbehaving Modbus servers (tests/bms/fault_modbus.py); all are killed at the end."""
    started: list[FaultDevice] = []

    def start(profile: str = "hvac_unit", unit: int = 1, *, garbage: bool = False) -> FaultDevice:
        device = FaultDevice(tmp_path, profile, unit, garbage=garbage)
        device.start()
        started.append(device)
        return device

    yield start
    for device in started:
        device.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--profile", default="hvac_unit")
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--control", default="/nonexistent")
    parser.add_argument("--garbage", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

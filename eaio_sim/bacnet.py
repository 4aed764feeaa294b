"""A simulated VAV/zone controller: a real BACnet/IP device on loopback, in its own process.

``python -m eaio_sim.bacnet --port 47809 --instance 1001 [--objects 200] [--no-rpm]
[--no-cov-for AV:1] [--object-list-by-index] [--no-segmentation] [--bbmd] [--static]``

Prints ``READY bacnet <host> <port> <instance>`` once it answers requests
(``--port 0`` picks a free port). Objects:

- AI:1 zone temperature (°C): drifts toward the setpoint while the fan runs
- AV:1 zone setpoint (°C): commandable, relinquish default 21.0
- AO:1 damper position (%): commandable; the controller's own command is the relinquish
  default, so a write at any priority overrides it
- BI:1 occupancy: toggles every ``--occupancy-period`` seconds
- BO:1 fan enable: commandable
- MSV:1 operating mode: commandable, states Off / Heat / Cool / Auto
- AI:2 zone CO2 (ppm): rises with occupancy, falls with ventilation
- MSI:1 air quality: Good / Fair / Poor, from the CO2 level
- BV:1 filter alarm: read-only
- AI:1000 onwards: ``--objects N`` extra analog inputs with known static values
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import random
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from bacpypes3.apdu import AbortPDU
from bacpypes3.app import Application
from bacpypes3.errors import UnrecognizedService
from bacpypes3.local.analog import AnalogInputObject, AnalogOutputObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryInputObject, BinaryOutputObject, BinaryValueObject
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.cov import GenericCriteria
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.multistate import MultiStateInputObject, MultiStateValueObject
from bacpypes3.local.networkport import NetworkPortObject

_LOGGER = logging.getLogger(__name__)

VENDOR_ID = 999  # the identifier the BACnet stack reserves for sample applications
VENDOR_NAME = "EAIO Simulator"
MODEL_NAME = "EAIO-VAV-1"
EXTRA_BASE = 1000  # instance of the first extra analog input
EXTRA_UNITS = ("degreesCelsius", "percentRelativeHumidity", "watts", "kilowattHours", "partsPerMillion")
MODES = ("Off", "Heat", "Cool", "Auto")
AIR_QUALITY = ("Good", "Fair", "Poor")
OUTDOOR_C = 27.0  # where the zone drifts when nothing conditions it

ABBREVIATIONS = {
    "AI": "analogInput", "AO": "analogOutput", "AV": "analogValue",
    "BI": "binaryInput", "BO": "binaryOutput", "BV": "binaryValue",
    "MSI": "multiStateInput", "MSO": "multiStateOutput", "MSV": "multiStateValue",
}  # fmt: skip


def extra_value(index: int) -> float:
    """Served value of the extra analog input ``index`` (0-based): exact in float32."""
    return 10.0 + (index % 64) * 0.25 + (index // 64)


class MultiStateValueObjectCmd(Commandable, MultiStateValueObject):  # type: ignore[misc]
    """A commandable multi-state value (the stack ships a non-commandable one)."""

    # The stack's default criteria need a COV increment, which multi-state objects lack.
    _cov_criteria = GenericCriteria


class MultiStateInput(MultiStateInputObject):  # type: ignore[misc]
    _cov_criteria = GenericCriteria


class SimApplication(Application):  # type: ignore[misc]
    """The application; optionally without ReadPropertyMultiple, like many small devices,
    or unable to send its object list in one piece, like devices that cannot segment."""

    _refuse_rpm = False
    _object_list_by_index = False

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:
        if self._refuse_rpm:
            raise UnrecognizedService()
        await super().do_ReadPropertyMultipleRequest(apdu)

    async def do_ReadPropertyRequest(self, apdu: Any) -> None:
        whole_list = apdu.propertyIdentifier.attr == "objectList" and apdu.propertyArrayIndex is None
        if self._object_list_by_index and whole_list:
            # Built here: the stack's own abort for an exception lacks the server flag, and
            # the client then never matches it to its request.
            await self.response(AbortPDU(True, reason="segmentationNotSupported", context=apdu))
            return
        await super().do_ReadPropertyRequest(apdu)


@dataclass
class ZoneController:
    """The controller's logic: acts on the objects every tick (unless static)."""

    objects: dict[str, Any]
    static: bool = False
    occupancy_period: float = 300.0
    seed: int = 11

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._elapsed = 0.0
        self._temperature = float(self.objects["AI:1"].presentValue)
        self._co2 = float(self.objects["AI:2"].presentValue)

    def _noise(self, scale: float) -> float:
        return self._rng.gauss(0.0, scale)

    def step(self, dt: float) -> None:
        if self.static:
            return
        self._elapsed += dt
        objs = self.objects
        occupied = int(self._elapsed // self.occupancy_period) % 2 == 0
        objs["BI:1"].presentValue = "active" if occupied else "inactive"
        setpoint = float(objs["AV:1"].presentValue)
        mode = MODES[int(objs["MSV:1"].presentValue) - 1]
        fan_on = str(objs["BO:1"].presentValue) == "active"
        conditioning = fan_on and mode != "Off"
        error = setpoint - self._temperature
        if mode == "Heat":
            error = max(error, 0.0)
        elif mode == "Cool":
            error = min(error, 0.0)
        # The controller's own damper command: the relinquish default, which any write overrides.
        auto_damper = min(100.0, 20.0 + 40.0 * abs(error)) if conditioning and occupied else 10.0
        damper_obj = objs["AO:1"]
        damper_obj.relinquishDefault = round(auto_damper, 1)
        damper_obj.recalculating()
        damper = float(damper_obj.presentValue) if fan_on else 0.0
        if conditioning:
            self._temperature += 0.05 * (damper / 100.0) * error * dt
        self._temperature += 0.002 * (OUTDOOR_C - self._temperature) * dt + self._noise(0.01)
        objs["AI:1"].presentValue = round(self._temperature, 2)
        target = 420.0 + (650.0 if occupied else 0.0) * (1.0 - 0.8 * damper / 100.0)
        self._co2 += 0.03 * (target - self._co2) * dt + self._noise(1.0)
        objs["AI:2"].presentValue = round(self._co2)
        objs["MSI:1"].presentValue = 1 if self._co2 < 800 else 2 if self._co2 < 1200 else 3


def build_objects(extra: int) -> dict[str, Any]:
    """The controller's objects, keyed by ``TYPE:INSTANCE`` abbreviations."""
    objs: dict[str, Any] = {
        "AI:1": AnalogInputObject(
            objectIdentifier=("analogInput", 1), objectName="Zone temperature",
            description="Space temperature sensor", presentValue=23.0,
            units="degreesCelsius", covIncrement=0.1,
        ),
        "AV:1": AnalogValueObjectCmd(
            objectIdentifier=("analogValue", 1), objectName="Zone setpoint",
            description="Occupied zone temperature setpoint", presentValue=21.0,
            relinquishDefault=21.0, units="degreesCelsius", covIncrement=0.1,
        ),
        "AO:1": AnalogOutputObject(
            objectIdentifier=("analogOutput", 1), objectName="Damper position",
            description="VAV box damper command", presentValue=30.0,
            relinquishDefault=30.0, units="percent", covIncrement=1.0,
        ),
        "BI:1": BinaryInputObject(
            objectIdentifier=("binaryInput", 1), objectName="Occupancy",
            description="Occupancy sensor", presentValue="active",
            inactiveText="Unoccupied", activeText="Occupied",
        ),
        "BO:1": BinaryOutputObject(
            objectIdentifier=("binaryOutput", 1), objectName="Fan enable",
            description="Supply fan start/stop", presentValue="active",
            relinquishDefault="active", inactiveText="Off", activeText="On",
        ),
        "MSV:1": MultiStateValueObjectCmd(
            objectIdentifier=("multiStateValue", 1), objectName="Operating mode",
            description="Zone operating mode", presentValue=4, relinquishDefault=4,
            numberOfStates=len(MODES), stateText=list(MODES),
        ),
        "AI:2": AnalogInputObject(
            objectIdentifier=("analogInput", 2), objectName="Zone CO2",
            description="Space CO2 concentration", presentValue=600.0,
            units="partsPerMillion", covIncrement=10.0,
        ),
        "MSI:1": MultiStateInput(
            objectIdentifier=("multiStateInput", 1), objectName="Air quality",
            description="Air quality level from CO2", presentValue=1,
            numberOfStates=len(AIR_QUALITY), stateText=list(AIR_QUALITY),
        ),
        "BV:1": BinaryValueObject(
            objectIdentifier=("binaryValue", 1), objectName="Filter alarm",
            description="Filter differential pressure high", presentValue="inactive",
            inactiveText="Normal", activeText="Alarm",
        ),
    }  # fmt: skip
    for index in range(extra):
        instance = EXTRA_BASE + index
        objs[f"AI:{instance}"] = AnalogInputObject(
            objectIdentifier=("analogInput", instance),
            objectName=f"Sensor {index + 1}",
            presentValue=extra_value(index),
            units=EXTRA_UNITS[index % len(EXTRA_UNITS)],
            covIncrement=0.5,
        )
    for obj in objs.values():
        obj.statusFlags = [0, 0, 0, 0]
        if obj.eventState is None:
            obj.eventState = "normal"
        if obj.outOfService is None:
            obj.outOfService = False
    return objs


def build_application(
    host: str,
    port: int,
    instance: int,
    objects: Iterable[Any],
    *,
    name: str | None = None,
    refuse_rpm: bool = False,
    object_list_by_index: bool = False,
    no_segmentation: bool = False,
    bbmd: bool = False,
) -> SimApplication:
    """A device bound to ``host:port``; as a BBMD it accepts foreign-device registrations."""
    device = DeviceObject(
        objectIdentifier=("device", instance),
        objectName=name or f"Zone controller {instance}",
        vendorName=VENDOR_NAME,
        vendorIdentifier=VENDOR_ID,
        modelName=MODEL_NAME,
        description="Simulated VAV zone controller",
        # Small controllers cannot split an answer over several packets: a request whose
        # answer exceeds one APDU is aborted (segmentation-not-supported).
        segmentationSupported="noSegmentation" if no_segmentation else "segmentedBoth",
    )
    # /32: no broadcast socket (broadcasts do not cross loopback anyway). A BBMD needs a
    # subnet to forward foreign devices' broadcasts to, itself included.
    network_port = NetworkPortObject(
        f"{host}/32:{port}" if not bbmd else f"{host}/8:{port}",
        objectIdentifier=("network-port", 1),
        objectName="NetworkPort-1",
        networkNumberQuality="unknown",
    )
    if bbmd:
        network_port.bacnetIPMode = "bbmd"
        network_port.bbmdAcceptFDRegistrations = True
        network_port.bbmdForeignDeviceTable = []
        network_port.bbmdBroadcastDistributionTable = []
    app: SimApplication = SimApplication.from_object_list([device, network_port])
    app._refuse_rpm = refuse_rpm
    app._object_list_by_index = object_list_by_index
    for obj in objects:
        app.add_object(obj)
    return app


def free_udp_port(host: str) -> int:
    """A UDP port nothing uses now (the stack cannot report the port it bound for 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def parse_object_key(text: str) -> str:
    """``AV:3`` (or ``analogValue:3``) as the ``TYPE:INSTANCE`` key used by build_objects."""
    kind, _, instance = text.partition(":")
    names = {v.lower(): k for k, v in ABBREVIATIONS.items()}
    kind = names.get(kind.lower(), kind.upper())
    if kind not in ABBREVIATIONS or not instance.isdigit():
        raise argparse.ArgumentTypeError(f"expected TYPE:INSTANCE such as AV:1, got {text!r}")
    return f"{kind}:{int(instance)}"


class SimProcess:
    """This simulator in a child process (for tests, benchmarks and the demo).

    ``start()`` returns once the device answers; the port is kept across restarts, so a
    stopped device comes back at the same address.
    """

    def __init__(self, *args: str, port: int = 0, host: str = "127.0.0.1", instance: int = 1001) -> None:
        self.args = list(args)
        self.host = host
        self.port = port
        self.instance = instance
        self.proc: subprocess.Popen[str] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> SimProcess:
        root = Path(__file__).resolve().parent.parent
        command = [sys.executable, "-m", "eaio_sim.bacnet", "--host", self.host, "--port", str(self.port),
                   "--instance", str(self.instance), *self.args]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(
            command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            line = self.proc.stdout.readline() if ready else ""
            if line.startswith("READY bacnet"):
                self.port = int(line.split()[3])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"BACnet simulator exited with {self.proc.returncode}")
        self.stop()
        raise TimeoutError("BACnet simulator did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


async def _wait_bound(app: Application) -> None:
    # The stack binds its socket in a background task; answer only once it is bound.
    for link_layer in app.link_layers.values():
        server = link_layer.server
        await asyncio.gather(*server._transport_tasks)


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    port = args.port or free_udp_port(args.host)
    objects = build_objects(args.objects)
    for key in args.no_cov_for:
        # An object without COV criteria answers SubscribeCOV with "cov subscription failed".
        objects[key]._cov_criteria = None
    app = build_application(
        args.host, port, args.instance, objects.values(), name=args.name,
        refuse_rpm=args.no_rpm, object_list_by_index=args.object_list_by_index,
        no_segmentation=args.no_segmentation, bbmd=args.bbmd,
    )  # fmt: skip
    await _wait_bound(app)
    controller = ZoneController(objects, static=args.static, occupancy_period=args.occupancy_period)
    print(f"READY bacnet {args.host} {port} {args.instance}", flush=True)
    _LOGGER.info("device %s serving %d objects on %s:%s", args.instance, len(objects), args.host, port)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), args.tick)
            except TimeoutError:
                controller.step(args.tick)
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="eaio_sim.bacnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="UDP port; 0 picks a free one (printed)")
    parser.add_argument("--instance", type=int, default=1001, help="device instance")
    parser.add_argument("--name", help="device name (default: Zone controller <instance>)")
    parser.add_argument("--objects", type=int, default=0, help="extra analog inputs AI:1000…")
    parser.add_argument("--no-rpm", action="store_true", help="reject ReadPropertyMultiple")
    parser.add_argument(
        "--no-cov-for",
        action="append",
        default=[],
        type=parse_object_key,
        metavar="TYPE:INSTANCE",
        help="object that refuses SubscribeCOV (repeatable)",
    )
    parser.add_argument(
        "--object-list-by-index", action="store_true", help="refuse to return the object list in one piece"
    )
    parser.add_argument(
        "--no-segmentation", action="store_true", help="abort requests whose answer does not fit one APDU"
    )
    parser.add_argument("--bbmd", action="store_true", help="act as a BBMD (foreign devices may register)")
    parser.add_argument("--static", action="store_true", help="values do not move on their own")
    parser.add_argument("--tick", type=float, default=0.5, help="seconds between controller steps")
    parser.add_argument("--occupancy-period", type=float, default=300.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sim %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

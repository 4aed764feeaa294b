"""Run the simulated building: ``python -m eaio_sim --port 5020 --device 1:three_phase_meter``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from custom_components.eaio.bms.points import RegisterType
from custom_components.eaio.bms.profiles import load_catalog

from .building import BuildingModel
from .modbus import ModbusBuilding, SimulatedDevice


def _hole(text: str) -> tuple[RegisterType, int]:
    table, _, address = text.partition(":")
    return RegisterType(table), int(address)


def main() -> None:
    parser = argparse.ArgumentParser(prog="eaio_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--device", action="append", required=True,
                        help="UNIT:PROFILE, e.g. 1:three_phase_meter (repeatable)")
    parser.add_argument("--hole", action="append", default=[], type=_hole,
                        help="TABLE:ADDRESS that answers 'illegal data address' (repeatable)")
    parser.add_argument("--no-fill", action="store_true",
                        help="unmapped addresses between points answer exceptions")
    parser.add_argument("--static", action="store_true", help="values do not move")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sim %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    catalog = load_catalog(None)
    devices = []
    for spec in args.device:
        unit, _, profile_id = spec.partition(":")
        devices.append(SimulatedDevice(int(unit), catalog.profiles[profile_id],
                                       holes=frozenset(args.hole), fill_gaps=not args.no_fill))
    building = ModbusBuilding(devices, BuildingModel(static=args.static))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        port = await building.start(args.host, args.port)
        # Test fixtures and the demo wait for this line.
        print(f"READY modbus {args.host} {port}", flush=True)
        logging.info("serving %s on %s:%s", ", ".join(args.device), args.host, port)
        await stop.wait()
        await building.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()

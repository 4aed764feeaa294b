"""The demo's command line, with nothing but the standard library: ``./scripts/demo --help`` answers
before any virtual environment exists."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DESCRIPTION = """\
The EAIO demo: a simulated building and a real Home Assistant with EAIO, on loopback.

It starts a Modbus TCP server (three-phase energy meter, HVAC unit, battery inverter, smart plug),
a BACnet/IP zone controller and an MQTT broker with a room multi-sensor, then Home Assistant, adds
each device to EAIO through its config flows, writes four weeks of simulated history into the
recorder, starts the EAIO add-on standalone and links it, runs one optimization and shows the
recommendations, the plan and the assistant's answer. Ctrl-C stops everything.

The first run creates .venv/ and .venv-addon/ (a few minutes)."""


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(prog="./scripts/demo", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--config-dir", type=Path, default=ROOT / ".demo" / "config",
                        help="Home Assistant config dir, kept between runs (default: .demo/config)")
    result.add_argument("--port", type=int, default=8123,
                        help="Home Assistant's HTTP port on 127.0.0.1; a free one if busy, 0 for any "
                             "(default 8123)")
    result.add_argument("--exit-after", type=float, metavar="SECONDS",
                        help="stop this many seconds after the demo is ready; exit status 1 if an entity "
                             "of a device it added has no real state or the add-on is not linked "
                             "(for automated checks)")
    return result


if __name__ == "__main__":
    parser().parse_args()

"""The add-on's one entry point: ``python -m eaio_addon`` (or the ``eaio-addon`` command).

Inside the Supervisor it needs no arguments: the options come from ``/data/options.json``, the
token from ``SUPERVISOR_TOKEN``, Home Assistant is ``http://supervisor/core``. Standalone (Home
Assistant Container or Core, and development) it needs ``--ha-url``, a long-lived access token
(``EAIO_HA_TOKEN``, or ``--token``, which other users of the machine can see in the process list)
and ``--data-dir``; ``--options`` names a JSON or YAML file, otherwise the defaults apply.

Exit status: 0 after a clean stop (SIGTERM, Ctrl-C); 2 for bad arguments or options, with a
message that names the option and the problem; 1 when the add-on cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
import logging
import os
from pathlib import Path
import signal
import sys

from . import __version__
from .ha_link import websocket_url
from .option_types import OptionError
from .options import load_options, parse_options
from .runtime import Runtime, Settings

_LOGGER = logging.getLogger("eaio_addon")

SUPERVISOR_WS = "ws://supervisor/core/websocket"
SUPERVISOR_DATA = Path("/data")
DEFAULT_PORT = 8099
EXIT_CONFIG = 2
EXIT_START = 1


class ConfigError(Exception):
    """The arguments or the options are not usable; the message says which and why."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eaio_addon", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ha-url", help="Home Assistant's address, e.g. http://192.168.1.10:8123 (standalone)")
    parser.add_argument("--token", help="a long-lived access token (standalone; prefer EAIO_HA_TOKEN)")
    parser.add_argument("--data-dir", type=Path, help="where the store and the API token live (standalone)")
    parser.add_argument("--options", type=Path, help="options file, JSON or YAML (standalone: defaults if absent)")
    parser.add_argument("--host", help="address the API listens on (standalone default 127.0.0.1; "
                                       "inside the Supervisor 0.0.0.0)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT})")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def build_settings(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    """Settings from the command line and the environment; ConfigError says what is missing or wrong."""
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number")
    supervisor_token = environ.get("SUPERVISOR_TOKEN")
    try:
        if args.ha_url is None and supervisor_token:
            options_file = args.options or SUPERVISOR_DATA / "options.json"
            return Settings(mode="supervisor", ha_ws_url=SUPERVISOR_WS, ha_token=supervisor_token,
                            data_dir=args.data_dir or SUPERVISOR_DATA, options=load_options(options_file),
                            # All interfaces: ingress and Home Assistant reach the add-on over the Supervisor network.
                            host=args.host or "0.0.0.0", port=args.port,
                            supervisor_token=supervisor_token)
        if args.ha_url is None:
            raise ConfigError("standalone mode needs --ha-url (no SUPERVISOR_TOKEN: not inside the Supervisor)")
        if not args.ha_url.startswith(("http://", "https://", "ws://", "wss://")):
            raise ConfigError(f"--ha-url {args.ha_url!r} must start with http:// or https://")
        token = args.token or environ.get("EAIO_HA_TOKEN")
        if not token:
            raise ConfigError("standalone mode needs a long-lived access token: set EAIO_HA_TOKEN or pass --token")
        if args.data_dir is None:
            raise ConfigError("standalone mode needs --data-dir (where the store and the API token live)")
        options = load_options(args.options) if args.options is not None else parse_options({})
    except OptionError as exc:
        raise ConfigError(f"invalid options: {exc}") from None
    return Settings(mode="standalone", ha_ws_url=websocket_url(args.ha_url), ha_token=token,
                    data_dir=args.data_dir, options=options, host=args.host or "127.0.0.1", port=args.port)


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; the exit status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(settings)
    try:
        await runtime.start()
    except (OSError, ValueError, RuntimeError) as exc:
        _LOGGER.error("Cannot start: %s", exc)
        await runtime.stop()
        return EXIT_START
    await stop.wait()
    _LOGGER.info("Stopping")
    await runtime.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    try:
        settings = build_settings(argv, os.environ)
    except ConfigError as exc:
        print(f"eaio-addon: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    logging.basicConfig(level=settings.options.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(serve(settings)))

"""Supervisor discovery: tell Home Assistant where the add-on's API is, so EAIO sets up in one click.

Any add-on may post discovery messages for the services listed under ``discovery`` in its
``config.yaml``; no ``hassio_api`` access is needed for it.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_DISCOVERY = "http://supervisor/discovery"
SERVICE = "eaio"


async def announce(session: aiohttp.ClientSession, supervisor_token: str, port: int, api_token: str, *,
                   url: str = SUPERVISOR_DISCOVERY, host: str | None = None, first_retry: float = 2.0,
                   retry_cap: float = 300.0) -> str:
    """Post the discovery message, retrying with back-off until the Supervisor takes it; returns its uuid."""
    # The Supervisor names the add-on's container after the add-on: that is how Home Assistant reaches it.
    hostname = host or socket.gethostname()
    payload = {"service": SERVICE, "config": {"host": hostname, "port": port, "token": api_token}}
    delay = first_retry
    while True:
        try:
            async with session.post(url, json=payload, headers={"Authorization": f"Bearer {supervisor_token}"},
                                    timeout=aiohttp.ClientTimeout(total=30)) as resp:
                body = await resp.json(content_type=None)
                if resp.status == 200 and isinstance(body, dict) and body.get("result") == "ok":
                    uuid = str((body.get("data") or {}).get("uuid", ""))
                    _LOGGER.info("Announced the add-on to Home Assistant (discovery %s, %s:%d)",
                                 uuid, hostname, port)
                    return uuid
                problem = f"HTTP {resp.status}: {body}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        _LOGGER.warning("Supervisor discovery failed (%s); retrying in %.0f s", problem, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry_cap)

"""Supervisor discovery: tell Home Assistant where the add-on's API is, so EAIO sets up in one click.

Any add-on may post discovery messages for the services listed under ``discovery`` in its
``config.yaml``; no ``hassio_api`` access is needed for it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import aiohttp

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_DISCOVERY = "http://supervisor/discovery"
SERVICE = "eaio"
MCP_SERVICE = "mcp"  # Home Assistant's MCP client integration


async def announce(session: aiohttp.ClientSession, supervisor_token: str, port: int, api_token: str, *,
                   url: str = SUPERVISOR_DISCOVERY, host: str | None = None, first_retry: float = 2.0,
                   retry_cap: float = 300.0) -> str:
    """Post the discovery message, retrying with back-off until the Supervisor takes it; returns its uuid."""
    # The Supervisor names the add-on's container after the add-on: that is how Home Assistant reaches it.
    hostname = host or socket.gethostname()
    return await announce_service(session, supervisor_token, SERVICE,
                                  {"host": hostname, "port": port, "token": api_token},
                                  url=url, first_retry=first_retry, retry_cap=retry_cap)


async def announce_mcp(session: aiohttp.ClientSession, supervisor_token: str, port: int, *,
                       url: str = SUPERVISOR_DISCOVERY, host: str | None = None, first_retry: float = 2.0,
                       retry_cap: float = 300.0) -> str:
    """Offer the MCP server (every tool, ``/mcp``) to Home Assistant's MCP client integration.

    Only the address: the client authenticates through Home Assistant itself (OAuth, see
    ``mcp_servers.ha_auth``), so no token travels in the discovery message.
    """
    hostname = host or socket.gethostname()
    return await announce_service(session, supervisor_token, MCP_SERVICE, {"url": f"http://{hostname}:{port}/mcp"},
                                  url=url, first_retry=first_retry, retry_cap=retry_cap)


async def announce_service(session: aiohttp.ClientSession, supervisor_token: str, service: str,
                           config: dict[str, Any], *, url: str = SUPERVISOR_DISCOVERY, first_retry: float = 2.0,
                           retry_cap: float = 300.0) -> str:
    """Post one discovery message until the Supervisor takes it (back-off doubling to ``retry_cap``)."""
    payload = {"service": service, "config": config}
    delay = first_retry
    while True:
        try:
            async with session.post(url, json=payload, headers={"Authorization": f"Bearer {supervisor_token}"},
                                    timeout=aiohttp.ClientTimeout(total=30)) as resp:
                body = await resp.json(content_type=None)
                if resp.status == 200 and isinstance(body, dict) and body.get("result") == "ok":
                    uuid = str((body.get("data") or {}).get("uuid", ""))
                    _LOGGER.info("Announced %s to Home Assistant (discovery %s: %s)", service, uuid,
                                 {k: v for k, v in config.items() if k != "token"})
                    return uuid
                problem = f"HTTP {resp.status}: {body}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        _LOGGER.warning("Supervisor discovery of %s failed (%s); retrying in %.0f s", service, problem, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry_cap)

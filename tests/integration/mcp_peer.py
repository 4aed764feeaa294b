"""The add-on's MCP servers as a peer process of a Home Assistant test: run by the add-on's own Python.

    python tests/integration/mcp_peer.py <home assistant url>

Serves the add-on's McpHttpServer on a free loopback port with a small fixed energy backend,
Home Assistant as its authorization server, and prints ``port <n>`` when ready.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import sys
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "addon"))

import aiohttp
from eaio_addon.mcp_servers import McpHttpServer, MqttSettings
from eaio_addon.mcp_servers.ha_auth import HaAuth, ha_vouches_at


class Backend:
    async def status(self) -> dict[str, Any]:
        return {"status": "ok", "open_recommendations": 1}

    async def recommendations(self) -> list[dict[str, Any]]:
        return [{"id": "precool", "title": "Pre-cool before the 16:00 peak", "state": "open"}]


async def main(ha_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        auth = HaAuth(lambda: ha_url, ha_vouches_at(lambda: session, ha_url))
        backend: Any = Backend()
        no_field_bus: Any = None
        server = McpHttpServer(
            lambda: backend, lambda: no_field_bus, MqttSettings(None), lambda: "the-addons-own-token", auth
        )
        await server.start("127.0.0.1", 0)
        print(f"port {server.port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

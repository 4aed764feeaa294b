"""MCP tool calls over streamable HTTP: session set-up and per-call latency of the add-on's servers.

Starts the add-on's McpHttpServer on loopback with an in-memory energy backend (so only the MCP
layer, HTTP and the bearer check are measured), opens client sessions the way the agents do and
calls ``energy_status`` and ``energy_history`` repeatedly.

    cd addon && PYTHONPATH=.:.. ../.venv-addon/bin/python ../benchmarks/mcp_calls.py --calls 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, open_client_session

TOKEN = "bench-token"


class Backend:
    async def status(self) -> dict[str, Any]:
        return {"status": "ok", "open_recommendations": 3}

    async def history(self, entity_id: str, hours: int) -> dict[str, Any]:
        return {"entity_id": entity_id, "hours": [{"mean": float(k)} for k in range(hours)]}


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, n={len(ordered)}"


async def main(calls: int, sessions: int) -> int:
    server = McpHttpServer(lambda: Backend(), lambda: None, MqttSettings(None), lambda: TOKEN)  # type: ignore[arg-type,return-value]
    await server.start("127.0.0.1", 0)
    try:
        opens: list[float] = []
        for _ in range(sessions):
            started = time.perf_counter()
            async with open_client_session(server.url(), TOKEN) as session:
                opens.append(time.perf_counter() - started)
        status: list[float] = []
        history: list[float] = []
        async with open_client_session(server.url("energy"), TOKEN) as session:
            for _ in range(10):  # warm-up
                await session.call_tool("energy_status", {})
            for _ in range(calls):
                started = time.perf_counter()
                result = await session.call_tool("energy_status", {})
                status.append(time.perf_counter() - started)
                if result.is_error:
                    return 1
            for _ in range(calls):
                started = time.perf_counter()
                result = await session.call_tool("energy_history", {"entity_id": "sensor.total_power", "hours": 168})
                history.append(time.perf_counter() - started)
                if result.is_error:
                    return 1
        print(f"open and close a session (initialize):      {_ms(opens)}")
        print(f"energy_status call:                         {_ms(status)}")
        print(f"energy_history call (168 hours):           {_ms(history)}")
    finally:
        await server.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=30)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.calls, args.sessions)))

"""Supervisor discovery: the message, its token, and retrying until the Supervisor takes it."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from eaio_addon.discovery import announce


async def test_announce_retries_until_the_supervisor_takes_it() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def discovery(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization", ""), await request.json()))
        if len(seen) == 1:  # the Supervisor is busy at first
            return web.json_response({"result": "error", "message": "busy"}, status=500)
        return web.json_response({"result": "ok", "data": {"uuid": "abc123"}})

    app = web.Application()
    app.router.add_post("/discovery", discovery)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            uuid = await announce(session, "supervisor-token", 8099, "api-token",
                                  url=f"http://127.0.0.1:{server.port}/discovery", host="a0d7b954-eaio",
                                  first_retry=0.01)
    finally:
        await server.close()
    assert uuid == "abc123"
    assert len(seen) == 2
    assert seen[1] == ("Bearer supervisor-token",
                       {"service": "eaio", "config": {"host": "a0d7b954-eaio", "port": 8099, "token": "api-token"}})

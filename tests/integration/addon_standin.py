"""A local HTTP server that answers like the add-on's API, for the integration's own tests.

The real add-on is exercised end to end in addon/tests/e2e; these tests need an add-on
whose answers they control.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
import pytest

TOKEN = "s3cret-token"


class AddonStandIn:
    """A local HTTP server that answers like the add-on's API (docs/ADDON_API.md)."""

    def __init__(self) -> None:
        self.optimize_calls = 0
        self.questions: list[str] = []
        self.ask_bodies: list[dict[str, Any]] = []
        self.ask_status = 200
        self.ask_error: str | None = None  # "llm_unavailable": the add-on answers without its model
        self.forecast: dict[str, Any] | None = None
        # None: not measured yet (a fresh add-on)
        self.accuracy: dict[str, Any] | None = {
            "hours": 168,
            "cv_rmse_pct": 23.4,
            "nmbe_pct": -1.2,
            "mae_kw": 0.21,
            "mean_kw": 1.1,
        }
        self.verified: dict[str, Any] | None = {"recommendations": 1, "kwh": 12.5, "by_recommendation": {}}
        self.autopilot_default: bool | None = None  # the add-on's autopilot option, when it says it
        self.last_run_at: float | None = None  # epoch seconds of the agents' last run, when there was one
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.token = TOKEN  # the token it accepts; a test may rotate it

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def health(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        health: dict[str, Any] = {"status": "ok", "version": "0.1.0", "ha_link": "connected",
                                  "backfill": {"state": "running", "progress": 42.5, "entities": 3},
                                  "forecast_accuracy": self.accuracy, "verified_savings": self.verified}  # fmt: skip
        if self.forecast is not None:
            health["forecast"] = self.forecast
        if self.autopilot_default is not None:
            health["autopilot_default"] = self.autopilot_default
        if self.last_run_at is not None:
            health["agents"] = {"last_run": {"status": "ok", "at": self.last_run_at}, "agents": {}}
        return web.json_response(health)

    async def ask(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        question = body["question"]
        self.questions.append(question)
        self.ask_bodies.append(body)
        if self.ask_status != 200:
            return web.json_response({"error": "the assistant is not available"}, status=self.ask_status)
        reply: dict[str, Any] = {"answer": f"The add-on's assistant on: {question}", "sources": []}
        if self.ask_error is not None:
            reply["error"] = self.ask_error
        return web.json_response(reply)

    async def optimize(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        self.optimize_calls += 1
        return web.json_response(
            {"run_id": "r1", "status": "ok", "recommendations": 2, "missing": [], "duration_s": 0.4}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/health", self.health)
        app.router.add_post("/api/optimize", self.optimize)
        app.router.add_post("/api/ask", self.ask)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def addon() -> AsyncIterator[AddonStandIn]:
    server = AddonStandIn()
    await server.start()
    yield server
    await server.stop()

"""The agents inside the running add-on: built from the runtime's parts, started without blocking it.

``Runtime.start`` calls :meth:`AgentSwarm.attach`; the LLM check (which may pull a model) and the
schedule run as tasks. Outcomes of recommendations come from Home Assistant's
``eaio_recommendation`` events into the agent memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
import contextlib
import logging
from typing import Any

from ..ha_link import HaLink
from ..llm import ToolBridge
from ..options import Options
from ..store import Store
from .ask import Assistant
from .bus import EventBus
from .data import DataAgent
from .energy_backend import AddonEnergyBackend
from .explain import Explainer, LlmExplainer, TemplateExplainer
from .feedback import Feedback
from .memory import AgentMemory
from .orchestrator import Orchestrator
from .plan_push import queue_plan
from .site import Location
from .strategy import StrategyAgent
from .weather import WeatherAgent

_LOGGER = logging.getLogger(__name__)

EVENT_RECOMMENDATION = "eaio_recommendation"
Spawn = Callable[[str, Coroutine[Any, Any, Any] | Callable[[], Coroutine[Any, Any, Any]]], None]


# What the assistant's model is offered: the reading tools and a fresh run, eleven in all. Small local
# models pick badly from long tool lists, and a question answered by voice changes nothing on a device:
# writes, publishes, applying or dismissing a recommendation and bus scans stay with MCP clients that
# ask for them, and Home Assistant's own assistants apply through EAIO's LLM API, which confirms first.
ASSISTANT_TOOLS = (
    "energy_status", "energy_history", "energy_forecast", "energy_list_recommendations", "energy_verified_savings",
    "energy_run_optimization", "modbus_list_devices", "modbus_read_points", "bacnet_list_devices",
    "bacnet_read_points", "mqtt_read_retained",
)


class AgentSwarm:
    def __init__(self, store: Store, link: HaLink, options: Options, *, submit: Any, open_recommendations: Any,
                 wake_sender: Callable[[], None], health: Any, llm: Any = None,
                 mcp_url: Callable[[], str] | None = None, mcp_token: Callable[[], str] | None = None) -> None:
        self.link = link
        self._orchestrator_started = False
        self.llm = llm
        self.bus = EventBus()
        self.memory = AgentMemory(store)
        explainer: Explainer = LlmExplainer(llm) if llm is not None else TemplateExplainer()
        self.orchestrator = Orchestrator(
            self.bus, options, data=DataAgent(self.bus, store), weather=WeatherAgent(self.bus, store),
            memory=self.memory, submit=submit, open_recommendations=open_recommendations, locate=self.locate,
            strategy=StrategyAgent(self.bus, self.memory, explainer),
            submit_plan=lambda plan: queue_plan(store, plan, wake_sender), feedback=Feedback(link))
        self.backend = AddonEnergyBackend(store, self.orchestrator, self.memory, wake_sender, health)
        self._mcp_url, self._mcp_token = mcp_url, mcp_token
        self.assistant = Assistant(self.backend, llm, self._tools if mcp_url is not None else None)
        self._location: Location | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def attach(self, spawn: Spawn) -> None:
        """Subscribe to Home Assistant's recommendation events and start the LLM check and the schedule."""
        self.link.subscribe(EVENT_RECOMMENDATION, self._on_recommendation_event)
        if self.llm is not None:
            spawn("llm", self.llm.start())
        # A factory, not a coroutine: the supervisor starts the schedule again when it fails.
        spawn("agents", self._start_and_schedule)

    async def _start_and_schedule(self) -> None:
        if not self._orchestrator_started:  # a restart after a failure subscribes nothing twice
            await self.orchestrator.start()
            self._orchestrator_started = True
        drift = asyncio.create_task(self.orchestrator.watch_drift(), name="eaio-drift")
        try:
            await self.orchestrator.schedule(self.orchestrator.options.optimize_every_minutes)
            await drift  # no schedule (0): a plan made on request is still followed for drift
        finally:
            drift.cancel()

    async def stop(self) -> None:
        await self.orchestrator.stop()
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self.llm is not None:
            await self.llm.close()

    def _on_recommendation_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        task = asyncio.create_task(self.memory.on_ha_event(data), name="eaio-memory")
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            _LOGGER.error("Recording a recommendation outcome failed", exc_info=exc)

    async def locate(self) -> Location | None:
        """The site's location and time zone, from Home Assistant's configuration (kept once known)."""
        if self._location is None and self.link.connected:
            config = await self.link.call({"type": "get_config"})
            lat, lon = config.get("latitude"), config.get("longitude")
            if isinstance(lat, int | float) and isinstance(lon, int | float):
                self._location = Location(float(lat), float(lon), str(config.get("time_zone") or "UTC"),
                                          str(config.get("currency") or ""))
        return self._location

    @contextlib.asynccontextmanager
    async def _tools(self) -> AsyncIterator[Any]:
        # Imported here: the MCP servers' package is optional for everything but questions to the LLM.
        from ..mcp_servers import open_client_session  # type: ignore[attr-defined]

        assert self._mcp_url is not None and self._mcp_token is not None
        async with open_client_session(self._mcp_url(), self._mcp_token()) as session:
            yield await ToolBridge.from_session(session, allow=ASSISTANT_TOOLS)

    def health(self) -> dict[str, Any]:
        """Each agent's runs and failures, and the last run's outcome (``/api/health``)."""
        last = self.orchestrator.last
        return {"last_run": None if last is None else {
                    "run_id": last.run_id, "status": last.status, "trigger": last.trigger,
                    "missing": last.missing, "recommendations": len(last.recommendations),
                    "duration_s": last.duration_s, "at": last.started_at},
                "agents": self.orchestrator.health()}

    def reports(self) -> dict[str, Any]:
        """What Home Assistant shows as sensors and answers from while the add-on is away (``/api/health``):
        tomorrow's forecast, the error of the forecasts issued over the last week, the verified savings."""
        ctx = self.orchestrator.last_context
        tomorrow = self.assistant.tomorrow_kwh()
        accuracy = self.orchestrator.forecast.accuracy
        return {
            "forecast": None if tomorrow is None or ctx is None else {
                "tomorrow_kwh": round(tomorrow, 2), "issued": f"{ctx.now:%Y-%m-%d %H:%M} UTC"},
            "forecast_accuracy": None if accuracy is None else accuracy.as_dict(),
            "verified_savings": verified_savings(self.orchestrator.verified, self.orchestrator.realized),
            # The add-on's autopilot option: the integration's default for a new controllable.
            "autopilot_default": self.orchestrator.options.autopilot,
        }

    def llm_status(self, model: str) -> dict[str, Any]:
        if self.llm is None:
            return {"available": False, "model": model}
        return dict(self.llm.status())

    async def optimize(self) -> dict[str, Any]:
        return (await self.orchestrator.run("api")).api()

    async def ask(self, question: str, history: list[dict[str, Any]] | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]:
        return await self.assistant.ask(question, history, conversation_id)

    async def plots(self) -> dict[str, Any]:
        return await self.backend.plots()

    async def savings_potential(self) -> dict[str, Any] | str:
        return await self.backend.page_potential()


def verified_savings(recommendations: dict[str, Any] | None, plans: dict[str, Any] | None) -> dict[str, Any] | None:
    """``/api/health``'s verified savings: the applied recommendations' (kWh, the engine's M&V) and, under
    ``plan``, what the executor carried out (money and kWh per controllable, with the 90 % band); ``kwh`` is
    both together, what "Verified energy savings" shows."""
    if plans is None:
        return recommendations
    out = dict(recommendations or {"recommendations": 0, "kwh": 0.0, "by_recommendation": {}})
    out["plan"] = plans
    out["kwh"] = round(float(out.get("kwh") or 0.0) + float(plans["total"]["kwh"]), 3)
    return out

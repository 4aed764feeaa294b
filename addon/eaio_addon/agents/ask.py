"""Answers to a person's question (``POST /api/ask``).

With the local LLM available, the model answers with the add-on's MCP tools (a real MCP client
session to the add-on's own server). Without it, the answer is built from the last run: the top
recommendation with its savings, tomorrow's forecast and today's energy. Either way a question
about what to do gets the current top recommendation, with the engine's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from datetime import timedelta
import logging
import re
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .energy_backend import AddonEnergyBackend

_LOGGER = logging.getLogger(__name__)
_WHAT_TO_DO = re.compile(r"\b(what (should|can|do)|how (can|do) (i|we)|recommend|advice|advise|save|saving|tip)",
                         re.IGNORECASE)
ASK_TIMEOUT_S = 90.0


class AskLlm(Protocol):
    def status(self) -> dict[str, Any]: ...

    async def ask_with_tools(self, messages: list[dict[str, Any]], tools: Any, *, max_rounds: int = 4,
                             timeout_s: float = 90.0) -> Any: ...


def top_recommendation(recs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The integration's ranking: money per day times confidence."""
    open_recs = [r for r in recs if r.get("state", "open") == "open"]
    if not open_recs:
        return None
    return max(open_recs, key=lambda r: (float(r.get("estimated_savings_per_day", 0.0))
                                         * float(r.get("confidence", 0.5)), r["id"]))


def cite(rec: dict[str, Any]) -> str:
    return (f"Top recommendation: {rec['title']} — about {float(rec.get('estimated_savings_kwh_per_day', 0)):.2f} kWh "
            f"and {float(rec.get('estimated_savings_per_day', 0)):.2f} a day (confidence "
            f"{float(rec.get('confidence', 0.5)):.0%}).")


class Assistant:
    def __init__(self, backend: AddonEnergyBackend, llm: AskLlm | None,
                 open_tools: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None) -> None:
        self.backend = backend
        self.llm = llm
        self.open_tools = open_tools  # a ToolBridge over an MCP client session to the add-on's server

    async def ask(self, question: str) -> dict[str, Any]:
        recs = await self.backend.recommendations()
        top = top_recommendation(recs)
        wants_advice = bool(_WHAT_TO_DO.search(question))
        status = self.llm.status() if self.llm is not None else {"available": False, "error": "no LLM configured"}
        if status.get("available") and self.llm is not None:
            answer = await self._with_llm(question, top)
            if answer is not None:
                text, sources = answer
                if wants_advice and top is not None and top["title"] not in text:
                    text = f"{text.rstrip()}\n\n{cite(top)}"
                    sources.append(f"recommendation:{top['id']}")
                return {"answer": text, "sources": sources}
            status = {**status, "available": False}
        return await self._from_last_run(question, top, wants_advice, status)

    async def _with_llm(self, question: str, top: dict[str, Any] | None) -> tuple[str, list[str]] | None:
        assert self.llm is not None
        context = ("The current top recommendation is: " + cite(top)) if top else "There is no open recommendation."
        messages = [
            {"role": "system", "content": "You are EAIO, the energy assistant of this building. Answer briefly "
             "in plain words. Use the tools for facts; never invent numbers. When asked what to do, name the "
             f"top recommendation with its savings. {context}"},
            {"role": "user", "content": question},
        ]
        sources: list[str] = []
        try:
            async with contextlib.AsyncExitStack() as stack:
                bridge = None
                if self.open_tools is not None:
                    try:
                        bridge = await stack.enter_async_context(self.open_tools())
                        sources.append("mcp:energy")
                    except Exception as err:  # the model can still answer from the context it is given
                        _LOGGER.warning("MCP tools unavailable (%s: %s): asking without tools",
                                        type(err).__name__, err)
                reply = await self.llm.ask_with_tools(messages, bridge, max_rounds=4, timeout_s=ASK_TIMEOUT_S)
        except Exception as err:  # the answer from the last run still helps
            _LOGGER.warning("Asking the LLM failed (%s: %s): answering from the last run", type(err).__name__, err)
            return None
        if reply.error or not reply.text.strip():
            _LOGGER.info("LLM gave no answer (%s): answering from the last run", reply.error)
            return None
        sources = [f"llm:{reply.model}", *sources, *(f"tool:{c['name']}" for c in reply.tool_calls)]
        if top is not None:
            sources.append(f"recommendation:{top['id']}")
        return reply.text.strip(), sources

    async def _from_last_run(self, question: str, top: dict[str, Any] | None, wants_advice: bool,
                             status: dict[str, Any]) -> dict[str, Any]:
        reason = status.get("error") or status.get("state") or "not reachable"
        lines = [f"The language model is not available ({reason}), so this answer comes from the last "
                 "optimization run."]
        sources: list[str] = ["last_run"]
        if top is not None:
            lines.append(cite(top))
            sources.append(f"recommendation:{top['id']}")
        elif wants_advice:
            lines.append("There is no open recommendation right now.")
        tomorrow = self.tomorrow_kwh()
        if tomorrow is not None:
            lines.append(f"Forecast for tomorrow: about {tomorrow:.1f} kWh.")
            sources.append("forecast")
        today = await self.backend.energy_today_kwh()
        if today is not None:
            lines.append(f"Energy used today so far: {today:.1f} kWh.")
            sources.append("energy_today")
        return {"answer": " ".join(lines), "sources": sources, "error": "llm_unavailable"}

    def tomorrow_kwh(self) -> float | None:
        """Tomorrow's expected consumption (local day) from the last run's forecast; None when not covered."""
        ctx = self.backend.orchestrator.last_context
        if ctx is None or ctx.forecast is None:
            return None
        zone = ZoneInfo(ctx.tz)
        local = ctx.now.astimezone(zone)
        start = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        window = ctx.forecast.median().window(start, 24).values
        if not (window == window).all():  # NaN: the forecast does not cover all of tomorrow
            return None
        return float(window.sum())

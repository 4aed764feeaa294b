"""Answers to a person's question (``POST /api/ask``), question by question.

With the local LLM available, the model answers with the add-on's MCP tools (a real MCP client
session to the add-on's own server) and sees the conversation's recent turns. Without it, each
question gets its own answer from the store and the last run: the energy used (from the meter's
latest readings, not the last run), the forecast, the recommendations and why, the verified
savings, the link to Home Assistant. What is asked is recognised by the same words as the
integration's assistant (``ask_intents``).

Applying is proposed and carried out only on the next turn's "yes" of the same conversation,
through Home Assistant's ``eaio.apply_recommendation`` (the integration's guard); the model is
never the one that applies. Autopilot and other device requests are Home Assistant's to confirm:
the answer says so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import re
import time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from . import ask_intents as intents
from .energy_backend import AddonEnergyBackend

_LOGGER = logging.getLogger(__name__)
_WHAT_TO_DO = re.compile(r"\b(what (should|can|do)|how (can|do) (i|we)|recommend|advice|advise|save|saving|tip)",
                         re.IGNORECASE)
ASK_TIMEOUT_S = 90.0
HISTORY_TURNS = 6  # the model sees at most this many earlier turns
PROPOSAL_TTL_S = 300.0
MAX_CONVERSATIONS = 200
MODEL_INTENTS = {None, intents.ENERGY, intents.FORECAST, intents.RECOMMENDATIONS, intents.WHY, intents.SAVINGS,
                 intents.DEVICES}  # what the model may answer; confirming and acting stay here


class AskLlm(Protocol):
    def status(self) -> dict[str, Any]: ...

    async def ask_with_tools(self, messages: list[dict[str, Any]], tools: Any, *, max_rounds: int = 4,
                             timeout_s: float = 90.0) -> Any: ...


def top_recommendation(recs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The integration's ranking: money per day times confidence."""
    ranked = ranked_recommendations(recs)
    return ranked[0] if ranked else None


def ranked_recommendations(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    open_recs = [r for r in recs if r.get("state", "open") == "open"]
    return sorted(open_recs, key=lambda r: (-float(r.get("estimated_savings_per_day", 0.0))
                                            * float(r.get("confidence", 0.5)), r["id"]))


def cite(rec: dict[str, Any]) -> str:
    return (f"Top recommendation: {rec['title']} — about {float(rec.get('estimated_savings_kwh_per_day', 0)):.2f} kWh "
            f"and {float(rec.get('estimated_savings_per_day', 0)):.2f} a day (confidence "
            f"{float(rec.get('confidence', 0.5)):.0%}).")


def _line(rec: dict[str, Any]) -> str:
    return (f"{rec['title']} (about {float(rec.get('estimated_savings_kwh_per_day', 0)):.2f} kWh and "
            f"{float(rec.get('estimated_savings_per_day', 0)):.2f} a day)")


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _ungrounded(text: str, context: str) -> bool:
    """Whether the text has a number the context does not."""
    return any(number not in context for number in _NUMBER.findall(text))


@dataclass
class _Conversation:
    last: str | None = None
    last_rec: str | None = None
    proposal: str | None = None  # the recommendation id waiting for a yes
    proposed_at: float = 0.0
    seen: float = field(default_factory=time.monotonic)


class Assistant:
    def __init__(self, backend: AddonEnergyBackend, llm: AskLlm | None,
                 open_tools: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.llm = llm
        self.open_tools = open_tools  # a ToolBridge over an MCP client session to the add-on's server
        self.clock = clock
        self._conversations: dict[str, _Conversation] = {}

    def _conversation(self, conversation_id: str | None) -> _Conversation:
        if conversation_id is None:
            return _Conversation()
        if conversation_id not in self._conversations and len(self._conversations) >= MAX_CONVERSATIONS:
            del self._conversations[min(self._conversations, key=lambda k: self._conversations[k].seen)]
        conv = self._conversations.setdefault(conversation_id, _Conversation())
        conv.seen = time.monotonic()
        return conv

    async def ask(self, question: str, history: list[dict[str, Any]] | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]:
        recs = await self.backend.recommendations()
        top = top_recommendation(recs)
        conv = self._conversation(conversation_id)
        if conv.proposal is not None and self.clock() - conv.proposed_at > PROPOSAL_TTL_S:
            conv.proposal = None
        intent, _language = intents.recognize_any(question, pending=conv.proposal is not None, last=conv.last)
        if intent.name not in (intents.WHY, intents.YES, intents.NO):
            conv.proposal = None  # a new question lets an unanswered proposal lapse
        wants_advice = bool(_WHAT_TO_DO.search(question))
        status = self.llm.status() if self.llm is not None else {"available": False, "error": "no LLM configured"}
        if intent.name in MODEL_INTENTS and status.get("available") and self.llm is not None:
            answer = await self._with_llm(question, top, history or [])
            if answer is not None:
                text, sources = answer
                if wants_advice and top is not None and top["title"] not in text:
                    text = f"{text.rstrip()}\n\n{cite(top)}"
                    sources.append(f"recommendation:{top['id']}")
                conv.last = intent.name
                return {"answer": text, "sources": sources, "topic": intent.name}
            status = {**status, "available": False}
        reply = await self._without_model(intent, conv, recs, status)
        if intent.name is not None and intent.name != intents.WHY:
            conv.last = intent.name
        return reply

    async def _with_llm(self, question: str, top: dict[str, Any] | None,
                        history: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
        assert self.llm is not None
        context = ("The current top recommendation is: " + cite(top)) if top else "There is no open recommendation."
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are EAIO, the energy assistant of this building. Answer briefly "
             "in plain words. Use the tools for facts; never invent numbers. When asked what to do, name the "
             f"top recommendation with its savings. {context}"},
        ]
        for turn in history[-HISTORY_TURNS:]:  # "why?" and "and tomorrow?" refer to these
            if isinstance(turn.get("question"), str) and isinstance(turn.get("answer"), str):
                messages += [{"role": "user", "content": turn["question"]},
                             {"role": "assistant", "content": turn["answer"]}]
        messages.append({"role": "user", "content": question})
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
        if not any(c.get("ok") for c in reply.tool_calls) and _ungrounded(reply.text, messages[0]["content"]):
            # Numbers no tool gave and the context does not hold are the model's own: not passed on.
            _LOGGER.info("LLM answered with numbers no tool gave: answering without it")
            return None
        sources = [f"llm:{reply.model}", *sources, *(f"tool:{c['name']}" for c in reply.tool_calls)]
        if top is not None:
            sources.append(f"recommendation:{top['id']}")
        return reply.text.strip(), sources

    # --- without a model: one answer per question --------------------------------------------------

    async def _without_model(self, intent: intents.Intent, conv: _Conversation, recs: list[dict[str, Any]],
                             status: dict[str, Any]) -> dict[str, Any]:
        name = intent.name
        ranked = ranked_recommendations(recs)
        sources: list[str] = ["last_run"]
        if name == intents.ENERGY:
            text = await self.energy_text(intent.period)
            sources = ["store"]
        elif name == intents.FORECAST:
            text = self.forecast_text()
            sources.append("forecast")
        elif name == intents.RECOMMENDATIONS:
            if not ranked:
                text = "There is no open recommendation right now."
            else:
                conv.last_rec = ranked[0]["id"]
                text = cite(ranked[0])
                if len(ranked) > 1:
                    text += " Then: " + "; ".join(_line(r) for r in ranked[1:3]) + "."
                sources.append(f"recommendation:{ranked[0]['id']}")
        elif name == intents.WHY:
            text = self.why_text(conv, ranked)
        elif name == intents.SAVINGS:
            text = await self.savings_text()
            sources = ["verified_savings"]
        elif name == intents.DEVICES:
            text = await self.link_text()
            sources = ["health"]
        elif name == intents.APPLY:
            rec = next((r for r in ranked if r["id"] == conv.last_rec), ranked[0] if ranked else None)
            if rec is None:
                text = "There is no open recommendation to apply."
            else:
                conv.last_rec, conv.proposal, conv.proposed_at = rec["id"], rec["id"], self.clock()
                text = (f"Shall I apply “{rec['title']}”? It is expected to save about "
                        f"{float(rec.get('estimated_savings_kwh_per_day', 0)):.2f} kWh a day. Say yes to confirm.")
        elif name == intents.YES:
            text = await self._carry_out(conv, ranked)
            sources = ["home_assistant"]
        elif name == intents.NO:
            conv.proposal = None
            text = "All right, I left everything as it was."
            sources = []
        elif name == intents.AUTOPILOT_STATUS:
            text = await self.autopilot_text()
            sources = ["home_assistant"]
        elif name == intents.AUTOPILOT_SET:
            text = ("Autopilot is switched per controllable in Home Assistant (EAIO's autopilot switches); ask "
                    "EAIO's assistant there, which asks you to confirm the change.")
            sources = []
        elif name == intents.ACT:
            text = ("I can't do that from here: the add-on changes no device itself. EAIO changes devices only "
                    "through its recommendations and the autopilot of controllables declared in Home Assistant.")
            sources = []
        else:
            reason = status.get("error") or status.get("state") or "not reachable"
            text = (f"The language model is not available ({reason}). Without it I can answer about the energy "
                    "used today, this week or this month, tomorrow's forecast, the recommendations and why, the "
                    "verified savings and the link to Home Assistant.")
        return {"answer": text, "sources": sources, "error": "llm_unavailable", "topic": name or "unknown"}

    async def _carry_out(self, conv: _Conversation, ranked: list[dict[str, Any]]) -> str:
        rec_id, conv.proposal = conv.proposal, None
        rec = next((r for r in ranked if r["id"] == rec_id), None)
        if rec is None:
            return "That recommendation is no longer open, so I did not apply it."
        try:
            await self.backend.apply_recommendation(rec["id"])
        except LookupError as err:
            return f"I could not apply “{rec['title']}”: {err}"
        return (f"Asked Home Assistant to apply “{rec['title']}”; it checks the request against EAIO's limits "
                "before anything changes.")

    def why_text(self, conv: _Conversation, ranked: list[dict[str, Any]]) -> str:
        if conv.last == intents.FORECAST:
            return ("The forecast comes from the add-on's load model, trained on this building's metered history "
                    "and the weather.")
        if conv.last == intents.ENERGY:
            return "That is what the consumption meter counted since the start of the period, up to its latest reading."
        rec = next((r for r in ranked if r["id"] == conv.last_rec), ranked[0] if ranked else None)
        if rec is None:
            return "There is no open recommendation to explain."
        conv.last_rec = rec["id"]
        reasons = [str(r) for r in rec.get("reasons") or []]
        if reasons:
            return f"Why “{rec['title']}”: " + "; ".join(reasons) + "."
        if rec.get("description"):
            return f"Why “{rec['title']}”: {str(rec['description']).rstrip('.')}."
        return f"“{rec['title']}” carries no stored reasons."

    async def autopilot_text(self) -> str:
        """What each controllable's autopilot does, as the integration reports it (eaio/controllables)."""
        feedback = getattr(self.backend.orchestrator, "feedback", None)
        listed = await feedback.controllables() if feedback is not None else None
        if listed is None:
            return "I cannot tell what autopilot does: Home Assistant's EAIO integration did not say (link down?)."
        if not listed:
            return "No controllable is declared in Home Assistant yet, so autopilot drives nothing."
        parts = []
        for item in listed:
            state = {"following": "following the plan", "dry_run": "in dry run", "paused": "paused by a manual "
                     "change", "failsafe": "stopped in its safe state", "error": "stopped on an error",
                     "idle": "idle"}.get(str(item.get("state")), str(item.get("state")))
            on = "on" if item.get("autopilot") else "off"
            until = f" until {item['paused_until']}" if item.get("paused_until") else ""
            parts.append(f"{item.get('name') or item.get('plan_key')}: autopilot {on}, {state}{until}")
        return "Autopilot — " + "; ".join(parts) + "."

    async def savings_text(self) -> str:
        try:
            verified = await self.backend.verified_savings()
        except LookupError as err:
            return f"No savings are verified yet ({err})."
        if not verified.get("recommendations"):
            return ("No savings are verified yet: they are measured after a recommendation or a plan has been "
                    "carried out.")
        return (f"Verified savings: {float(verified.get('kwh', 0.0)):.1f} kWh, measured against the forecast "
                f"baseline ({verified['recommendations']} carried out).")

    async def link_text(self) -> str:
        status = await self.backend.status()
        health = status.get("health") or {}
        problems = [str(p) for p in health.get("problems") or []]
        if problems:
            return "The add-on reports: " + "; ".join(problems) + "."
        return f"The add-on is connected to Home Assistant ({health.get('ha_link', 'unknown')})."

    def _zone(self) -> ZoneInfo:
        ctx = self.backend.orchestrator.last_context
        return ZoneInfo(ctx.tz if ctx is not None else "UTC")

    def forecast_text(self) -> str:
        tomorrow = self.tomorrow_kwh()
        ctx = self.backend.orchestrator.last_context
        if tomorrow is None or ctx is None:
            return "I have no forecast for tomorrow yet: no optimization run has made one."
        made = ctx.now.astimezone(self._zone())
        return f"Forecast for tomorrow: about {tomorrow:.1f} kWh (made {made:%Y-%m-%d %H:%M})."

    async def energy_text(self, period: str) -> str:
        used = await self.backend.energy_used_kwh(period, self.clock())
        words = {"today": "today", "week": "this week", "month": "this month"}[period]
        if used is None:
            return f"I have no consumption readings {words} yet."
        kwh, latest = used
        at = datetime.fromtimestamp(latest, UTC).astimezone(self._zone())
        return f"Energy used {words}: {kwh:.2f} kWh (up to the reading at {at:%H:%M})."

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

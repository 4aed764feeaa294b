"""The assistant's model path, evaluated: 32 questions through the tool bridge, with and without its repairs.

Real parts: the add-on's MCP server on streamable HTTP (with a fixed in-memory energy backend, so
every fact is known), the MCP client session, the tool bridge and LocalLlm's tool-calling loop. The
model is the Ollama test server (addon/tests/ollama_server.py) playing a small local model: for
each question a scripted behaviour seen in small models' tool use -- a clean call, a wrong argument
name, numbers as strings, a made-up tool name, a ``functions.`` prefix, arguments wrapped once
more, the call written as JSON or as ``name(...)`` in its text, a reply that ignores the tools (once,
or even after being told), and a tool that does not exist. What the simulated model does:

- it answers from a tool's result correctly when it gets one (it reads the numbers given);
- when a call comes back as an error, or it answers without a tool, it answers from memory with an
  invented number (what a small model does when it has no data);
- told once to call the tool after answering without one, it complies, except in the
  "ignores tools twice" behaviour.

An answer is correct when it contains every fact the question needs (computed from the backend
with the right arguments). An answer with numbers but no successful tool call is "flagged": the
add-on's assistant replaces it with its answer without a model (agents/ask.py).

    cd addon && PYTHONPATH=.:.. ../.venv-addon/bin/python ../benchmarks/assistant_eval.py
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
import json
import logging
import re
import sys
from typing import Any

from eaio_addon.agents.swarm import ASSISTANT_TOOLS
from eaio_addon.llm import LocalLlm, ToolBridge
from eaio_addon.llm.local_llm import NUDGE
from eaio_addon.mcp_servers import McpHttpServer, MqttSettings, open_client_session
from tests.ollama_server import ChatStep, OllamaTestServer, Script

TOKEN = "eval-token"
MODEL = "small-model:3b"
HOURLY_KW = [0.6, 0.5, 0.5, 0.5, 0.6, 0.8, 1.2, 1.6, 1.3, 1.0, 0.9, 0.9,
             1.0, 1.0, 1.1, 1.3, 1.8, 2.4, 2.6, 2.2, 1.7, 1.2, 0.9, 0.7]  # fmt: skip
RECS = [
    {"id": "load-always-on", "title": "Cut always-on load by 0.30 kW", "estimated_savings_kwh_per_day": 7.2,
     "estimated_savings_per_day": 1.44, "confidence": 0.8, "state": "open",
     "reasons": ["0.30 kW runs day and night", "the night minimum rose from 0.20 kW last month"]},
    {"id": "hvac-precool", "title": "Pre-cool before the 16:00 peak", "estimated_savings_kwh_per_day": 2.4,
     "estimated_savings_per_day": 0.61, "confidence": 0.7, "state": "open",
     "reasons": ["the tariff is 0.50 from 16:00 to 21:00"]},
    {"id": "lighting-off", "title": "Lights off 08:00-17:00 (empty)", "estimated_savings_kwh_per_day": 0.6,
     "estimated_savings_per_day": 0.16, "confidence": 0.7, "state": "open",
     "reasons": ["the zone is empty then"]},
]


class Backend:
    """A building whose every number is known."""

    async def status(self) -> dict[str, Any]:
        return {"health": {"status": "ok", "ha_link": "connected", "problems": []}, "open_recommendations": 3,
                "energy_today_kwh": 18.37, "last_run": {"at": "2026-12-06T06:00:00+00:00", "status": "ok"}}

    async def history(self, entity_id: str, hours: int) -> dict[str, Any]:
        if entity_id != "sensor.house_energy":
            raise LookupError(f"no history for {entity_id}; the store has: sensor.house_energy")
        rows = [{"start": f"h{k}", "delta": HOURLY_KW[k % 24]} for k in range(hours)]
        return {"entity_id": entity_id, "unit": "kWh", "hours": rows,
                "total_kwh": round(sum(r["delta"] for r in rows), 2)}

    async def forecast(self, hours: int) -> dict[str, Any]:
        p50 = [HOURLY_KW[k % 24] for k in range(hours)]
        return {"unit": "kW", "p50": p50, "total_kwh_p50": round(sum(p50), 2)}

    async def run_optimization(self) -> dict[str, Any]:
        return {"status": "ok", "recommendations": 3, "missing": []}

    async def recommendations(self) -> list[dict[str, Any]]:
        return [dict(r) for r in RECS]

    async def apply_recommendation(self, rec_id: str) -> dict[str, Any]:
        raise LookupError("not from a question")

    async def dismiss_recommendation(self, rec_id: str) -> dict[str, Any]:
        raise LookupError("not from a question")

    async def verified_savings(self) -> dict[str, Any]:
        return {"recommendations": 2, "kwh": 12.5, "by_recommendation": {"load-always-on": 9.1, "hvac-precool": 3.4}}


def _forecast_answer(result: Any) -> str:
    return f"About {result['total_kwh_p50']:.1f} kWh are expected."


def _history_answer(result: Any) -> str:
    return f"The meter counted {result['total_kwh']:.1f} kWh."


def _recs_answer(result: Any) -> str:
    recs = result["recommendations"] if isinstance(result, dict) else result
    top = max(recs, key=lambda r: r["estimated_savings_per_day"] * r["confidence"])
    return f"{top['title']}: about {top['estimated_savings_kwh_per_day']:.1f} kWh a day."


def _why_answer(result: Any) -> str:
    recs = result["recommendations"] if isinstance(result, dict) else result
    top = max(recs, key=lambda r: r["estimated_savings_per_day"] * r["confidence"])
    return f"Because {'; '.join(top['reasons'])}."


def _savings_answer(result: Any) -> str:
    return f"{result['kwh']:.1f} kWh saved so far, verified."


def _status_answer(result: Any) -> str:
    return f"{result['open_recommendations']} open recommendations; today {result['energy_today_kwh']:.1f} kWh."


@dataclass(frozen=True)
class Question:
    text: str
    tool: str
    arguments: dict[str, Any]
    answer: Callable[[Any], str]  # what the model says from the tool's result
    facts: tuple[str, ...]  # what a correct answer contains
    behaviour: str


def _q(text: str, tool: str, arguments: dict[str, Any], answer: Callable[[Any], str], facts: tuple[str, ...],
       behaviour: str) -> Question:
    return Question(text, tool, arguments, answer, facts, behaviour)


F24, F48, F12 = (f"{round(sum(HOURLY_KW[k % 24] for k in range(n)), 2):.1f} kWh" for n in (24, 48, 12))
TOP, WHY = "Cut always-on load by 0.30 kW", "0.30 kW runs day and night"
QUESTIONS = [
    _q("How much energy will we use tomorrow?", "energy_forecast", {"hours": 24}, _forecast_answer, (F24,), "clean"),
    _q("What's the forecast for the next 48 hours?", "energy_forecast", {"hours": 48}, _forecast_answer, (F48,),
       "wrong_argument_name"),
    _q("Forecast for the next 12 hours?", "energy_forecast", {"hours": 12}, _forecast_answer, (F12,),
       "number_as_string"),
    _q("What do you predict for tomorrow?", "energy_forecast", {"hours": 24}, _forecast_answer, (F24,),
       "made_up_tool_name"),
    _q("Expected consumption over two days?", "energy_forecast", {"hours": 48}, _forecast_answer, (F48,),
       "json_in_text"),
    _q("Tomorrow's load forecast, please", "energy_forecast", {"hours": 24}, _forecast_answer, (F24,),
       "ignores_tools_once"),
    _q("What should I do to save energy?", "energy_list_recommendations", {}, _recs_answer, (TOP, "7.2 kWh"),
       "clean"),
    _q("Any recommendations?", "energy_list_recommendations", {}, _recs_answer, (TOP,), "made_up_tool_name"),
    _q("What is the top recommendation?", "energy_list_recommendations", {}, _recs_answer, (TOP,), "prefixed_name"),
    _q("What's the best way to cut my bill?", "energy_list_recommendations", {}, _recs_answer, (TOP,),
       "call_in_text"),
    _q("Which saving is worth most?", "energy_list_recommendations", {}, _recs_answer, (TOP, "7.2 kWh"),
       "ignores_tools_twice"),
    _q("What do you suggest first?", "energy_list_recommendations", {}, _recs_answer, (TOP,), "wrapped_arguments"),
    _q("Why do you recommend cutting the always-on load?", "energy_list_recommendations", {}, _why_answer, (WHY,),
       "clean"),
    _q("What is the reason for the top recommendation?", "energy_list_recommendations", {}, _why_answer, (WHY,),
       "json_in_text"),
    _q("Explain the top recommendation", "energy_list_recommendations", {}, _why_answer, (WHY,),
       "made_up_tool_name"),
    _q("How much have we saved?", "energy_verified_savings", {}, _savings_answer, ("12.5 kWh",), "clean"),
    _q("What are the verified savings?", "energy_verified_savings", {}, _savings_answer, ("12.5 kWh",),
       "made_up_tool_name"),
    _q("Did the recommendations save anything?", "energy_verified_savings", {}, _savings_answer, ("12.5 kWh",),
       "ignores_tools_once"),
    _q("Measured savings so far?", "energy_verified_savings", {}, _savings_answer, ("12.5 kWh",), "prefixed_name"),
    _q("How much did the house use in the last 24 hours?", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 24}, _history_answer, (F24,), "clean"),
    _q("Energy of sensor.house_energy over the last 48 hours?", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 48}, _history_answer, (F48,), "wrong_argument_name"),
    _q("What did sensor.house_energy count in the last 12 hours?", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 12}, _history_answer, (F12,), "number_as_string"),
    _q("History of the house meter for a day", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 24}, _history_answer, (F24,), "wrapped_arguments"),
    _q("Show the last two days of the house meter", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 48}, _history_answer, (F48,), "call_in_text"),
    _q("How much did the meter use over the past day?", "energy_history",
       {"entity_id": "sensor.house_energy", "hours": 24}, _history_answer, (F24,), "missing_tool"),
    _q("How is the building doing?", "energy_status", {}, _status_answer, ("3 open", "18.4 kWh"), "clean"),
    _q("Status overview please", "energy_status", {}, _status_answer, ("3 open",), "made_up_tool_name"),
    _q("How much energy have we used today?", "energy_status", {}, _status_answer, ("18.4 kWh",), "json_in_text"),
    _q("Is everything all right?", "energy_status", {}, _status_answer, ("3 open",), "prefixed_name"),
    _q("Energy used so far today?", "energy_status", {}, _status_answer, ("18.4 kWh",), "ignores_tools_twice"),
    _q("How many recommendations are open?", "energy_status", {}, _status_answer, ("3 open",),
       "wrong_argument_name"),
    _q("What will tomorrow cost in energy?", "energy_forecast", {"hours": 24}, _forecast_answer, (F24,),
       "missing_tool"),
]

MADE_UP = {"energy_forecast": "get_forecast", "energy_list_recommendations": "get_recommendations",
           "energy_verified_savings": "verified_savings", "energy_status": "get_status",
           "energy_history": "history"}
MISSING = {"energy_forecast": "weather_forecast", "energy_history": "read_meter"}


def _misspelt(arguments: dict[str, Any]) -> dict[str, Any]:
    wrong = {"hours": "hour", "entity_id": "entity"}
    out = {wrong.get(k, k): v for k, v in arguments.items()}
    return out if out != arguments else {**arguments, "verbose": True}  # a tool without arguments: an extra one


def _invented(question: Question) -> str:
    return "It should be about 42.0 kWh, I think."


class SmallModel(OllamaTestServer):
    """Ollama's API, answering each question with its scripted behaviour (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(Script(models=[MODEL]))
        self.by_text = {q.text: q for q in QUESTIONS}

    def _default_step(self, body: dict[str, Any]) -> ChatStep:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        users = [str(m.get("content")) for m in messages if m.get("role") == "user"]
        question = next(self.by_text[u] for u in users if u in self.by_text)
        results = [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]
        if results:
            if results[-1].startswith("error:"):
                return ChatStep(content=_invented(question))
            return ChatStep(content=question.answer(json.loads(results[-1])))
        good = [{"name": question.tool, "arguments": question.arguments}]
        if users[-1] == NUDGE:
            if question.behaviour == "ignores_tools_twice":
                return ChatStep(content=_invented(question))
            return ChatStep(tool_calls=good)
        call_text = json.dumps({"name": question.tool, "arguments": question.arguments})
        match question.behaviour:
            case "clean":
                return ChatStep(tool_calls=good)
            case "wrong_argument_name":
                return ChatStep(tool_calls=[{"name": question.tool, "arguments": _misspelt(question.arguments)}])
            case "number_as_string":
                return ChatStep(tool_calls=[{"name": question.tool, "arguments": {
                    k: str(v) if isinstance(v, int) else v for k, v in question.arguments.items()}}])
            case "made_up_tool_name":
                return ChatStep(tool_calls=[{"name": MADE_UP[question.tool], "arguments": question.arguments}])
            case "prefixed_name":
                return ChatStep(tool_calls=[{"name": f"functions.{question.tool}", "arguments": question.arguments}])
            case "wrapped_arguments":
                return ChatStep(tool_calls=[{"name": question.tool, "arguments": {"parameters": question.arguments}}])
            case "json_in_text":
                return ChatStep(content=f"I will look that up.\n```json\n{call_text}\n```")
            case "call_in_text":
                return ChatStep(content=f"Calling {question.tool}({json.dumps(question.arguments)})")
            case "missing_tool":
                return ChatStep(tool_calls=[{"name": MISSING[question.tool], "arguments": question.arguments}])
            case _:  # ignores_tools_once, ignores_tools_twice
                return ChatStep(content=_invented(question))


@dataclass
class Outcome:
    question: Question
    text: str
    correct: bool
    flagged: bool
    repairs: list[str]


async def run(repair: bool) -> list[Outcome]:
    model = SmallModel()
    await model.start()
    server = McpHttpServer(lambda: Backend(), lambda: None, MqttSettings(None), lambda: TOKEN)  # type: ignore[arg-type,return-value]
    await server.start("127.0.0.1", 0)
    llm = LocalLlm(model.url, MODEL, MODEL, memory_probe=lambda: 30.0)
    await llm.start()
    outcomes = []
    try:
        async with open_client_session(server.url(), TOKEN) as session:
            bridge = await ToolBridge.from_session(session, allow=ASSISTANT_TOOLS, repair=repair)
            for question in QUESTIONS:
                messages = [{"role": "system", "content": "You are EAIO. Use the tools for facts."},
                            {"role": "user", "content": question.text}]
                reply = await llm.ask_with_tools(messages, bridge, max_rounds=4, timeout_s=30)
                grounded = any(c["ok"] for c in reply.tool_calls)
                correct = all(f in reply.text for f in question.facts) and grounded
                flagged = not grounded and bool(re.search(r"\d", reply.text))
                repairs = [r for c in reply.tool_calls for r in c.get("repairs", [])]
                outcomes.append(Outcome(question, reply.text, correct, flagged, repairs))
    finally:
        await llm.close()
        await server.stop()
        await model.stop()
    return outcomes


def _kind(repair: str) -> str:
    for key, label in (("tool name", "tool name"), ("argument '", "argument name or type"),
                       ("unwrapped", "arguments unwrapped"), ("unknown argument", "unknown argument left out"),
                       ("written in the reply", "call written as text")):
        if key in repair:
            return label
    return repair


async def main() -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    plain = await run(repair=False)
    repaired = await run(repair=True)
    behaviours = list(dict.fromkeys(q.behaviour for q in QUESTIONS))
    print(f"{len(QUESTIONS)} questions; correct without repairs / with repairs (flagged: numbers with no tool)")
    print(f"{'behaviour':24} {'n':>3} {'plain':>6} {'repaired':>9} {'flagged':>8}")
    for behaviour in behaviours:
        a = [o for o in plain if o.question.behaviour == behaviour]
        b = [o for o in repaired if o.question.behaviour == behaviour]
        print(f"{behaviour:24} {len(a):3d} {sum(o.correct for o in a):6d} {sum(o.correct for o in b):9d} "
              f"{sum(o.flagged for o in b):8d}")
    print(f"{'total':24} {len(plain):3d} {sum(o.correct for o in plain):6d} {sum(o.correct for o in repaired):9d} "
          f"{sum(o.flagged for o in repaired):8d}")
    print(f"flagged: plain {sum(o.flagged for o in plain)}, repaired {sum(o.flagged for o in repaired)}")
    print(f"wrong and not flagged: plain {sum(not o.correct and not o.flagged for o in plain)}, "
          f"repaired {sum(not o.correct and not o.flagged for o in repaired)}")
    kinds = Counter(_kind(r) for o in repaired for r in o.repairs)
    print("repairs made:", ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    for o in repaired:
        if not o.correct:
            print(f"  not correct with repairs: [{o.question.behaviour}] {o.question.text!r} -> {o.text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

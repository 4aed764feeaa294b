"""Explanations: the template, and the LLM's ranking and wording with the engine's numbers only."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from eaio_addon.agents.candidate import Candidate
from eaio_addon.agents.explain import LlmExplainer, TemplateExplainer, numbers_ok
from eaio_addon.llm import StructuredReply


def candidates() -> list[Candidate]:
    return [
        Candidate("lighting", "lights", "Lights off 08:00-17:00", {"type": "none"}, 0.54, 0.14, 0.7, "lighting",
                  reasons=["the zone is usually empty then"], facts={"zone_saving_kwh": 1.08}),
        Candidate("load", "always-on", "Cut always-on load by 0.30 kW", {"type": "none"}, 7.2, 1.89, 0.6,
                  "base_load_excess", facts={"excess_kw": 0.3, "base_kw": 0.7}),
    ]


class ScriptedLlm:
    """A stand-in with the local LLM's ``structured`` signature: replies as scripted, records the request."""

    def __init__(self, reply: StructuredReply) -> None:
        self.reply = reply
        self.requests: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = []

    async def structured(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                         purpose: str) -> StructuredReply:
        self.requests.append((messages, schema, purpose))
        return self.reply


async def test_the_template_ranks_by_money_times_confidence_and_cites_the_engine() -> None:
    result = await TemplateExplainer().explain(candidates())
    assert result.order == ["always-on", "lights"]  # 1.89 * 0.6 > 0.14 * 0.7
    assert result.source == "template"
    assert result.descriptions["always-on"].startswith("Cut always-on load by 0.30 kW: saves about 7.20 kWh "
                                                       "and 1.89 a day (confidence 60%).")
    # A shift in time saves money only: the sentence says so, without "0.00 kWh".
    shift = dataclasses.replace(candidates()[1], key="battery", title="Charge the battery 01:00-05:00",
                                kwh_per_day=0.0)
    text = (await TemplateExplainer().explain([shift])).descriptions["battery"]
    assert text.startswith("Charge the battery 01:00-05:00: saves about 1.89 a day (confidence 60%).")


async def test_the_llm_ranking_and_wording_are_used_when_its_numbers_are_the_engines() -> None:
    llm = ScriptedLlm(StructuredReply({"ranking": ["lights", "always-on"], "descriptions": [
        {"key": "lights", "text": "Nobody is in the room during the day; switching off saves 0.54 kWh a day."},
        {"key": "always-on", "text": "Something now runs all the time: 0.30 kW more than your best weeks."},
    ]}, "qwen2.5:7b", 1, None))
    result = await LlmExplainer(llm).explain(candidates())
    assert result.order == ["lights", "always-on"] and result.source == "llm:qwen2.5:7b"
    assert result.descriptions["lights"].startswith("Nobody is in the room")
    messages, schema, purpose = llm.requests[0]
    assert purpose == "explain_recommendations" and "ranking" in schema["required"]
    assert '"kwh_per_day": 7.2' in messages[1]["content"]  # the model gets the engine's numbers


async def test_wording_with_a_number_the_engine_did_not_give_is_replaced_by_the_template() -> None:
    llm = ScriptedLlm(StructuredReply({"ranking": ["always-on"], "descriptions": [
        {"key": "always-on", "text": "This saves 12 kWh a day."},
        {"key": "lights", "text": "Turn the lights off when the room is empty."},
    ]}, "m", 2, None))
    result = await LlmExplainer(llm).explain(candidates())
    assert result.order == ["always-on", "lights"]  # an incomplete ranking: the score order
    assert "12" not in result.descriptions["always-on"] and "7.20 kWh" in result.descriptions["always-on"]
    assert result.descriptions["lights"] == "Turn the lights off when the room is empty."
    assert result.error is not None and "always-on" in result.error


async def test_no_valid_reply_means_the_template() -> None:
    llm = ScriptedLlm(StructuredReply(None, "m", 2, "not valid JSON twice"))
    result = await LlmExplainer(llm).explain(candidates())
    assert result.source == "template" and result.error == "not valid JSON twice"
    assert result.descriptions == (await TemplateExplainer().explain(candidates())).descriptions


def test_number_check() -> None:
    c = candidates()[1]
    assert numbers_ok("saves 7.2 kWh or 1.89 a day at 60% confidence", c)
    assert numbers_ok("0.30 kW above a base of 0.7 kW", c)
    assert not numbers_ok("saves 8 kWh", c)


class SlowLlm:
    async def structured(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                         purpose: str) -> StructuredReply:
        await asyncio.sleep(30)
        raise AssertionError("cancelled before this")


async def test_a_model_slower_than_its_timeout_costs_the_wording_not_the_run() -> None:
    result = await LlmExplainer(SlowLlm(), timeout_s=0.05).explain(candidates())
    assert result.source == "template" and result.order == ["always-on", "lights"]
    assert result.error == "the language model did not answer within 0.05 s"

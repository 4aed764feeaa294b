"""Answers about the building, question by question, in the asker's language.

What is asked is recognised from the words of the translation files (``intents``); the answer
uses only what Home Assistant knows (EAIO's consumption meters, the stored recommendations,
the add-on's last report, the autopilot switches), so every common question works without the
add-on and without a language model. Numbers come from those sources, never from a model. A
question these words do not cover goes to the add-on's assistant when it is there.

Requests to act are proposed first and carried out on the next turn's "yes" (the conversation's
memory), through the same paths as the services: a recommendation through the add-on link's
apply (the guard), autopilot through its switch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
import logging
import re
from typing import Any

from homeassistant.const import STATE_ON
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, translation
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from . import intents
from .addon_client import AddonError
from .addon_coordinator import AddonCoordinator
from .const import DOMAIN
from .conversation_memory import Conversation, Proposal
from .energy_today import EnergyToday
from .intents import Intent, Vocabulary, recognize

_LOGGER = logging.getLogger(__name__)

OLD_RUN = timedelta(hours=12)  # the add-on runs every hour or so; older than this is worth saying
DECIMAL_COMMA = {"de", "fr", "es", "it", "nl", "pt", "da", "sv", "nb", "fi", "pl", "cs"}
# Confirming and acting happen here, through the guard; the add-on's model only answers.
LOCAL_ONLY = {
    intents.YES,
    intents.NO,
    intents.APPLY,
    intents.AUTOPILOT_SET,
    intents.AUTOPILOT_STATUS,
    intents.ACT,
}
_LINK_SEEN: HassKey[dict[str, datetime]] = HassKey(f"{DOMAIN}_link_seen")


@dataclass
class Answer:
    text: str
    source: str  # "addon" or "local"
    topic: str | None = None


class Texts:
    """One language's answer templates and vocabulary (English fills what a language lacks)."""

    def __init__(
        self, language: str, answers: dict[str, str], vocab: Vocabulary, english: Vocabulary
    ) -> None:
        self.language = language
        self.answers = answers
        self.vocab = vocab
        self.english = english  # entity names are often English whatever the language spoken

    def t(self, key: str, **placeholders: Any) -> str:
        return self.answers[key].format(**placeholders)

    def num(self, value: float, digits: int = 1) -> str:
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") if self.language in DECIMAL_COMMA else text

    def time(self, moment: datetime) -> str:
        """A moment in Home Assistant's time zone: the time alone when it is today."""
        local = dt_util.as_local(moment)
        if local.date() == dt_util.now().date():
            return f"{local:%H:%M}"
        return f"{local:%Y-%m-%d %H:%M}"


_TEXTS: HassKey[dict[str, Texts]] = HassKey(f"{DOMAIN}_assistant_texts")


async def async_texts(hass: HomeAssistant, language: str | None) -> Texts:
    base = (language or "en").split("-")[0].split("_")[0].lower() or "en"
    cache = hass.data.setdefault(_TEXTS, {})
    if base in cache:
        return cache[base]
    flat = dict(await translation.async_get_translations(hass, "en", "assistant", [DOMAIN]))
    if base != "en":
        flat.update(await translation.async_get_translations(hass, base, "assistant", [DOMAIN]))

    def section(name: str) -> dict[str, str]:
        prefix = f"component.{DOMAIN}.assistant.{name}."
        return {key[len(prefix) :]: value for key, value in flat.items() if key.startswith(prefix)}

    vocab = Vocabulary(section("vocab"), section("subjects"))
    english = vocab if base == "en" else (await async_texts(hass, "en")).vocab
    texts = Texts(base, section("answers"), vocab, english)
    cache[base] = texts
    return texts


# --- how fresh the add-on's data is -----------------------------------------------------------


@callback
def async_watch_link(hass: HomeAssistant, link: AddonCoordinator) -> Callable[[], None]:
    """Remember when the add-on last answered, to say how old its data is once it stops."""
    seen = hass.data.setdefault(_LINK_SEEN, {})
    entry_id = link.config_entry.entry_id

    @callback
    def on_update() -> None:
        if link.last_update_success:
            seen[entry_id] = dt_util.utcnow()

    on_update()
    return link.async_add_listener(on_update)


def addon_freshness(hass: HomeAssistant, link: AddonCoordinator | None) -> dict[str, Any]:
    """Whether the add-on answers now and when it last did (local time), for tools."""
    if link is None:
        return {"reachable": False}
    seen = hass.data.get(_LINK_SEEN, {}).get(link.config_entry.entry_id)
    out: dict[str, Any] = {"reachable": bool(link.last_update_success)}
    if seen is not None:
        out["last_answer"] = dt_util.as_local(seen).isoformat(timespec="minutes")
    return out


def stale_note(hass: HomeAssistant, link: AddonCoordinator | None, texts: Texts) -> str:
    """The note "as of 14:20, the add-on is not reachable" when it is away; empty when it answers."""
    if link is None or link.last_update_success:
        return ""
    seen = hass.data.get(_LINK_SEEN, {}).get(link.config_entry.entry_id)
    if seen is None:
        return texts.t("addon_never") + " "
    return texts.t("addon_away", time=texts.time(seen)) + " "


# --- the answers --------------------------------------------------------------------------------


def energy_text(texts: Texts, tracker: EnergyToday | None, period: str = "today") -> str:
    meters = [m for m in (tracker.period(period) if tracker else []) if m.used >= 0]
    period_words = texts.t(f"period_{period}")
    if not meters:
        return texts.t("energy_none", period=period_words)
    period_start = min(m.since for m in meters)
    parts = []
    for meter in sorted(meters, key=lambda m: (-m.used, m.name)):
        part = texts.t("energy_meter", name=meter.name, kwh=texts.num(meter.used, 2))
        if period == "today" and (meter.since - dt_util.start_of_local_day()).total_seconds() >= 900:
            part += " " + texts.t("since", time=texts.time(meter.since))
        parts.append(part)
    text = texts.t(
        "energy",
        period=period_words,
        total=texts.num(sum(m.used for m in meters), 2),
        meters="; ".join(parts),
    )
    start = dt_util.start_of_local_day()
    if period != "today" and period_start > dt_util.start_of_local_day(_period_start(start, period)):
        text += " " + texts.t("energy_partial", date=f"{dt_util.as_local(period_start):%Y-%m-%d}")
    return text


def _period_start(today: datetime, period: str) -> date:
    day = today.date()
    return day.replace(day=1) if period == "month" else day - timedelta(days=day.weekday())


def _issued(texts: Texts, raw: Any) -> str:
    """The add-on's issue time ("2026-11-25 00:00 UTC" or ISO) in Home Assistant's time zone."""
    text = str(raw)
    parsed = dt_util.parse_datetime(text.replace(" UTC", "+00:00").replace(" ", "T", 1))
    return texts.time(parsed) if parsed is not None else text


def forecast_text(texts: Texts, link: AddonCoordinator | None) -> str:
    forecast = (link.health.get("forecast") if link else None) or {}
    if not isinstance(forecast.get("tomorrow_kwh"), (int, float)):
        return texts.t("forecast_none")
    band = ""
    if isinstance(forecast.get("p10_kwh"), (int, float)) and isinstance(
        forecast.get("p90_kwh"), (int, float)
    ):
        band = texts.t(
            "forecast_band", low=texts.num(forecast["p10_kwh"]), high=texts.num(forecast["p90_kwh"])
        )
    return texts.t(
        "forecast",
        kwh=texts.num(forecast["tomorrow_kwh"]),
        band=band,
        issued=_issued(texts, forecast.get("issued") or "?"),
    )


def recommendations_text(texts: Texts, link: AddonCoordinator | None, limit: int = 3) -> str:
    if link is None:
        return texts.t("no_addon")
    ranked = link.book.ranked()
    if not ranked:
        return texts.t("recommendations_none")
    currency = link.hass.config.currency
    lines = [
        texts.t(
            "recommendation_line",
            title=r.title,
            kwh=texts.num(r.estimated_savings_kwh_per_day),
            money=texts.num(r.estimated_savings_per_day, 2),
            currency=currency,
            confidence=round(r.confidence * 100),
        )
        for r in ranked[:limit]
    ]
    text = texts.t("recommendations_top", line=lines[0])
    if len(lines) > 1:
        text += texts.t("recommendations_then", lines="; ".join(lines[1:]))
    if len(ranked) > limit:
        text += texts.t("recommendations_more", count=len(ranked) - limit)
    return text


def old_run_note(texts: Texts, link: AddonCoordinator | None) -> str:
    """When the recommendations come from a run long ago, say when (the add-on may answer but not run)."""
    last = ((link.health.get("agents") if link else None) or {}).get("last_run") or {}
    at = last.get("at")
    if not isinstance(at, (int, float)):
        return ""
    made = dt_util.utc_from_timestamp(at)
    if dt_util.utcnow() - made < OLD_RUN:
        return ""
    return texts.t("old_run", time=texts.time(made))


def savings_text(texts: Texts, link: AddonCoordinator | None) -> str:
    verified = (link.health.get("verified_savings") if link else None) or {}
    kwh = verified.get("kwh")
    if not isinstance(kwh, (int, float)) or not verified.get("recommendations"):
        return texts.t("savings_none")
    return texts.t("savings", kwh=texts.num(kwh), count=verified.get("recommendations"))


def devices_text(hass: HomeAssistant, texts: Texts, link: AddonCoordinator | None) -> str:
    devices = [
        e
        for e in hass.config_entries.async_loaded_entries(DOMAIN)
        if not isinstance(getattr(e, "runtime_data", None), AddonCoordinator)
    ]
    if not devices:
        return texts.t("devices_none")
    down = sorted(e.title for e in devices if not e.runtime_data.last_update_success)
    if down:
        return texts.t("devices_down", count=len(devices), names=", ".join(down))
    return texts.t("devices", count=len(devices))


@dataclass
class AutopilotSwitch:
    entity_id: str
    name: str
    on: bool
    plan_key: str = ""  # battery, car, appliance:<id>, zone:<id>: what kind of device it drives
    executor_state: str = ""  # following, paused, failsafe, dry_run, error, idle (the switch's attributes)
    paused_until: datetime | None = None


def autopilot_switches(hass: HomeAssistant) -> list[AutopilotSwitch]:
    """EAIO's autopilot switches, one per controllable."""
    out = []
    for entry in er.async_get(hass).entities.values():
        if entry.platform != DOMAIN or entry.domain != "switch" or entry.disabled:
            continue
        if "autopilot" not in f"{entry.unique_id} {entry.translation_key or ''} {entry.entity_id}".lower():
            continue
        state = hass.states.get(entry.entity_id)
        name = state.name if state is not None else (entry.name or entry.original_name or entry.entity_id)
        attributes = state.attributes if state is not None else {}
        paused = attributes.get("paused_until")
        out.append(
            AutopilotSwitch(
                entry.entity_id,
                name,
                state is not None and state.state == STATE_ON,
                str(attributes.get("plan_key") or ""),
                str(attributes.get("state") or ""),
                dt_util.parse_datetime(str(paused)) if paused else None,
            )
        )
    return sorted(out, key=lambda s: s.name)


def autopilot_status_text(texts: Texts, switches: list[AutopilotSwitch]) -> str:
    if not switches:
        return texts.t("autopilot_none")
    on = ", ".join(_with_state(texts, s) for s in switches if s.on) or texts.t("nobody")
    off = ", ".join(_with_state(texts, s) for s in switches if not s.on) or texts.t("nobody")
    return texts.t("autopilot_status", on=on, off=off)


def _with_state(texts: Texts, switch: AutopilotSwitch) -> str:
    """A switch's name, with what its executor is doing when that is not simply following or idle."""
    state = switch.executor_state
    if state == "paused" and switch.paused_until is not None:
        return f"{switch.name} ({texts.t('executor_paused_until', time=texts.time(switch.paused_until))})"
    if state in ("paused", "failsafe", "dry_run", "error"):
        return f"{switch.name} ({texts.t(f'executor_{state}')})"
    return switch.name


_IGNORED_WORDS = {"autopilot", "the", "for", "der", "die", "das", "für", "den"}


def _named(texts: Texts, intent: Intent, switches: list[AutopilotSwitch]) -> list[AutopilotSwitch]:
    """The switches the question names, by the kind of device or by a word of their name."""
    if intent.subject is not None:
        kinds = (texts.vocab.subjects[intent.subject], texts.english.subjects[intent.subject])
        by_kind = [
            s
            for s in switches
            if any(
                k.search(text)
                for k in kinds
                for text in (s.name, s.entity_id.replace("_", " "), re.sub(r"[:_]", " ", s.plan_key))
            )
        ]
        if by_kind:
            return by_kind
    asked = {w for w in intent.words if len(w) >= 3 and w not in _IGNORED_WORDS}
    return [s for s in switches if asked & set(re.findall(r"\w+", s.name.lower())) - _IGNORED_WORDS]


def why_text(texts: Texts, link: AddonCoordinator | None, conv: Conversation) -> str:
    about = conv.last_intent
    if about in (intents.FORECAST,):
        accuracy = (link.health.get("forecast_accuracy") if link else None) or {}
        cv = accuracy.get("cv_rmse_pct")
        extra = texts.t("why_forecast_accuracy", cv=texts.num(cv)) if isinstance(cv, (int, float)) else ""
        return texts.t("why_forecast", accuracy=extra)
    if about == intents.ENERGY:
        return texts.t("why_energy", period=texts.t(f"period_{conv.last_period}"))
    if link is None:
        return texts.t("why_nothing")
    rec = link.book.open.get(conv.last_recommendation or "")
    if rec is None and about in (None, intents.RECOMMENDATIONS, intents.APPLY, intents.WHY):
        ranked = link.book.ranked()
        rec = ranked[0] if ranked else None
    if rec is None:
        return texts.t("why_nothing") if about is None else texts.t("recommendations_none")
    conv.last_recommendation = rec.id
    if rec.reasons:
        return texts.t("why_recommendation", title=rec.title, reasons="; ".join(rec.reasons))
    if rec.description:
        return texts.t("why_recommendation", title=rec.title, reasons=rec.description.rstrip("."))
    return texts.t(
        "why_no_reasons",
        title=rec.title,
        kwh=texts.num(rec.estimated_savings_kwh_per_day),
        method=rec.method or "?",
    )


# --- one turn -----------------------------------------------------------------------------------


async def async_answer(
    hass: HomeAssistant,
    link: AddonCoordinator | None,
    tracker: EnergyToday | None,
    question: str,
    *,
    language: str | None = "en",
    conversation: Conversation | None = None,
    context: Context | None = None,
    conversation_id: str | None = None,
) -> Answer:
    """Answer one turn: recognised questions here, the rest by the add-on's assistant when it answers."""
    texts = await async_texts(hass, language)
    conv = conversation if conversation is not None else Conversation()
    intent = recognize(question, texts.vocab, pending=conv.pending() is not None, last=conv.last_intent)
    if intent.name not in LOCAL_ONLY and link is not None and link.last_update_success:
        reply = await _ask_addon(link, question, conv, conversation_id)
        # The add-on's model answers what it is asked; without its model, what is recognised here is
        # answered here (in the asker's language, from Home Assistant's fresher data).
        if reply is not None and (reply[1] or intent.name is None):
            conv.last_intent = intent.name
            return reply[0]
    if intent.name not in (intents.WHY, intents.YES, intents.NO):
        conv.proposal = None  # a new question lets an unanswered proposal lapse
    text = await _local_text(hass, link, tracker, texts, intent, conv, context)
    if intent.name is not None and intent.name != intents.WHY:
        conv.last_intent = intent.name
    return Answer(text, "local", intent.name or "unknown")


async def _ask_addon(
    link: AddonCoordinator, question: str, conv: Conversation, conversation_id: str | None
) -> tuple[Answer, bool] | None:
    """The add-on's answer, and whether its model made it."""
    history = [{"question": t.question, "answer": t.answer} for t in conv.turns]
    try:
        reply: dict[str, Any] = await link.client.ask(
            question, history=history, conversation_id=conversation_id
        )
    except AddonError as err:
        _LOGGER.debug("Add-on could not answer (%s); answering locally", err)
        return None
    answer = reply.get("answer")
    if "http_status" not in reply and isinstance(answer, str) and answer.strip():
        return Answer(answer.strip(), "addon", reply.get("topic")), reply.get("error") != "llm_unavailable"
    _LOGGER.debug("Add-on gave no answer (%s); answering locally", reply.get("error"))
    return None


async def _local_text(
    hass: HomeAssistant,
    link: AddonCoordinator | None,
    tracker: EnergyToday | None,
    texts: Texts,
    intent: Intent,
    conv: Conversation,
    context: Context | None,
) -> str:
    name = intent.name
    note = stale_note(hass, link, texts)
    if name == intents.YES:
        return await _carry_out(hass, link, texts, conv, context)
    if name == intents.NO:
        conv.proposal = None
        return texts.t("cancelled")
    if name == intents.ENERGY:
        conv.last_period = intent.period
        return energy_text(texts, tracker, intent.period)
    if name == intents.FORECAST:
        return note + forecast_text(texts, link)
    if name == intents.RECOMMENDATIONS:
        ranked = link.book.ranked() if link else []
        conv.last_recommendation = ranked[0].id if ranked else None
        return note + recommendations_text(texts, link) + (old_run_note(texts, link) if ranked else "")
    if name == intents.WHY:
        return note + why_text(texts, link, conv)
    if name == intents.SAVINGS:
        return note + savings_text(texts, link)
    if name == intents.DEVICES:
        return note + devices_text(hass, texts, link)
    if name == intents.AUTOPILOT_STATUS:
        switches = autopilot_switches(hass)
        return autopilot_status_text(texts, _named(texts, intent, switches) or switches)
    if name == intents.AUTOPILOT_SET:
        return _propose_autopilot(hass, texts, intent, conv)
    if name == intents.APPLY:
        return note + _propose_apply(texts, link, conv)
    if name == intents.ACT:
        return _cannot(hass, texts, intent)
    return texts.t("unknown")


def _propose_apply(texts: Texts, link: AddonCoordinator | None, conv: Conversation) -> str:
    if link is None:
        return texts.t("no_addon")
    rec = link.book.open.get(conv.last_recommendation or "")
    if rec is None:
        ranked = link.book.ranked()
        rec = ranked[0] if ranked else None
    if rec is None:
        return texts.t("apply_none")
    conv.last_recommendation = rec.id
    conv.proposal = Proposal("apply", rec.id, rec.title)
    return texts.t("apply_propose", title=rec.title, kwh=texts.num(rec.estimated_savings_kwh_per_day))


def _propose_autopilot(hass: HomeAssistant, texts: Texts, intent: Intent, conv: Conversation) -> str:
    switches = autopilot_switches(hass)
    if not switches:
        return texts.t("autopilot_none")
    named = _named(texts, intent, switches)
    if not named and intent.subject is not None:
        return texts.t("cannot_subject", subject=texts.t(f"subject_{intent.subject}"))
    candidates = named or switches
    if len(candidates) > 1:
        return texts.t("autopilot_which", names=", ".join(s.name for s in candidates))
    switch = candidates[0]
    turn_on = bool(intent.turn_on)
    state = texts.t("state_on" if turn_on else "state_off")
    if switch.on == turn_on:
        return texts.t("autopilot_already", state=state, name=switch.name)
    conv.proposal = Proposal("autopilot", switch.entity_id, switch.name, turn_on=turn_on)
    return texts.t("autopilot_propose", state=state, name=switch.name)


def _cannot(hass: HomeAssistant, texts: Texts, intent: Intent) -> str:
    if intent.subject is None:
        return texts.t("cannot_generic")
    named = _named(texts, intent, autopilot_switches(hass))
    if named:
        return texts.t("can_autopilot", name=named[0].name)
    return texts.t("cannot_subject", subject=texts.t(f"subject_{intent.subject}"))


async def _carry_out(
    hass: HomeAssistant,
    link: AddonCoordinator | None,
    texts: Texts,
    conv: Conversation,
    context: Context | None,
) -> str:
    proposal, conv.proposal = conv.pending(), None
    if proposal is None:
        return texts.t("unknown")
    if proposal.kind == "apply":
        if link is None or proposal.target not in link.book.open:
            return texts.t("apply_gone", title=proposal.label)
        try:
            await link.async_apply(proposal.target, context)
        except HomeAssistantError as err:
            return texts.t("apply_failed", title=proposal.label, error=str(err) or type(err).__name__)
        return texts.t("apply_done", title=proposal.label)
    state = texts.t("state_on" if proposal.turn_on else "state_off")
    try:
        await hass.services.async_call(
            "switch",
            "turn_on" if proposal.turn_on else "turn_off",
            {"entity_id": proposal.target},
            blocking=True,
            context=context,
        )
    except HomeAssistantError as err:
        return texts.t("autopilot_failed", name=proposal.label, error=str(err) or type(err).__name__)
    return texts.t("autopilot_done", state=state, name=proposal.label)

"""What a question asks, from the words of its language: the add-on's copy of the integration's
``intents`` module (the add-on runs apart from Home Assistant), with the same words (``ask_vocab``, copied from
the integration's translation files; a test keeps them equal).

Each vocabulary entry is a list of
words separated by ``|``. A word matches whole words only; ``*`` at its end lets it match the
start of a word ("consum*" matches "consumption"), ``*`` at its start lets it match inside a
word, for languages that build compounds ("*verbrauch*" matches "Stromverbrauchs").
Several words match as a phrase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
import re

from .ask_vocab import VOCAB

# Intents answered from data; the rest act or follow up on the conversation.
ENERGY = "energy"
FORECAST = "forecast"
RECOMMENDATIONS = "recommendations"
WHY = "why"
SAVINGS = "savings"
DEVICES = "devices"
AUTOPILOT_STATUS = "autopilot_status"
AUTOPILOT_SET = "autopilot_set"
APPLY = "apply"
ACT = "act"
YES = "yes"
NO = "no"

PERIODS = ("today", "week", "month")
VOCAB_KEYS = (
    "energy", "today", "week", "month", "forecast", "recommendation", "why", "savings", "devices",
    "autopilot", "act", "on", "off", "apply", "yes", "no", "top", "export",
)  # fmt: skip
SUBJECTS = ("heating", "battery", "car", "appliance", "light")
SHORT_REPLY_WORDS = 6
FOLLOW_UP_WORDS = 4


@dataclass(frozen=True)
class Intent:
    name: str | None
    period: str = "today"
    turn_on: bool | None = None  # autopilot: on, off, or not said
    subject: str | None = None  # a kind of device named in the question ("heating"), if any
    words: tuple[str, ...] = ()  # the question's words, for matching a subject to a controllable


def _stem_pattern(stem: str) -> str:
    words = stem.strip("*").strip().split()
    body = r"\s+".join(re.escape(w) for w in words)
    left = "" if stem.startswith("*") else r"(?<!\w)"
    right = "" if stem.endswith("*") else r"(?!\w)"
    return left + body + right


class Vocabulary:
    """One language's word lists, compiled once."""

    def __init__(self, lists: Mapping[str, str], subjects: Mapping[str, str]) -> None:
        self.patterns = {key: _compile(lists.get(key, "")) for key in VOCAB_KEYS}
        self.subjects = {key: _compile(subjects.get(key, "")) for key in SUBJECTS}

    def has(self, key: str, text: str) -> bool:
        return self.patterns[key].search(text) is not None

    def subject(self, text: str) -> str | None:
        return next((key for key, pattern in self.subjects.items() if pattern.search(text)), None)


def _compile(words: str) -> re.Pattern[str]:
    stems = [s.strip() for s in words.split("|") if s.strip()]
    # A pattern that matches nothing when a language leaves a list empty.
    return re.compile("|".join(_stem_pattern(s) for s in stems) or r"(?!x)x", re.IGNORECASE)


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.lower()))


def recognize(text: str, vocab: Vocabulary, *, pending: bool = False, last: str | None = None) -> Intent:
    """The intent of one utterance; ``pending`` when a proposal waits for a yes or no, ``last`` the
    intent of the previous turn ("and this month?" after a question about energy)."""
    words = _words(text)
    has = vocab.has
    short = len(words) <= SHORT_REPLY_WORDS
    if pending and short and has("no", text):
        return Intent(NO, words=words)
    if pending and short and has("yes", text):
        return Intent(YES, words=words)
    subject = vocab.subject(text)
    if has("autopilot", text):
        # A verb makes it a request; "is autopilot off?" only asks.
        if has("act", text) and has("off", text):
            return Intent(AUTOPILOT_SET, turn_on=False, subject=subject, words=words)
        if has("act", text) and has("on", text):
            return Intent(AUTOPILOT_SET, turn_on=True, subject=subject, words=words)
        return Intent(AUTOPILOT_STATUS, subject=subject, words=words)
    if has("apply", text) and (has("recommendation", text) or (subject is None and has("top", text))):
        return Intent(APPLY, words=words)
    if has("why", text):
        # A follow-up is short or points back ("why that?"); "why is my bill so high?" is a new question.
        if has("recommendation", text) or len(words) <= FOLLOW_UP_WORDS or has("top", text):
            return Intent(WHY, words=words)
        return Intent(None, words=words)
    if has("savings", text):
        return Intent(SAVINGS, words=words)
    period = next((p for p in ("month", "week", "today") if has(p, text)), None)
    energy = has("energy", text)
    if energy and period is not None:
        return Intent(ENERGY, period=period, words=words)
    if has("forecast", text):
        return Intent(FORECAST, words=words)
    if has("recommendation", text) and subject is None:
        return Intent(RECOMMENDATIONS, words=words)
    if has("act", text):
        return Intent(ACT, subject=subject, words=words)
    if has("recommendation", text):
        return Intent(RECOMMENDATIONS, words=words)
    if energy:
        return Intent(ENERGY, words=words)
    if has("devices", text):
        return Intent(DEVICES, words=words)
    if last == ENERGY and period is not None:
        return Intent(ENERGY, period=period, words=words)
    return Intent(None, words=words)


LANGUAGES = ("en", "de")


@cache
def vocabulary(language: str) -> Vocabulary:
    return Vocabulary(VOCAB[language]["vocab"], VOCAB[language]["subjects"])


def recognize_any(text: str, *, pending: bool = False, last: str | None = None) -> tuple[Intent, str]:
    """The intent in the first language whose words recognise it (English when none does)."""
    for language in LANGUAGES:
        intent = recognize(text, vocabulary(language), pending=pending, last=last)
        if intent.name is not None:
            return intent, language
    return recognize(text, vocabulary("en"), pending=pending, last=last), "en"

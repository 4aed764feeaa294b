"""What a conversation remembers between turns: the last answer's subject and a pending proposal.

Keyed by Home Assistant's conversation id. A proposal waits for a yes for a few minutes only:
a "yes" long after the question should not change a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from homeassistant.util import dt as dt_util

PROPOSAL_TTL = timedelta(minutes=5)
CONVERSATION_TTL = timedelta(minutes=30)
MAX_CONVERSATIONS = 200


@dataclass
class Proposal:
    kind: str  # "apply" or "autopilot"
    target: str  # recommendation id or the autopilot switch's entity id
    label: str  # what the person was asked about (title or name)
    turn_on: bool = True
    made_at: datetime = field(default_factory=dt_util.utcnow)


@dataclass
class Turn:
    question: str
    answer: str


@dataclass
class Conversation:
    last_intent: str | None = None
    last_recommendation: str | None = None
    last_period: str = "today"
    proposal: Proposal | None = None
    turns: list[Turn] = field(default_factory=list)
    seen_at: datetime = field(default_factory=dt_util.utcnow)

    def pending(self) -> Proposal | None:
        if self.proposal is not None and dt_util.utcnow() - self.proposal.made_at > PROPOSAL_TTL:
            self.proposal = None
        return self.proposal

    def remember(self, question: str, answer: str, keep: int = 6) -> None:
        self.turns = [*self.turns, Turn(question, answer)][-keep:]
        self.seen_at = dt_util.utcnow()


class ConversationMemory:
    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}

    def get(self, conversation_id: str | None) -> Conversation:
        now = dt_util.utcnow()
        for key in [k for k, c in self._conversations.items() if now - c.seen_at > CONVERSATION_TTL]:
            del self._conversations[key]
        if conversation_id is None:
            return Conversation()
        if conversation_id not in self._conversations and len(self._conversations) >= MAX_CONVERSATIONS:
            oldest = min(self._conversations, key=lambda k: self._conversations[k].seen_at)
            del self._conversations[oldest]
        return self._conversations.setdefault(conversation_id, Conversation())

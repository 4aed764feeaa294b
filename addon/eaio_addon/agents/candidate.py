"""A proposed recommendation before the strategy ranks and words it; every number is the engine's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Candidate:
    category: str  # hvac | lighting | load
    key: str  # stable part of the id: the same proposal on another run has the same key
    title: str
    action: dict[str, Any]
    kwh_per_day: float
    money_per_day: float
    confidence: float
    method: str
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, float | str] = field(default_factory=dict)  # what an explanation may cite
    target_entity: str | None = None
    proposed_value: float | str | None = None
    valid_until: datetime | None = None

    @property
    def score(self) -> float:
        """The integration's ranking: money per day discounted by confidence."""
        return self.money_per_day * self.confidence

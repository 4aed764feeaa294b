"""What the local LLM hands back to its callers: plain frozen records, no client types leak out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StructuredReply:
    """A schema-checked reply; ``data`` is None when the caller must use its template instead."""

    data: dict[str, Any] | None
    model: str | None
    attempts: int
    error: str | None


@dataclass(frozen=True)
class ToolAnswer:
    """The final text of a tool-calling conversation and every tool call the model asked for.

    Each entry of ``tool_calls`` is ``{"name", "arguments", "ok", "error", "repairs"}`` (what the bridge
    repaired in the call: a tool name, an argument's name or type, a call written as text).
    """

    text: str
    model: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    rounds: int = 0

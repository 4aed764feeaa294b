"""The LLM's tools are MCP tools: listed from an MCP client session, checked, then called through it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
import logging
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from mcp import ClientSession
from mcp_types import CallToolResult, PaginatedRequestParams, TextContent

from .tool_format import to_ollama_tool
from .tool_repair import repair_arguments, repair_name

_LOGGER = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call gave: its text content, or why it was refused or failed; what was repaired."""

    ok: bool
    content: str
    error: str | None
    repairs: tuple[str, ...] = ()
    name: str | None = None  # the tool called, after repair


@dataclass(frozen=True)
class _BridgedTool:
    name: str
    ollama: dict[str, Any]
    validator: Validator
    schema: dict[str, Any]


def _validator_for(schema: dict[str, Any]) -> Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _first_error(validator: Validator, instance: Any) -> str | None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    error = errors[0]
    where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
    return f"{where}: {error.message}"[:MAX_ERROR_CHARS]


class ToolBridge:
    """MCP tools offered to the model; no call reaches the session unless its arguments fit the schema."""

    def __init__(self, session: ClientSession, tools: list[_BridgedTool], *, repair: bool = True) -> None:
        self._session = session
        self._tools = {tool.name: tool for tool in tools}
        self.repair = repair  # off only to measure what the repairs are worth

    @classmethod
    async def from_session(cls, session: ClientSession, *, allow: Collection[str] | None = None,
                           repair: bool = True) -> ToolBridge:
        """List the session's tools (all pages); ``allow`` limits them to the named ones."""
        bridged: list[_BridgedTool] = []
        cursor: str | None = None
        while True:
            if cursor is None:
                listing = await session.list_tools()
            else:
                listing = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            for tool in listing.tools:
                if allow is not None and tool.name not in allow:
                    continue
                try:
                    validator = _validator_for(tool.input_schema)
                except jsonschema.SchemaError as err:
                    # A tool whose schema cannot be checked is not offered: its calls could not be validated.
                    _LOGGER.warning("MCP tool %s skipped: its input schema is invalid: %s", tool.name, err.message)
                    continue
                bridged.append(_BridgedTool(tool.name, to_ollama_tool(tool.name, tool.description, tool.input_schema),
                                            validator, dict(tool.input_schema)))
            cursor = listing.next_cursor
            if not cursor:
                break
        return cls(session, bridged, repair=repair)

    @property
    def names(self) -> list[str]:
        """The tools offered, in listing order."""
        return list(self._tools)

    def ollama_tools(self) -> list[dict[str, Any]]:
        """The ``tools`` argument of Ollama's chat request."""
        return [tool.ollama for tool in self._tools.values()]

    async def call(self, name: str, arguments: Any) -> ToolOutcome:
        """Repair what is unambiguous, validate, then run one tool; refusals and failures come back as text
        the model can act on."""
        repairs: list[str] = []
        if self.repair:
            name, note = repair_name(name, self.names)
            repairs += [note] if note else []
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return ToolOutcome(False, "", f"unknown tool {name!r}; the tools are: {known}", tuple(repairs))
        if self.repair:
            arguments, notes = repair_arguments(arguments, tool.schema)
            repairs += notes
        outcome = await self._run(tool, arguments)
        return ToolOutcome(outcome.ok, outcome.content, outcome.error, tuple(repairs), tool.name)

    async def _run(self, tool: _BridgedTool, arguments: Any) -> ToolOutcome:
        name = tool.name
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return ToolOutcome(False, "", f"arguments of {name} must be a JSON object, got {type(arguments).__name__}")
        problem = _first_error(tool.validator, arguments)
        if problem is not None:
            return ToolOutcome(False, "", f"arguments of {name} refused: {problem}")
        try:
            result = await self._session.call_tool(name, arguments)
        except Exception as err:  # any transport or protocol failure is reported to the model
            _LOGGER.warning("MCP tool %s failed: %s", name, err)
            return ToolOutcome(False, "", f"tool {name} failed: {err}"[:MAX_ERROR_CHARS])
        if not isinstance(result, CallToolResult):
            return ToolOutcome(False, "", f"tool {name} returned no result")
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        if result.is_error:
            return ToolOutcome(False, text, f"tool {name} reported an error: {text}"[:MAX_ERROR_CHARS])
        return ToolOutcome(True, text, None)

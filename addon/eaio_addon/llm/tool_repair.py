"""Repairs for the tool calls small local models get wrong, before the schema check.

Measured on the small models the bridge is written for (see benchmarks/README.md): they name a
tool a little differently ("get_forecast", "functions.energy_forecast"), spell an argument
differently ("hour" for "hours", "id" for "recommendation_id"), send numbers as strings, wrap the
arguments once more, or write the call as JSON in their text instead of as a tool call. Each
repair here is unambiguous or it is not made: a name that could be two tools, or an argument that
could be two parameters, stays as it was and the schema check refuses it with a message the
model can act on. Values are never changed beyond their type (a bound is the schema's to refuse).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import difflib
import json
import re
from typing import Any

# Words that say nothing about which tool is meant.
_FILLER = {"get", "list", "show", "read", "fetch", "the", "my", "current", "tool", "info", "data", "all", "of",
           "for", "now", "eaio", "query", "lookup", "retrieve"}
_PREFIXES = ("functions.", "function.", "tools.", "tool.", "mcp.", "eaio.", "eaio_")
_WRAPPERS = ("arguments", "parameters", "params", "args", "input", "kwargs")
_NAME_KEYS = ("name", "tool", "function", "tool_name")
_ARG_KEYS = ("arguments", "parameters", "args", "params", "input")


def _tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", name.lower()) if t and t not in _FILLER}


def _stem(token: str) -> str:
    return token[:-1] if token.endswith("s") and len(token) > 3 else token


def repair_name(name: str, known: Sequence[str]) -> tuple[str, str | None]:
    """The known tool the model meant, and a note when it was not the name given."""
    if name in known:
        return name, None
    cleaned = name.strip().strip("\"'`").lower()
    for prefix in _PREFIXES:
        if cleaned.startswith(prefix) and cleaned[len(prefix):]:
            cleaned = cleaned[len(prefix):]
    cleaned = re.sub(r"[^a-z0-9]+", "_", cleaned).strip("_")
    by_lower = {k.lower(): k for k in known}
    if cleaned in by_lower:
        return by_lower[cleaned], f"tool name {name!r} read as {by_lower[cleaned]!r}"
    wanted = {_stem(t) for t in _tokens(cleaned)}
    if not wanted:
        return name, None
    scored = []
    for candidate in known:
        have = {_stem(t) for t in _tokens(candidate)}
        if wanted <= have or have <= wanted:
            scored.append((len(wanted & have) / len(wanted | have), candidate))
    scored.sort(reverse=True)
    if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1], f"tool name {name!r} read as {scored[0][1]!r}"
    return name, None


def _parameter_for(key: str, properties: Mapping[str, Any], taken: set[str]) -> str | None:
    free = [p for p in properties if p not in taken]
    norm = re.sub(r"[^a-z0-9]", "", key.lower())
    exact = [p for p in free if re.sub(r"[^a-z0-9]", "", p.lower()) == norm]
    if len(exact) == 1:
        return exact[0]
    plural = [p for p in free if _stem(re.sub(r"[^a-z0-9]", "", p.lower())) == _stem(norm)]
    if len(plural) == 1:
        return plural[0]
    # "id" for "recommendation_id", "entity" for "entity_id": one parameter holds the word.
    holding = [p for p in free if norm and norm in {re.sub(r"[^a-z0-9]", "", t) for t in p.lower().split("_")}]
    if len(holding) == 1:
        return holding[0]
    close = difflib.get_close_matches(key.lower(), free, n=2, cutoff=0.75)
    if len(close) == 1:
        return close[0]
    return None


def _coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind is None:
        kinds = [v.get("type") for v in schema.get("anyOf") or [] if isinstance(v, dict)]
        kind = next((k for k in kinds if k != "null"), None)
    if isinstance(value, str):
        text = value.strip()
        if kind == "integer" and re.fullmatch(r"[+-]?\d+(\.0+)?", text):
            return int(float(text))
        if kind == "number" and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return float(text)
        if kind == "boolean" and text.lower() in ("true", "false", "yes", "no"):
            return text.lower() in ("true", "yes")
        if kind == "array" and text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return value
            return parsed if isinstance(parsed, list) else value
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "array" and not isinstance(value, list) and value is not None:
        return [value]
    return value


def repair_arguments(arguments: Any, schema: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """Arguments the schema can take, and a note per repair; anything unclear is left for the check."""
    notes: list[str] = []
    if isinstance(arguments, str):
        text = _strip_fences(arguments)
        try:
            arguments = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return arguments, notes
        notes.append("arguments given as a JSON string")
    if arguments is None:
        return {}, notes
    if not isinstance(arguments, dict):
        return arguments, notes
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if len(arguments) == 1 and (key := next(iter(arguments))) in _WRAPPERS and key not in properties \
            and isinstance(arguments[key], dict):
        arguments = arguments[key]
        notes.append(f"arguments unwrapped from {key!r}")
    out: dict[str, Any] = {}
    taken = {k for k in arguments if k in properties}
    for key, value in arguments.items():
        target = key
        if key not in properties:
            found = _parameter_for(key, properties, taken)
            if found is not None:
                target = found
                taken.add(target)
                notes.append(f"argument {key!r} read as {target!r}")
            elif properties or schema.get("additionalProperties") is False:
                notes.append(f"unknown argument {key!r} left out")
                continue
        fixed = _coerce(value, properties.get(target) or {})
        if fixed is not value and fixed != value:
            notes.append(f"argument {target!r} {value!r} read as {fixed!r}")
        out[target] = fixed
    return out, notes


def _strip_fences(text: str) -> str:
    text = text.strip()
    fenced = re.fullmatch(r"```[a-zA-Z]*\s*(.*?)\s*```", text, re.DOTALL)
    return fenced.group(1).strip() if fenced else text


def _json_objects(text: str) -> Iterator[Any]:
    """Every JSON value that starts with a brace or bracket in the text, outermost first."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        match = re.search(r"[\[{]", text[position:])
        if match is None:
            return
        start = position + match.start()
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        yield value
        position = end


def _as_call(value: Any) -> tuple[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # {"function": {"name": ..., "arguments": ...}}
        return _as_call(value["function"])
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name is None:
        return None
    arguments: Any = next((value[k] for k in _ARG_KEYS if k in value), {})
    return name, arguments


def calls_in_text(text: str, known: Sequence[str]) -> list[tuple[str, Any]]:
    """Tool calls a model wrote into its reply instead of making them: JSON objects naming a tool
    ({"name": ..., "arguments": ...}, a tool_calls list) or ``tool_name({...})``; only known tools."""
    calls: list[tuple[str, Any]] = []
    for value in _json_objects(text):
        items = value.get("tool_calls") if isinstance(value, dict) and "tool_calls" in value else value
        for item in items if isinstance(items, list) else [items]:
            call = _as_call(item)
            if call is not None and repair_name(call[0], known)[0] in known:
                calls.append(call)
    if calls:
        return calls
    for name in known:  # energy_forecast({"hours": 24}) or energy_forecast()
        for match in re.finditer(rf"\b{re.escape(name)}\s*\((.*?)\)", text, re.DOTALL):
            inner = match.group(1).strip()
            calls.append((name, inner if inner else {}))
    return calls

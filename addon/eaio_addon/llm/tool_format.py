"""MCP tool input schemas (full JSON Schema) to Ollama's tool format.

Ollama's tool parameters keep, per property, only type, items, description and enum; richer
constraints (bounds, patterns, unions) would be dropped silently on the way. They are folded
into the property's description so the model still reads them, and the full schema stays the
one every call is validated against before it runs.
"""

from __future__ import annotations

from typing import Any

_FOLDED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
           "pattern", "format", "minItems", "maxItems", "default")


def _union_types(prop: dict[str, Any]) -> list[str] | None:
    """The types of an anyOf/oneOf of simple types (e.g. an optional string), else None."""
    variants = prop.get("anyOf") or prop.get("oneOf")
    if not isinstance(variants, list):
        return None
    types = [v.get("type") for v in variants if isinstance(v, dict)]
    if types and all(isinstance(t, str) for t in types):
        return [str(t) for t in types]
    return None


def convert_property(prop: dict[str, Any]) -> dict[str, Any]:
    """One property in Ollama's shape, with what it cannot carry folded into the description."""
    out: dict[str, Any] = {}
    kind = prop.get("type") or _union_types(prop)
    if kind is None and "enum" in prop:
        kind = "string"
    if kind is not None:
        out["type"] = kind
    if "items" in prop:
        out["items"] = prop["items"]
    if "enum" in prop:
        out["enum"] = list(prop["enum"])
    notes = [f"{key} {prop[key]!r}" for key in _FOLDED if key in prop]
    if prop.get("type") == "object" and isinstance(prop.get("properties"), dict):
        notes.append("fields " + ", ".join(sorted(prop["properties"])))
    description = str(prop.get("description") or prop.get("title") or "").strip()
    if notes:
        description = f"{description} ({'; '.join(notes)})".strip()
    if description:
        out["description"] = description
    return out


def to_ollama_tool(name: str, description: str | None, input_schema: dict[str, Any]) -> dict[str, Any]:
    """An MCP tool as an entry of the ``tools`` list of Ollama's chat request."""
    properties = input_schema.get("properties") or {}
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {key: convert_property(value) for key, value in properties.items() if isinstance(value, dict)},
        "required": list(input_schema.get("required") or []),
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description or name, "parameters": parameters},
    }

"""The LLM layer's small parts: the memory probe on real files, MCP schemas to Ollama's tool format."""

from __future__ import annotations

from pathlib import Path

from eaio_addon.llm import memory_used_pct, to_ollama_tool
from eaio_addon.llm.memory_probe import cgroup_used_pct, meminfo_used_pct
from ollama import Tool


def test_cgroup_v2_limit(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("1000\n")
    (tmp_path / "memory.current").write_text("850\n")
    assert cgroup_used_pct(tmp_path, tmp_path / "v1") == 85.0


def test_cgroup_v2_without_limit_falls_to_v1_then_none(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.current").write_text("850\n")
    v1 = tmp_path / "v1"
    v1.mkdir()
    assert cgroup_used_pct(tmp_path, v1) is None
    (v1 / "memory.limit_in_bytes").write_text("2000\n")
    (v1 / "memory.usage_in_bytes").write_text("500\n")
    assert cgroup_used_pct(tmp_path, v1) == 25.0
    (v1 / "memory.limit_in_bytes").write_text(str(9223372036854771712))
    assert cgroup_used_pct(tmp_path, v1) is None


def test_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  1000 kB\nMemAvailable:    4000000 kB\n")
    assert meminfo_used_pct(meminfo) == 75.0
    meminfo.write_text("garbage\n")
    assert meminfo_used_pct(meminfo) is None
    assert meminfo_used_pct(tmp_path / "absent") is None


def test_memory_used_pct_on_this_machine() -> None:
    assert 0.0 < memory_used_pct() < 100.0


def test_optional_enum_and_nested_fields_convert() -> None:
    schema = {
        "type": "object",
        "properties": {
            "category": {"enum": ["hvac", "lighting"], "description": "kind"},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "Limit"},
            "window": {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}},
            "zones": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        },
        "required": ["category"],
    }
    tool = to_ollama_tool("list_recommendations", "Open recommendations", schema)
    props = tool["function"]["parameters"]["properties"]
    assert props["category"] == {"type": "string", "enum": ["hvac", "lighting"], "description": "kind"}
    assert props["limit"]["type"] == ["integer", "null"]
    assert props["limit"]["description"] == "Limit (default None)"
    assert props["window"] == {"type": "object", "description": "(fields end, start)"}
    assert props["zones"]["items"] == {"type": "string"} and "maxItems 5" in props["zones"]["description"]
    assert tool["function"]["parameters"]["required"] == ["category"]
    # The official client accepts it unchanged (its model would reject an unknown shape).
    parsed = Tool.model_validate(tool)
    assert parsed.function is not None and parsed.function.name == "list_recommendations"


def test_tool_without_properties() -> None:
    tool = to_ollama_tool("building_status", None, {"type": "object"})
    assert tool == {"type": "function", "function": {"name": "building_status", "description": "building_status",
                                                     "parameters": {"type": "object", "properties": {},
                                                                    "required": []}}}

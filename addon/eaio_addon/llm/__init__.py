"""The add-on's local LLM layer: Ollama through its official client, with MCP tools."""

from .local_llm import LocalLlm
from .memory_probe import memory_used_pct
from .replies import StructuredReply, ToolAnswer
from .tool_bridge import ToolBridge, ToolOutcome
from .tool_format import to_ollama_tool

__all__ = [
    "LocalLlm",
    "StructuredReply",
    "ToolAnswer",
    "ToolBridge",
    "ToolOutcome",
    "memory_used_pct",
    "to_ollama_tool",
]

"""The engine imports nothing from the agents, the LLM, Home Assistant or the network."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "eaio_addon" / "engine"
FORBIDDEN = ("homeassistant", "ollama", "mcp", "aiohttp", "requests", "httpx", "urllib", "socket",
             "eaio_addon.agents", "eaio_addon.llm")  # fmt: skip


def test_engine_imports_stay_inside_the_boundary() -> None:
    files = list(ENGINE.rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"

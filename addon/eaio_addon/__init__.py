"""EAIO add-on: engine, agents, local LLM and MCP servers."""

__version__ = "0.1.0"  # the same in config.yaml and pyproject.toml (a test checks)

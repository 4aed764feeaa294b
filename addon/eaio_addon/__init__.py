"""EAIO add-on: engine, agents, local LLM and MCP servers."""

__version__ = "0.2.0"  # the same in config.yaml and pyproject.toml (a test checks)

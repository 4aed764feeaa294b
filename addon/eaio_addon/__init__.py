"""EAIO add-on: engine, agents, local LLM and MCP servers."""

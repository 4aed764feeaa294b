"""MQTT topic filters: the one rule for wildcards, used by the options and by the mqtt tools."""

from __future__ import annotations


def topic_filter_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not an MQTT topic filter, or None when it is one."""
    if not pattern:
        return "an empty topic"
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or index != len(levels) - 1)):
            return "'+' must be a whole level and '#' the whole last level"
    return None

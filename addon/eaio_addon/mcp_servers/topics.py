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


def filter_covers(allowed: str, requested: str) -> bool:
    """Whether every topic ``requested`` (a filter) can match is matched by ``allowed`` (a filter too).

    Topics starting with ``$`` (the broker's ``$SYS``) are not matched by a leading wildcard, as in
    MQTT itself: they need an entry that names them. A requested ``#`` needs an allowed ``#`` at
    the same level; ``+`` is covered by ``+`` or ``#``.
    """
    have, want = allowed.split("/"), requested.split("/")
    if want[0].startswith("$") and have[0] != want[0]:
        return False
    for index, level in enumerate(have):
        if level == "#":
            return True
        if index >= len(want):
            return False
        if want[index] == "#":
            return False
        if level != "+" and level != want[index]:
            return False
    return len(want) == len(have)

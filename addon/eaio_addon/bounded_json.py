"""JSON (and YAML) from outside, bounded: size and nesting are checked before the parser sees the text.

Python's parsers recurse once per level of nesting: a 100,000-deep array raises RecursionError (a
500 from the API, a traceback for an options file) instead of a clear refusal. The depth is
counted here without recursing, so hostile input gets an error that names the problem, and a log
line carries only a short excerpt of it.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # every body and options file EAIO knows nests fewer than 8 levels
EXCERPT_CHARS = 80

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class InputTooLarge(ValueError):
    """Refused before parsing: too long or nested too deep (the message says which and the limit)."""


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of ``text`` on one line, for a log or an error: never the whole payload."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    flat = " ".join(text[: limit * 2].split())
    return flat if len(flat) <= limit and len(text) <= limit else flat[:limit] + f"… ({len(text)} chars)"


def nesting_depth(text: str, *, stop_above: int | None = None) -> int:
    """How deep brackets nest in ``text`` outside quoted strings (JSON's, and YAML's flow style)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth = max(0, depth - 1)
    return deepest


def check_bounds(text: str, *, max_chars: int | None = None, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``InputTooLarge`` when ``text`` is longer than ``max_chars`` or nests deeper than ``max_depth``."""
    if max_chars is not None and len(text) > max_chars:
        raise InputTooLarge(f"{len(text)} characters, more than the {max_chars} allowed")
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise InputTooLarge(f"nested more than {max_depth} levels deep")


def loads(text: str | bytes, *, max_chars: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses oversized or too deeply nested input with ``InputTooLarge`` (a ValueError)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError too
    check_bounds(text, max_chars=max_chars, max_depth=max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # cannot pass the depth check; kept so no input can ever escape as one
        raise InputTooLarge(f"nested more than {max_depth} levels deep") from None

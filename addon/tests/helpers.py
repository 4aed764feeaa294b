"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import inspect
import time


async def wait_until(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = "") -> float:
    """Poll ``check`` until it holds; returns the seconds it took, fails the test after ``within`` seconds."""
    started = time.monotonic()
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what or check}")
        await asyncio.sleep(0.01)

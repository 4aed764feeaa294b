"""Fixtures many add-on tests share: the stand-in Home Assistant and the add-on's link to it.

A module that needs Home Assistant with states or services of its own defines its own ``ha``; the
``link`` here then connects to that one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from eaio_addon.ha_link import HaLink, websocket_url
import pytest

from tests.fake_ha import FakeHomeAssistant


@pytest.fixture
async def ha() -> AsyncIterator[FakeHomeAssistant]:
    fake = FakeHomeAssistant()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def link(ha: FakeHomeAssistant) -> AsyncIterator[HaLink]:
    """The add-on's websocket link to ``ha``, connected."""
    async with aiohttp.ClientSession() as session:
        link = HaLink(session, websocket_url(f"http://127.0.0.1:{ha.port}"), "good-token")
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.wait_connected(), 10)
        yield link
        await link.stop()
        await asyncio.wait_for(task, 10)

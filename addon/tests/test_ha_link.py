"""The websocket link against a local server that speaks Home Assistant's protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import time
from typing import Any

import aiohttp
from eaio_addon.ha_link import HaError, HaLink, LinkDown, LinkState, websocket_url
import pytest

from tests.fake_ha import FakeHomeAssistant, ServiceError
from tests.helpers import wait_until


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _running(link: HaLink) -> asyncio.Task[None]:
    task = asyncio.create_task(link.run())
    await asyncio.wait_for(link.wait_connected(), 10)
    return task


async def _stop(link: HaLink, task: asyncio.Task[None]) -> None:
    await link.stop()
    await asyncio.wait_for(task, 10)


def test_websocket_url() -> None:
    assert websocket_url("http://h:8123") == "ws://h:8123/api/websocket"
    assert websocket_url("https://h/") == "wss://h/api/websocket"
    assert websocket_url("ws://supervisor/core/websocket") == "ws://supervisor/core/websocket"


async def test_auth_commands_and_services(ha: FakeHomeAssistant, session: aiohttp.ClientSession) -> None:
    ha.states["sensor.a"] = {"entity_id": "sensor.a", "state": "1", "attributes": {}}
    ha.services[("eaio", "submit_recommendations")] = lambda data: {"accepted": [r["id"] for r in data["recommendations"]],
                                                                    "refused": []}

    def refuse(data: dict[str, Any]) -> None:
        raise ServiceError("service_validation_error", "Validation error: point unknown")

    ha.services[("eaio", "write_point")] = refuse
    link = HaLink(session, websocket_url(f"http://127.0.0.1:{ha.port}"), "good-token")
    task = await _running(link)
    assert link.state is LinkState.CONNECTED and link.ha_version == "2025.4.4"
    assert [s["entity_id"] for s in await link.call({"type": "get_states"})] == ["sensor.a"]
    response = await link.call_service("eaio", "submit_recommendations", {"recommendations": [{"id": "r1"}]},
                                       return_response=True)
    assert response == {"accepted": ["r1"], "refused": []}
    with pytest.raises(HaError) as info:
        await link.call_service("eaio", "write_point", {})
    assert info.value.code == "service_validation_error"
    with pytest.raises(HaError, match="not_found"):
        await link.call_service("eaio", "nothing")
    await _stop(link, task)
    assert link.state is LinkState.STOPPED
    with pytest.raises(LinkDown):
        await link.call({"type": "get_states"})


async def test_a_refused_token_stops_the_link(ha: FakeHomeAssistant, session: aiohttp.ClientSession) -> None:
    link = HaLink(session, websocket_url(f"http://127.0.0.1:{ha.port}"), "wrong", backoff_initial=0.01)
    await asyncio.wait_for(link.run(), 10)  # returns instead of retrying
    assert link.state is LinkState.AUTH_FAILED
    assert "Invalid access token" in (link.auth_error or "")
    await asyncio.sleep(0.2)
    assert ha.auth_failures == 1


async def test_events_reconnect_and_resubscribe(ha: FakeHomeAssistant, session: aiohttp.ClientSession) -> None:
    events: list[str] = []
    link = HaLink(session, websocket_url(f"http://127.0.0.1:{ha.port}"), "good-token", backoff_initial=0.05)
    link.subscribe("state_changed", lambda e: events.append(e["data"]["new_state"]["state"]))
    connects: list[float] = []

    async def on_connect() -> None:
        connects.append(time.monotonic())

    link.on_connect(on_connect)
    task = await _running(link)
    await wait_until(ha.subscribed.is_set)
    ha.set_state("sensor.a", "1", time.time())
    await wait_until(lambda: events == ["1"])

    await ha.drop_connections()  # Home Assistant restarts
    await wait_until(lambda: link.connects == 2 and ha.subscribed.is_set(), what="reconnected and resubscribed")
    ha.set_state("sensor.a", "2", time.time())
    await wait_until(lambda: events == ["1", "2"])
    assert len(connects) == 2
    assert sum(1 for m in ha.received if m["type"] == "subscribe_events") == 2
    await _stop(link, task)


async def test_back_off_while_home_assistant_is_away(session: aiohttp.ClientSession) -> None:
    ha = FakeHomeAssistant()
    await ha.start()
    port = ha.port
    await ha.stop()
    link = HaLink(session, websocket_url(f"http://127.0.0.1:{port}"), "good-token",
                  backoff_initial=0.05, backoff_cap=0.2)
    task = asyncio.create_task(link.run())
    await asyncio.sleep(0.6)
    assert link.state is LinkState.CONNECTING
    assert link.last_error is not None
    with pytest.raises(LinkDown):
        await link.call({"type": "get_states"})
    ha = FakeHomeAssistant()
    await ha.start(port)  # back on the same address
    await asyncio.wait_for(link.wait_connected(), 5)  # within the capped back-off
    await _stop(link, task)
    await ha.stop()


async def test_a_call_in_flight_when_the_link_drops(ha: FakeHomeAssistant, session: aiohttp.ClientSession) -> None:
    started = asyncio.Event()
    link = HaLink(session, websocket_url(f"http://127.0.0.1:{ha.port}"), "good-token", backoff_initial=0.05)
    task = await _running(link)
    original = ha._handle

    async def hang(ws: Any, subs: Any, msg: dict[str, Any]) -> None:
        if msg["type"] == "call_service":
            started.set()
            return  # no answer
        await original(ws, subs, msg)

    ha._handle = hang  # type: ignore[method-assign]
    call = asyncio.create_task(link.call_service("eaio", "x"))
    await asyncio.wait_for(started.wait(), 5)
    await ha.drop_connections()
    with pytest.raises(LinkDown):
        await asyncio.wait_for(call, 5)
    ha._handle = original  # type: ignore[method-assign]
    await _stop(link, task)

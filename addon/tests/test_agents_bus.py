"""The agent bus and the agent lifecycle."""

from __future__ import annotations

import asyncio
import logging

from eaio_addon.agents.base import Agent
from eaio_addon.agents.bus import Event, EventBus
import pytest


async def test_handlers_of_one_event_run_concurrently() -> None:
    bus = EventBus()
    first_started = asyncio.Event()
    order: list[str] = []

    async def waits_for_the_other(event: Event) -> None:
        # Finishes only if the second handler runs while this one waits: they run at once.
        await asyncio.wait_for(first_started.wait(), 5)
        order.append("first")

    async def signals(event: Event) -> None:
        order.append(f"second:{event.data['n']}")
        first_started.set()

    bus.subscribe("tick", waits_for_the_other)
    bus.subscribe("tick", signals)
    delivery = await bus.publish(Event("tick", {"n": 7}))
    assert delivery.handled == 2 and delivery.errors == ()
    assert order == ["second:7", "first"]


async def test_a_failing_handler_is_logged_and_the_others_finish(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    got: list[int] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("sensor table missing")

    async def slow_ok(event: Event) -> None:
        await asyncio.sleep(0.01)
        got.append(event.data["n"])

    bus.subscribe("tick", broken)
    bus.subscribe("tick", slow_ok)
    with caplog.at_level(logging.ERROR):
        delivery = await bus.publish(Event("tick", {"n": 1}))
        second = await bus.publish(Event("tick", {"n": 2}))
    assert got == [1, 2]
    assert delivery.handled == 2 and len(delivery.errors) == 1
    assert "RuntimeError: sensor table missing" in delivery.errors[0] and "broken" in delivery.errors[0]
    assert bus.failures == 2 and len(second.errors) == 1
    assert "Handler" in caplog.text and "tick" in caplog.text


async def test_events_reach_only_their_type_and_unsubscribe_works() -> None:
    bus = EventBus()
    got: list[str] = []

    async def handler(event: Event) -> None:
        got.append(event.type)

    unsubscribe = bus.subscribe("anomaly", handler)
    assert (await bus.publish(Event("other"))).handled == 0
    await bus.publish(Event("anomaly"))
    unsubscribe()
    await bus.publish(Event("anomaly"))
    assert got == ["anomaly"]


class Listener(Agent):
    name = "listener"

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus)
        self.seen: list[dict[str, object]] = []

    def subscriptions(self) -> dict[str, object]:
        return {"ping": self.on_ping}

    async def on_ping(self, event: Event) -> None:
        self.seen.append(event.data)


async def test_agent_lifecycle_subscribes_on_start_and_leaves_on_stop() -> None:
    bus = EventBus()
    agent = Listener(bus)
    assert agent.health().running is False
    await bus.publish(Event("ping", {"n": 0}))
    await agent.start()
    await agent.start()  # twice: still one subscription
    await agent.emit("ping", n=1)
    health = agent.health()
    assert health.running is True and agent.seen == [{"n": 1}]
    await agent.stop()
    await bus.publish(Event("ping", {"n": 2}))
    assert agent.seen == [{"n": 1}] and agent.health().running is False
    agent.record(0.0, ValueError("bad input"))
    assert agent.health().failures == 1 and agent.health().last_error == "ValueError: bad input"

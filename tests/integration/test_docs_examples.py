"""The automation examples of docs/INTEGRATION.md load in Home Assistant and do what they say."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import yaml

from custom_components.eaio.const import EVENT_DEVICE_STATUS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "INTEGRATION.md"


def _examples() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(# automation: (\w+)\n.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return {name: {"id": name, **yaml.safe_load(text)} for text, name in blocks}


async def test_every_example_loads(hass: HomeAssistant) -> None:
    examples = _examples()
    assert set(examples) == {"device_status_notification", "apply_confident_lighting", "night_setback"}
    assert await async_setup_component(hass, "automation", {"automation": list(examples.values())})
    await hass.async_block_till_done()
    states = {s.attributes.get("id"): s.state for s in hass.states.async_all("automation")}
    assert states == dict.fromkeys(examples, "on")  # an example that does not validate is unavailable
    # Off again, so the time trigger's timer does not outlive the test.
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)


async def test_the_device_status_example_notifies(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, persistent_notification.DOMAIN, {})
    example = _examples()["device_status_notification"]
    assert await async_setup_component(hass, "automation", {"automation": [example]})
    hass.bus.async_fire(
        EVENT_DEVICE_STATUS,
        {
            "config_entry_id": "e1",
            "device_id": None,
            "name": "Boiler",
            "available": False,
            "reason": "timed out",
        },
    )
    await hass.async_block_till_done()
    notes = persistent_notification._async_get_or_create_notifications(hass)
    assert notes["eaio_e1"]["title"] == "Boiler"
    assert notes["eaio_e1"]["message"] == "does not answer: timed out"

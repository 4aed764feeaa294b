"""Answers about the building: through the add-on's assistant when it is there, else from here.

The local answers use only what Home Assistant already knows (EAIO's meters, the stored
recommendations, the add-on's last forecast) so the common questions work without the
add-on or the LLM. Numbers always come from those sources, never from a model.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .addon_client import AddonError
from .addon_coordinator import AddonCoordinator
from .const import DOMAIN
from .energy_today import EnergyToday

_LOGGER = logging.getLogger(__name__)

_TOPICS: list[tuple[str, re.Pattern[str]]] = [
    ("forecast", re.compile(r"\b(forecast|tomorrow|expect|predict)", re.I)),
    ("recommendations", re.compile(r"\b(save|saving|recommend|suggest|should i|what can i do|tip)", re.I)),
    ("energy_today", re.compile(r"\b(use[ds]?|consum\w*|today)\b.*\b(energy|kwh|electricity|power)|"
                                r"\b(energy|kwh|electricity)\b.*\b(today|used|consum\w*)", re.I)),
    ("status", re.compile(r"\b(status|how is|doing|overview|summary)\b", re.I)),
]  # fmt: skip


@dataclass
class Answer:
    text: str
    source: str  # "addon" or "local"
    topic: str | None = None


def classify(question: str) -> str | None:
    for topic, pattern in _TOPICS:
        if pattern.search(question):
            return topic
    return None


def energy_today_text(tracker: EnergyToday | None) -> str:
    meters = tracker.today() if tracker else []
    if not meters:
        return "I have no energy meter readings from today yet."
    start = dt_util.start_of_local_day()
    parts = []
    for meter in sorted(meters, key=lambda m: -m.used):
        since = (
            ""
            if (meter.first_at - start).total_seconds() < 900
            else f" since {dt_util.as_local(meter.first_at):%H:%M}"
        )
        parts.append(f"{meter.name}: {meter.used:.2f} kWh{since}")
    return "Energy used today — " + "; ".join(parts) + "."


def recommendations_text(link: AddonCoordinator | None, limit: int = 3) -> str:
    if link is None:
        return "I have no recommendations: the EAIO add-on is not set up."
    ranked = link.book.ranked()
    if not ranked:
        return "There are no open recommendations right now."
    currency = link.hass.config.currency
    lines = [
        f"{r.title} (about {r.estimated_savings_kwh_per_day:.1f} kWh, {r.estimated_savings_per_day:.2f} {currency} a day, "
        f"confidence {r.confidence:.0%})"
        for r in ranked[:limit]
    ]
    more = f" And {len(ranked) - limit} more." if len(ranked) > limit else ""
    return (
        f"Top recommendation: {lines[0]}."
        + (" Then: " + "; ".join(lines[1:]) + "." if len(lines) > 1 else "")
        + more
    )


def forecast_text(link: AddonCoordinator | None) -> str:
    forecast = (link.health.get("forecast") if link else None) or {}
    if "tomorrow_kwh" not in forecast:
        return "I have no forecast: it comes from the EAIO add-on, which has not sent one yet."
    band = ""
    if "p10_kwh" in forecast and "p90_kwh" in forecast:
        band = f" (likely between {forecast['p10_kwh']:.1f} and {forecast['p90_kwh']:.1f} kWh)"
    issued = f", forecast made {forecast['issued']}" if forecast.get("issued") else ""
    return f"Tomorrow's expected consumption is {forecast['tomorrow_kwh']:.1f} kWh{band}{issued}."


def status_text(hass: HomeAssistant, link: AddonCoordinator | None, tracker: EnergyToday | None) -> str:
    devices = [e for e in hass.config_entries.async_loaded_entries(DOMAIN) if e.runtime_data is not link]
    down = [e.title for e in devices if not e.runtime_data.last_update_success]
    text = f"EAIO follows {len(devices)} device{'s' if len(devices) != 1 else ''}"
    text += f"; unavailable: {', '.join(down)}." if down else ", all available."
    return f"{text} {recommendations_text(link, limit=1)} {energy_today_text(tracker)}"


def local_answer(
    hass: HomeAssistant, link: AddonCoordinator | None, tracker: EnergyToday | None, question: str
) -> Answer:
    topic = classify(question)
    if topic == "energy_today":
        return Answer(energy_today_text(tracker), "local", topic)
    if topic == "recommendations":
        return Answer(recommendations_text(link), "local", topic)
    if topic == "forecast":
        return Answer(forecast_text(link), "local", topic)
    return Answer(status_text(hass, link, tracker), "local", topic or "status")


async def async_answer(
    hass: HomeAssistant, link: AddonCoordinator | None, tracker: EnergyToday | None, question: str
) -> Answer:
    """The add-on's assistant when it answers; the local answer when it cannot."""
    if link is not None:
        try:
            reply: dict[str, Any] = await link.client.ask(question)
        except AddonError as err:
            _LOGGER.debug("Add-on could not answer (%s); answering locally", err)
        else:
            answer = reply.get("answer")
            if "http_status" not in reply and isinstance(answer, str) and answer.strip():
                return Answer(answer.strip(), "addon", reply.get("topic"))
            _LOGGER.debug("Add-on gave no answer (%s); answering locally", reply.get("error"))
    return local_answer(hass, link, tracker, question)

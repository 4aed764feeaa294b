"""An MQTT device: values pushed through Home Assistant's MQTT connection, validated per point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
import logging
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.event import async_track_time_interval
import jsonschema

from .bms.mqtt import BurstLimiter, MqttPoint, MqttProfile, TopicParser
from .bms.plausibility import PlausibilityChecker, make_rule, shorten
from .const import CONF_ENABLED_POINTS, DOMAIN, EVENT_INVALID_PAYLOAD
from .coordinator import DeviceData, EaioConfigEntry, EaioCoordinator
from .entity_spec import INVALID_PAYLOADS, spec_from_mqtt

_LOGGER = logging.getLogger(__name__)

LOG_WINDOW = 60.0  # one log line per topic per minute of bad payloads, plus a count
EVENT_WINDOW = 10.0  # one event per topic per burst; automations get the count


def _schema_validator(schema: dict[str, Any] | None) -> Callable[[Any], str | None] | None:
    if schema is None:
        return None
    validator = jsonschema.Draft202012Validator(schema)

    def validate(document: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "payload"
        return f"{where}: {shorten(error.message)}"

    return validate


class MqttCoordinator(EaioCoordinator):
    """Receives one device's topics; no polling."""

    def __init__(
        self, hass: HomeAssistant, entry: EaioConfigEntry, profile: MqttProfile, base_topic: str
    ) -> None:
        super().__init__(
            hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {entry.title}", update_interval=None
        )
        self.profile = profile
        self.base_topic = base_topic
        keys = entry.options.get(CONF_ENABLED_POINTS)
        self.points = [
            p for p in profile.points if (p.key in keys if keys is not None else p.enabled_by_default)
        ]
        self.specs = [spec_from_mqtt(p) for p in self.points] + [INVALID_PAYLOADS]
        self.manufacturer = profile.manufacturer
        self.model = profile.model or profile.name
        validate = _schema_validator(profile.schema)
        by_topic: dict[str, list[MqttPoint]] = {}
        for point in self.points:
            by_topic.setdefault(point.full_topic(base_topic), []).append(point)
        self.parsers = {topic: TopicParser(points, validate) for topic, points in by_topic.items()}
        # The payload's own checks hold the profile's range; this adds what only history can tell
        # (a counter going backwards or jumping) and a default range where the profile has none.
        self.plausibility = PlausibilityChecker(
            {
                p.key: make_rule(unit=p.unit, device_class=p.device_class, state_class=p.state_class,
                                 valid_min=p.minimum, valid_max=p.maximum)
                for p in self.points
                if p.value_type in ("float", "int")
            }
        )  # fmt: skip
        self.invalid_count = 0
        self.invalid_by_reason: dict[str, int] = {}
        self._last_seen: dict[str, float] = {}
        self._stale: set[str] = set()
        self._log_limiter = BurstLimiter(LOG_WINDOW, time.monotonic)
        self._event_limiter = BurstLimiter(EVENT_WINDOW, time.monotonic)
        self._unsubscribe: list[Callable[[], None]] = []
        self.data = DeviceData(values={INVALID_PAYLOADS.key: 0})

    async def async_start(self) -> None:
        """Subscribe to every topic of the device and start watching for silence."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
        for topic in self.parsers:
            # encoding=None: payloads arrive as bytes and are decoded by the parser, which
            # reports bad encodings as invalid payloads instead of losing them silently.
            self._unsubscribe.append(await mqtt.async_subscribe(self.hass, topic, self._on_message, 1, None))
        self._unsubscribe.append(mqtt.async_subscribe_connection_status(self.hass, self._on_connection))
        ages = [p.max_age for p in self.points if p.max_age]
        if ages:
            interval = min(60.0, max(1.0, min(ages) / 4))
            self._unsubscribe.append(
                async_track_time_interval(self.hass, self._check_stale, timedelta(seconds=interval))
            )
        self.set_online(mqtt.is_connected(self.hass), "broker connected")

    async def async_close(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    @callback
    def _on_connection(self, connected: bool) -> None:
        self.set_online(connected, "broker connected" if connected else "broker disconnected")
        self.last_update_success = connected
        self.async_update_listeners()

    @callback
    def _on_message(self, message: mqtt.ReceiveMessage) -> None:
        parser = self.parsers.get(message.topic)
        if parser is None:
            return
        values, errors = parser.parse(message.payload)  # type: ignore[arg-type]
        for key, value in list(values.items()):
            if (problem := self.plausibility.check(key, value)) is not None:
                errors[key] = f"{key}: {problem}"
                del values[key]
        if errors:
            self._invalid(message.topic, errors)
        now = time.monotonic()
        for key in values:
            self._last_seen[key] = now
            self._stale.discard(key)
        if errors:
            values[INVALID_PAYLOADS.key] = self.invalid_count
        if values:
            self.merge_values(values)

    def _invalid(self, topic: str, errors: dict[str, str]) -> None:
        self.invalid_count += 1
        reason = next(iter(errors.values()))
        kind = (
            reason.split(":", 1)[0]
            if reason.startswith(("malformed JSON", "schema", "too large"))
            else "value"
        )
        self.invalid_by_reason[kind] = self.invalid_by_reason.get(kind, 0) + 1
        report, held_back = self._log_limiter.allow(topic)
        if report:
            _LOGGER.warning(
                "%s: invalid payload on %s: %s%s",
                self.config_entry.title,
                topic,
                "; ".join(f"{k}: {v}" for k, v in errors.items()) if kind == "value" else reason,
                f" ({held_back} more invalid since the last report)" if held_back else "",
            )
        fire, held_back = self._event_limiter.allow(topic)
        if fire:
            self.hass.bus.async_fire(
                EVENT_INVALID_PAYLOAD,
                {
                    "config_entry_id": self.config_entry.entry_id,
                    "topic": topic,
                    "reason": reason,
                    "points": sorted(errors),
                    "invalid_since_last_event": held_back,
                    "invalid_total": self.invalid_count,
                },
            )

    @callback
    def _check_stale(self, _now: Any = None) -> None:
        """A point silent past its max age becomes unavailable until the next valid message."""
        now = time.monotonic()
        expired = [
            p.key
            for p in self.points
            if p.max_age and p.key in self.data.values and now - self._last_seen.get(p.key, now) > p.max_age
        ]
        if not expired:
            return
        for key in expired:
            if key not in self._stale:
                _LOGGER.info(
                    "%s: %s silent for more than its max age; unavailable", self.config_entry.title, key
                )
            self._stale.add(key)
        values = {k: v for k, v in self.data.values.items() if k not in expired}
        errors = {**self.data.errors, **dict.fromkeys(expired, "stale")}
        self.async_set_updated_data(DeviceData(values, errors, self.data.requests))

    async def _async_update_data(self) -> DeviceData:
        return self.data

    def diagnostics(self) -> dict[str, Any]:
        return {
            "profile": {"id": self.profile.profile_id, "name": self.profile.name},
            "topics": {topic: [p.key for p in parser.points] for topic, parser in self.parsers.items()},
            "invalid_payloads": {"total": self.invalid_count, "by_reason": self.invalid_by_reason},
            "stale_points": sorted(self._stale),
        }

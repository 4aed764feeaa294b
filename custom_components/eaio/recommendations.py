"""Recommendations from the add-on: validated, ranked, kept across restarts, with their events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
import logging
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN, EVENT_RECOMMENDATION
from .guard import action_problem

_LOGGER = logging.getLogger(__name__)

CATEGORIES = ("hvac", "lighting", "load")
STORAGE_VERSION = 1

ACTION_SCHEMA = vol.Any(
    vol.Schema(
        {
            vol.Required("type"): "write_point",
            vol.Required("config_entry_id"): cv.string,
            vol.Required("point"): cv.string,
            vol.Required("value"): vol.Any(bool, vol.Coerce(float), cv.string),
        }
    ),
    vol.Schema(
        {
            vol.Required("type"): "service",
            vol.Required("service"): cv.service,
            vol.Optional("target", default=dict): {vol.Optional("entity_id"): cv.entity_ids},
            vol.Optional("data", default=dict): dict,
        }
    ),
    # Carrying out a plan item: applying it turns autopilot on for the controllable of that key.
    vol.Schema(
        {vol.Required("type"): "plan", vol.Required("key"): vol.All(cv.string, vol.Length(min=1, max=64))}
    ),
    vol.Schema({vol.Required("type"): "none"}),
)

RECOMMENDATION_SCHEMA = vol.Schema(
    {
        vol.Required("id"): vol.All(cv.string, vol.Length(min=1, max=128)),
        vol.Required("category"): vol.In(CATEGORIES),
        vol.Required("title"): vol.All(cv.string, vol.Length(min=1, max=200)),
        vol.Optional("description", default=""): cv.string,
        vol.Required("action"): ACTION_SCHEMA,
        vol.Optional("target_entity"): vol.Any(None, cv.entity_id),
        vol.Optional("proposed_value"): vol.Any(None, bool, vol.Coerce(float), cv.string),
        vol.Optional("unit"): vol.Any(None, vol.All(cv.string, vol.Length(max=32))),
        vol.Optional("estimated_savings_kwh_per_day", default=0.0): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=1e6)
        ),
        vol.Optional("estimated_savings_per_day", default=0.0): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=1e6)
        ),
        vol.Optional("confidence", default=0.5): vol.All(vol.Coerce(float), vol.Range(min=0, max=1)),
        vol.Optional("method", default=""): cv.string,
        vol.Optional("reasons", default=list): [cv.string],
        vol.Optional("valid_until"): vol.Any(None, cv.datetime),
    }
)


def _humanize(error: vol.Invalid) -> str:
    path = ".".join(str(p) for p in error.path)
    return f"{path}: {error.msg}" if path else error.msg


@dataclass
class Recommendation:
    """One proposed change with what it is expected to save."""

    id: str
    category: str
    title: str
    action: dict[str, Any]
    description: str = ""
    target_entity: str | None = None
    proposed_value: Any = None
    unit: str | None = None  # of the proposed value: as submitted, else the target entity's own
    estimated_savings_kwh_per_day: float = 0.0
    estimated_savings_per_day: float = 0.0
    confidence: float = 0.5
    method: str = ""
    reasons: list[str] = field(default_factory=list)
    valid_until: str | None = None
    status: str = "open"  # open | applied | dismissed | expired
    created: str = ""
    closed: str | None = None

    @property
    def score(self) -> float:
        """Ranking: expected money saved per day, discounted by confidence."""
        return self.estimated_savings_per_day * self.confidence

    def attributes(self) -> dict[str, Any]:
        """What automations and the UI read."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "action": self.action,
            "target_entity": self.target_entity,
            "proposed_value": self.proposed_value,
            "unit": self.unit,
            "estimated_savings_kwh_per_day": self.estimated_savings_kwh_per_day,
            "estimated_savings_per_day": self.estimated_savings_per_day,
            "confidence": self.confidence,
            "method": self.method,
            "reasons": self.reasons,
            "valid_until": self.valid_until,
        }


def parse_recommendation(raw: Any) -> Recommendation:
    """Validate one submitted recommendation; raises ValueError with a readable reason."""
    try:
        data = RECOMMENDATION_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise ValueError("; ".join(_humanize(e) for e in err.errors)) from None
    except vol.Invalid as err:
        raise ValueError(_humanize(err)) from None
    action = data["action"]
    if action["type"] == "service":
        problem = action_problem(data["category"], action["service"], action["data"])
        if problem is not None:
            raise ValueError(f"action: {problem}")
    valid_until = data.get("valid_until")
    if isinstance(valid_until, datetime):
        if valid_until.tzinfo is None:
            valid_until = valid_until.replace(tzinfo=dt_util.get_default_time_zone())
        data["valid_until"] = valid_until.isoformat()
    return Recommendation(**data)


class RecommendationBook:
    """Open recommendations and the recent history, persisted in Home Assistant's storage."""

    HISTORY = 200

    def __init__(self, hass: HomeAssistant, entry_id: str, on_change: Callable[[], None]) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.recommendations.{entry_id}"
        )
        self._on_change = on_change
        self.open: dict[str, Recommendation] = {}
        self.history: list[Recommendation] = []

    async def async_load(self) -> None:
        stored = await self._store.async_load()
        if not stored:
            return
        for raw in stored.get("open", []):
            self.open[raw["id"]] = Recommendation(**raw)
        self.history = [Recommendation(**raw) for raw in stored.get("history", [])]

    async def async_flush(self) -> None:
        """Write now (on unload), not after the save delay."""
        await self._store.async_save(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        return {
            "open": [asdict(r) for r in self.open.values()],
            "history": [asdict(r) for r in self.history[-self.HISTORY :]],
        }

    def _save(self) -> None:
        self._store.async_delay_save(
            self._snapshot,
            1.0,
        )

    def ranked(self, category: str | None = None) -> list[Recommendation]:
        recs = [r for r in self.open.values() if category is None or r.category == category]
        return sorted(recs, key=lambda r: (-r.score, r.id))

    @callback
    def submit(self, raw_batch: list[Any], replace: bool) -> dict[str, Any]:
        """Add a batch; refused items are reported, the rest kept."""
        accepted: list[str] = []
        refused: list[dict[str, Any]] = []
        now = dt_util.utcnow().isoformat()
        for index, raw in enumerate(raw_batch):
            try:
                rec = parse_recommendation(raw)
            except ValueError as err:
                ident = raw.get("id") if isinstance(raw, dict) else None
                refused.append({"index": index, "id": ident, "error": str(err)})
                _LOGGER.warning("Refused recommendation %s (#%s): %s", ident, index, err)
                continue
            previous = self.open.get(rec.id)
            rec.created = previous.created if previous else now
            if rec.unit is None and rec.target_entity and rec.proposed_value is not None:
                target = self.hass.states.get(rec.target_entity)
                rec.unit = target.attributes.get("unit_of_measurement") if target is not None else None
            self.open[rec.id] = rec
            accepted.append(rec.id)
            if previous is None:
                self._fire("new", rec)
        if replace:
            for rec_id in [i for i in self.open if i not in accepted]:
                self._close(rec_id, "expired")
        self._save()
        self._on_change()
        return {"accepted": accepted, "refused": refused}

    @callback
    def expire_due(self) -> int:
        """Close recommendations whose validity has passed."""
        now = dt_util.utcnow()
        due = [
            r.id
            for r in self.open.values()
            if r.valid_until and (until := dt_util.parse_datetime(r.valid_until)) is not None and until <= now
        ]
        for rec_id in due:
            self._close(rec_id, "expired")
        if due:
            self._save()
            self._on_change()
        return len(due)

    @callback
    def close(self, rec_id: str, status: str) -> Recommendation:
        rec = self._close(rec_id, status)
        self._save()
        self._on_change()
        return rec

    def _close(self, rec_id: str, status: str) -> Recommendation:
        rec = self.open.pop(rec_id)
        rec.status = status
        rec.closed = dt_util.utcnow().isoformat()
        self.history.append(rec)
        self._fire(status, rec)
        return rec

    def _fire(self, kind: str, rec: Recommendation) -> None:
        self.hass.bus.async_fire(
            EVENT_RECOMMENDATION,
            {"type": kind, "config_entry_id": self.entry_id, "category": rec.category, **rec.attributes()},
        )

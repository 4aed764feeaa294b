"""The shipped blueprint loads as an automation blueprint and reacts to a new recommendation."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import async_mock_service

BLUEPRINT = (
    Path(__file__).resolve().parents[2] / "blueprints" / "automation" / "eaio" / "recommendation_notify.yaml"
)


def test_blueprint_is_valid() -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINT)), expected_domain="automation", schema=BLUEPRINT_SCHEMA
    )
    assert set(blueprint.inputs) == {"notify_action", "auto_apply_categories", "min_confidence"}


async def test_blueprint_notifies_and_applies(hass: HomeAssistant, config_dir: Path) -> None:
    target = config_dir / "blueprints" / "automation" / "eaio"
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target / BLUEPRINT.name)
    notified = async_mock_service(hass, "notify", "phone")
    applied: list[ServiceCall] = async_mock_service(hass, "eaio", "apply_recommendation")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "eaio/recommendation_notify.yaml",
                    "input": {"notify_action": "notify.phone", "auto_apply_categories": ["hvac"]},
                }
            }
        },
    )
    base = {"type": "new", "title": "Pre-cool", "description": "Cool before the peak.",
            "estimated_savings_kwh_per_day": 2.4, "estimated_savings_per_day": 0.61}  # fmt: skip
    hass.bus.async_fire("eaio_recommendation", {**base, "id": "h1", "category": "hvac", "confidence": 0.9})
    hass.bus.async_fire(
        "eaio_recommendation", {**base, "id": "l1", "category": "lighting", "confidence": 0.9}
    )
    await hass.async_block_till_done()
    assert [c.data["recommendation_id"] for c in applied] == ["h1"]
    titles = [c.data["title"] for c in notified]
    assert titles == ["EAIO applied: Pre-cool", "EAIO suggests: Pre-cool"]

"""Home Assistant fixtures: EAIO set up through its config flow against the simulated building."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import logging
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest

from custom_components.eaio.bms.bacnet import BacnetClient
from custom_components.eaio.const import CONF_PROFILE, CONF_UNIT_ID, DOMAIN
from eaio_sim.bacnet import SimProcess, free_udp_port

from .addon_standin import addon  # noqa: F401  (fixture)

# The test harness turns the database engine's statement log on (INFO); through the recorder tests it
# fills the output with SQL and hides what matters.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
def bacnet_sim() -> Iterator[SimProcess]:
    """The simulated BACnet zone controller with values that stay put."""
    sim = SimProcess("--static").start()
    yield sim
    sim.stop()


@pytest.fixture
async def probe() -> AsyncIterator[BacnetClient]:
    """A second BACnet client, on its own port, to look at the device from outside."""
    client = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=1.0)
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(autouse=True)
async def _integration(hass: HomeAssistant, enable_custom_integrations: None, socket_enabled: None) -> None:
    """Load custom integrations, allow loopback sockets to the simulator, and set up the core
    integration, which a real Home Assistant always has (the conversation agent needs it)."""
    assert await async_setup_component(hass, "homeassistant", {})


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A config folder of the test's own (the harness' shared one must stay untouched)."""
    (tmp_path / "configuration.yaml").write_text("")
    hass.config.config_dir = str(tmp_path)
    return tmp_path


async def add_device(
    hass: HomeAssistant, port: int, unit_id: int, profile: str, host: str = "127.0.0.1"
) -> ConfigEntry:
    """Go through the user flow like a person would and return the loaded entry."""
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modbus"})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: host, CONF_PORT: port, CONF_UNIT_ID: unit_id, CONF_PROFILE: profile},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


def entity_ids(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, str]:
    """Point key -> entity id of a device's entities."""
    registry = er.async_get(hass)
    return {
        e.unique_id.removeprefix(f"{entry.unique_id}_"): e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
    }

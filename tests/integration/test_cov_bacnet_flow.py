"""Adding or moving a BACnet device: a bad local address, a bad device address and a device that
does not answer are each told apart, and the entry keeps its old address until one works."""

from __future__ import annotations

import socket
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.eaio.const import CONF_DEVICE_ADDRESS, CONF_LOCAL_ADDRESS, DOMAIN
from eaio_sim.bacnet import SimProcess, free_udp_port

from .test_bacnet import _add as add_bacnet


async def _bacnet_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "bacnet"})


async def test_bad_addresses_are_told_apart_when_adding(hass: HomeAssistant, bacnet_sim: SimProcess) -> None:
    form = await _bacnet_form(hass)
    local = f"127.0.0.1:{free_udp_port('127.0.0.1')}"
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], {CONF_LOCAL_ADDRESS: "not-an-address", CONF_DEVICE_ADDRESS: bacnet_sim.address}
    )
    assert result["errors"] == {CONF_LOCAL_ADDRESS: "local_address_unusable"}
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], {CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: "300.1.2.3"}
    )
    assert result["errors"] == {CONF_DEVICE_ADDRESS: "invalid_address"}
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], {CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: bacnet_sim.address}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "bacnet_device"


async def test_moving_a_device_refuses_bad_addresses_and_keeps_the_old_one(
    hass: HomeAssistant, bacnet_sim: SimProcess
) -> None:
    entry = await add_bacnet(hass, bacnet_sim, ["AI:1"])
    before = dict(entry.data)
    # A port held open here and never answered: no other process can take it meanwhile.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent_address = f"127.0.0.1:{silent.getsockname()[1]}"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_bacnet"
    local = entry.data[CONF_LOCAL_ADDRESS]
    try:
        for user_input, errors in (
            ({CONF_LOCAL_ADDRESS: "not-an-address", CONF_DEVICE_ADDRESS: bacnet_sim.address},
             {CONF_LOCAL_ADDRESS: "local_address_unusable"}),
            ({CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: "300.1.2.3"}, {CONF_DEVICE_ADDRESS: "invalid_address"}),
            ({CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: silent_address}, {"base": "cannot_connect"}),
        ):  # fmt: skip
            result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
            assert result["type"] is FlowResultType.FORM and result["errors"] == errors
    finally:
        silent.close()
    assert dict(entry.data) == before
    assert entry.state is ConfigEntryState.LOADED

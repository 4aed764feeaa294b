"""Config flow, options flow and reconfigure against a real pymodbus server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import pytest
import voluptuous as vol
import yaml

from custom_components.eaio.bms.profiles import ProfileError, parse_profile
from custom_components.eaio.const import (
    CONF_BASE_TOPIC,
    CONF_DEVICE_ADDRESS,
    CONF_ENABLED_POINTS,
    CONF_LOCAL_ADDRESS,
    CONF_MAX_GAP,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_SOURCE_TYPE,
    CONF_TOKEN,
    CONF_UNIT_ID,
    CONF_URL,
    DOMAIN,
)
from eaio_sim.bacnet import SimProcess
from tests.conftest import ModbusSim, Mosquitto

from .addon_standin import TOKEN, AddonStandIn
from .conftest import add_device, entity_ids
from .test_bacnet import _add as add_bacnet
from .test_mqtt import _add_mqtt_device as add_mqtt_device, _setup_mqtt as setup_mqtt


async def _modbus_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["menu_options"][0] == "modbus"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modbus"})


async def test_user_flow_creates_a_device(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    assert entry.state is ConfigEntryState.LOADED
    # Neither the title (so the device's name and its entity ids) nor the id holds the address.
    assert entry.title == "Three-phase energy meter"
    assert entry.unique_id is not None and entry.unique_id.startswith("modbus_")
    assert str(building_sim.port) not in entry.unique_id
    assert entity_ids(hass, entry)["total_power"] == "sensor.three_phase_energy_meter_total_power"
    assert entry.data == {
        "source_type": "modbus", CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port,
        CONF_UNIT_ID: 1, CONF_PROFILE: "three_phase_meter",
    }  # fmt: skip


async def test_cannot_connect_then_fixed(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    form = await _modbus_form(hass)
    # A port nobody listens on: the server's port + 1 is free only by luck, so use a stopped sim's.
    dead = ModbusSim(["--static", "--device", "1:single_phase_meter"])
    await hass.async_add_executor_job(dead.start)
    await hass.async_add_executor_job(dead.stop)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: dead.port, CONF_UNIT_ID: 1, CONF_PROFILE: "single_phase_meter"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: "single_phase_meter",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_device_refusing_every_register(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    # Unit 3 is the single-phase meter: it has no input registers, all the other meter uses.
    form = await _modbus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: "three_phase_meter",
        },
    )
    assert result["errors"] == {"base": "no_points_answered"}


async def test_invalid_profile_is_refused(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    form = await _modbus_form(hass)
    with pytest.raises(vol.Invalid):  # not one of the offered profiles
        await hass.config_entries.flow.async_configure(
            form["flow_id"],
            {CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port, CONF_UNIT_ID: 1, CONF_PROFILE: "nope"},
        )


async def test_invalid_user_point_map_is_listed_not_offered(
    hass: HomeAssistant, building_sim: ModbusSim, config_dir: Path
) -> None:
    folder = hass.config.path("eaio", "profiles")
    await hass.async_add_executor_job(_write_maps, folder)
    form = await _modbus_form(hass)
    assert (
        "eaio/profiles/bad.yaml: point 'temp': unit 'W' does not fit device class 'temperature'"
        in (form["description_placeholders"]["refused"])
    )
    offered = [o["value"] for o in form["data_schema"].schema[CONF_PROFILE].config["options"]]
    assert "user:good" in offered and "user:bad" not in offered
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: building_sim.port, CONF_UNIT_ID: 2, CONF_PROFILE: "user:good"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    state = hass.states.get("sensor.my_zone_controller_zone")
    assert state is not None and float(state.state) == pytest.approx(21.6)


def _write_maps(folder: str) -> None:
    import os

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "good.yaml"), "w", encoding="utf-8") as file:
        file.write(
            "name: My zone controller\npoints:\n"
            "  - {key: zone, name: Zone, register: input, address: 3, type: int16, scale: 0.1,"
            " unit: '°C', device_class: temperature, state_class: measurement}\n"
        )
    with open(os.path.join(folder, "bad.yaml"), "w", encoding="utf-8") as file:
        file.write(
            "name: Bad\npoints:\n"
            "  - {key: temp, register: input, address: 3, type: int16, unit: W, device_class: temperature}\n"
        )


@pytest.mark.parametrize("second_host", ["127.0.0.1", "localhost", " LOCALHOST "])
async def test_already_configured(hass: HomeAssistant, building_sim: ModbusSim, second_host: str) -> None:
    """The same unit under another name of the same host is the same device."""
    await add_device(hass, building_sim.port, 1, "three_phase_meter")
    form = await _modbus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {
            CONF_HOST: second_host,
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: "three_phase_meter",
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_options_flow(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    points = {p.key for p in entry.runtime_data.points}
    assert len(points) == 14 and points <= set(entity_ids(hass, entry))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 5, CONF_MAX_GAP: 8, CONF_ENABLED_POINTS: []}
    )
    assert result["errors"] == {CONF_ENABLED_POINTS: "no_points"}
    with pytest.raises(vol.Invalid):  # out of range is refused by the form itself
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 0, CONF_MAX_GAP: 8, CONF_ENABLED_POINTS: ["voltage_l1"]}
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SCAN_INTERVAL: 30, CONF_MAX_GAP: 0, CONF_ENABLED_POINTS: ["voltage_l1", "import_energy"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.update_interval.total_seconds() == 30
    assert [p.key for p in coordinator.points] == ["voltage_l1", "import_energy"]
    assert [(b.start, b.count) for b in coordinator.plan] == [(0, 2), (72, 2)]
    assert points & set(entity_ids(hass, entry)) == {"voltage_l1", "import_energy"}


async def test_reconfigure(hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim]) -> None:
    """A meter on a new address and unit keeps its id, its entities and their entity ids."""
    old = modbus_sim_factory("--static", "--device", "1:single_phase_meter")
    new = modbus_sim_factory("--static", "--device", "5:single_phase_meter")
    entry = await add_device(hass, old.port, 1, "single_phase_meter")
    unique_id, before = entry.unique_id, entity_ids(hass, entry)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_modbus"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: "localhost", CONF_PORT: new.port, CONF_UNIT_ID: 5, CONF_PROFILE: "single_phase_meter"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == "localhost"
    assert entry.data[CONF_PORT] == new.port and entry.data[CONF_UNIT_ID] == 5
    assert entry.unique_id == unique_id and entity_ids(hass, entry) == before
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(before["voltage"]).state not in ("unavailable", "unknown")  # type: ignore[union-attr]


async def test_reconfigure_onto_another_entrys_device(hass: HomeAssistant, building_sim: ModbusSim) -> None:
    first = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    second = await add_device(hass, building_sim.port, 3, "single_phase_meter")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": second.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: "localhost",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: "three_phase_meter",
        },
    )
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": "already_configured"}
    assert second.data[CONF_UNIT_ID] == 3 and first.data[CONF_UNIT_ID] == 1


async def test_reconfigure_to_another_profile_takes_its_name(
    hass: HomeAssistant, building_sim: ModbusSim
) -> None:
    entry = await add_device(hass, building_sim.port, 1, "three_phase_meter")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: building_sim.port,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: "single_phase_meter",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.title == "Single-phase energy meter"
    assert entry.state is ConfigEntryState.LOADED


async def _start_reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


async def test_reconfigure_a_bacnet_device_to_its_new_address(hass: HomeAssistant) -> None:
    first = await hass.async_add_executor_job(SimProcess("--static", instance=1001).start)
    moved = impostor = None
    try:
        entry = await add_bacnet(hass, first)
        unique_id, before = entry.unique_id, entity_ids(hass, entry)
        await hass.async_add_executor_job(first.stop)
        moved = await hass.async_add_executor_job(SimProcess("--static", instance=1001).start)
        impostor = await hass.async_add_executor_job(SimProcess("--static", instance=2002).start)
        result = await _start_reconfigure(hass, entry)
        assert result["step_id"] == "reconfigure_bacnet"
        local = entry.data[CONF_LOCAL_ADDRESS]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: impostor.address}
        )
        assert result["errors"] == {"base": "wrong_device"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_LOCAL_ADDRESS: local, CONF_DEVICE_ADDRESS: moved.address}
        )
        assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data[CONF_DEVICE_ADDRESS] == moved.address
        assert entry.data[CONF_SOURCE_TYPE] == "bacnet"
        assert entry.state is ConfigEntryState.LOADED
        assert entry.unique_id == unique_id and entity_ids(hass, entry) == before
        assert hass.states.get(before["ai_1"]).state not in ("unavailable", "unknown")  # type: ignore[union-attr]
    finally:
        for sim in (first, moved, impostor):
            if sim is not None:
                await hass.async_add_executor_job(sim.stop)


async def test_reconfigure_an_mqtt_device_to_a_new_topic(
    hass: HomeAssistant, mosquitto: Mosquitto, config_dir: Path, request: pytest.FixtureRequest
) -> None:
    await setup_mqtt(hass, mosquitto)
    base = f"building/{request.node.name}/sensor"
    entry = await add_mqtt_device(hass, base)
    other = await add_mqtt_device(hass, f"{base}-other")
    unique_id, before = entry.unique_id, entity_ids(hass, entry)
    result = await _start_reconfigure(hass, entry)
    assert result["step_id"] == "reconfigure_mqtt"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_BASE_TOPIC: "a/+/b"})
    assert result["errors"] == {CONF_BASE_TOPIC: "invalid_topic"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: other.data[CONF_BASE_TOPIC]}
    )
    assert result["errors"] == {CONF_BASE_TOPIC: "topic_taken"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: f"/{base}-new/"}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_BASE_TOPIC] == f"{base}-new" and entry.data[CONF_SOURCE_TYPE] == "mqtt"
    assert entry.unique_id == unique_id and entity_ids(hass, entry) == before
    await hass.async_add_executor_job(mosquitto.publish, f"{base}-new", '{"temperature": 21.5}', True)
    for _ in range(250):
        await hass.async_block_till_done()
        if hass.states.get(before["temperature"]).state == "21.5":  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.02)
    assert hass.states.get(before["temperature"]).state == "21.5"  # type: ignore[union-attr]
    # A new device may use the old topic: it gets an id of its own.
    again = await add_mqtt_device(hass, base)
    assert again.unique_id not in (entry.unique_id, other.unique_id)


async def test_reconfigure_the_addon_link(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _link_addon(hass, addon)
    before = entity_ids(hass, entry)
    moved = AddonStandIn()
    await moved.start()
    try:
        result = await _start_reconfigure(hass, entry)
        assert result["step_id"] == "reconfigure_addon"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: moved.url, CONF_TOKEN: "wrong"}
        )
        assert result["errors"] == {"base": "invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: f"{moved.url}/", CONF_TOKEN: TOKEN}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data[CONF_URL] == moved.url and entry.data[CONF_SOURCE_TYPE] == "addon"
        assert entry.state is ConfigEntryState.LOADED and entity_ids(hass, entry) == before
    finally:
        await moved.stop()


async def test_a_refused_token_asks_for_the_new_one(hass: HomeAssistant, addon: AddonStandIn) -> None:
    entry = await _link_addon(hass, addon)
    addon.token = "rotated-token"
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [config_entries.SOURCE_REAUTH]
    assert flows[0]["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {CONF_TOKEN: TOKEN})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_TOKEN: "rotated-token"}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_TOKEN] == "rotated-token" and entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.last_update_success


async def test_the_addon_has_one_id_whether_typed_or_discovered(
    hass: HomeAssistant, addon: AddonStandIn
) -> None:
    entry = await _link_addon(hass, addon)
    assert entry.unique_id == "addon"
    host, port = addon.url.removeprefix("http://").split(":")
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_HASSIO},
        data=HassioServiceInfo(
            config={"host": host, "port": int(port), "token": TOKEN}, name="EAIO", slug="eaio", uuid="5678"
        ),
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def _link_addon(hass: HomeAssistant, addon: AddonStandIn) -> ConfigEntry:
    result: Any = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "addon"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: addon.url, CONF_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


SERIAL_MAP = """name: Inverter with a serial number
manufacturer: ACME
serial: serial_number
points:
  - {key: serial_number, name: Serial number, register: input, address: 0, type: string, length: 8}
  - {key: ac_power, name: AC power, register: input, address: 10, type: int32, unit: W,
     device_class: power, state_class: measurement}
"""


async def test_a_device_with_a_serial_number_is_known_wherever_it_is(
    hass: HomeAssistant, modbus_sim_factory: Callable[..., ModbusSim], config_dir: Path
) -> None:
    """Its id is its serial number: added again at a new address, its entry moves there."""
    folder = config_dir / "eaio" / "profiles"
    await hass.async_add_executor_job(lambda: folder.mkdir(parents=True))
    await hass.async_add_executor_job((folder / "serial_inverter.yaml").write_text, SERIAL_MAP)
    old = modbus_sim_factory("--static", "--device", "4:pv_inverter")
    new = modbus_sim_factory("--static", "--device", "1:three_phase_meter", "--device", "4:pv_inverter")
    entry = await add_device(hass, old.port, 4, "user:serial_inverter")
    assert entry.unique_id == "modbus_sn_acme_eaio_pv5"  # the simulated inverter's model string
    before = entity_ids(hass, entry)
    await hass.async_add_executor_job(old.stop)

    form = await _modbus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: new.port, CONF_UNIT_ID: 4, CONF_PROFILE: "user:serial_inverter"},
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    assert entry.data[CONF_PORT] == new.port and entry.state is ConfigEntryState.LOADED
    assert entity_ids(hass, entry) == before
    assert float(hass.states.get(before["ac_power"]).state) >= 0  # type: ignore[union-attr]

    # Another unit answers with another serial number: reconfigure does not swap the device.
    result = await _start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_PORT: new.port, CONF_UNIT_ID: 1, CONF_PROFILE: "user:serial_inverter"},
    )
    assert result["errors"] == {"base": "wrong_device"}


def test_a_serial_must_name_a_string_point() -> None:
    data = yaml.safe_load(SERIAL_MAP.replace("serial: serial_number", "serial: ac_power"))
    with pytest.raises(ProfileError, match="'serial' must be the key of a string point, got 'ac_power'"):
        parse_profile(data, "eaio/profiles/x.yaml", "user:x", user=True)

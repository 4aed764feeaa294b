"""The client against a real pymodbus server: coalesced reads, exceptions, back-off, writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from custom_components.eaio.bms.bounds import check_write
from custom_components.eaio.bms.client import DeviceUnreachable, ModbusDeviceClient
from custom_components.eaio.bms.planner import plan_reads, single_point_blocks
from custom_components.eaio.bms.profiles import load_catalog
from eaio_sim.building import BuildingModel
from tests.conftest import ModbusSim

CATALOG = load_catalog(None)
UNITS = {"three_phase_meter": 1, "hvac_unit": 2, "single_phase_meter": 3, "pv_inverter": 4}


@pytest.mark.parametrize("profile_id", sorted(UNITS))
async def test_coalesced_reads_decode_the_same_as_one_request_per_point(
    building_sim: ModbusSim, profile_id: str
) -> None:
    profile = CATALOG.profiles[profile_id]
    client = ModbusDeviceClient("127.0.0.1", building_sim.port, UNITS[profile_id])
    try:
        coalesced = await client.read(plan_reads(profile.points, profile.max_gap))
        single = await client.read(single_point_blocks(profile.points))
    finally:
        await client.close()
    assert coalesced.errors == {} and single.errors == {}
    assert coalesced.values == single.values
    assert set(coalesced.values) == {p.key for p in profile.points}
    assert coalesced.requests < single.requests
    # And they are the values the simulated building serves.
    expected = BuildingModel(static=True).values(0)
    for point in profile.points:
        assert coalesced.values[point.key] == pytest.approx(
            expected[point.key], abs=point.scale / 2 + 1e-3
        ), point.key


async def test_exception_for_one_block_loses_only_its_points(
    modbus_sim_factory: Callable[..., ModbusSim],
) -> None:
    # Address 60 sits inside a bridged gap; 72 is import_energy itself.
    sim = modbus_sim_factory(
        "--static", "--device", "1:three_phase_meter", "--hole", "input:60", "--hole", "input:72"
    )
    profile = CATALOG.profiles["three_phase_meter"]
    client = ModbusDeviceClient("127.0.0.1", sim.port, 1)
    try:
        result = await client.read(plan_reads(profile.points, profile.max_gap))
        assert result.errors == {"import_energy": "exception code 2 (illegal data address)"}
        assert set(result.values) == {p.key for p in profile.points} - {"import_energy"}
        assert result.values["export_energy"] == pytest.approx(321.5)
        assert len(result.plan) > 2  # the refused block was split
        again = await client.read(result.plan)  # the refined plan is reused without retrying
        assert again.values == result.values
        assert again.requests == len(result.plan)
    finally:
        await client.close()


async def test_unreachable_device_backs_off_then_recovers(
    modbus_sim_factory: Callable[..., ModbusSim],
) -> None:
    now = [1000.0]
    # Learn a free port from a server that is then stopped: nothing listens there now.
    sim = ModbusSim(["--static", "--device", "1:single_phase_meter"])
    sim.start()
    sim.stop()
    port = sim.port
    client = ModbusDeviceClient("127.0.0.1", port, 1, timeout=1.0, backoff_initial=5.0, clock=lambda: now[0])
    plan = plan_reads(CATALOG.profiles["single_phase_meter"].points)
    with pytest.raises(DeviceUnreachable, match="cannot connect"):
        await client.read(plan)
    with pytest.raises(DeviceUnreachable, match="next attempt in 5 s"):
        await client.read(plan)
    now[0] += 6
    with pytest.raises(DeviceUnreachable, match="cannot connect"):
        await client.read(plan)
    with pytest.raises(DeviceUnreachable, match="next attempt in 10 s"):  # doubled
        await client.read(plan)
    sim.start()
    try:
        now[0] += 11
        result = await client.read(plan)
        assert result.values["voltage"] == pytest.approx(230.1)
        sim.stop()
        with pytest.raises(DeviceUnreachable):
            await client.read(plan)
    finally:
        sim.stop()
        await client.close()


async def test_writes_reach_the_device(modbus_sim_factory: Callable[..., ModbusSim]) -> None:
    sim = modbus_sim_factory("--static", "--device", "2:hvac_unit")
    profile = CATALOG.profiles["hvac_unit"]
    client = ModbusDeviceClient("127.0.0.1", sim.port, 2)
    try:
        await client.write(
            profile.by_key["cooling_setpoint"], check_write(profile.by_key["cooling_setpoint"], 22.5)
        )
        await client.write(profile.by_key["unit_enable"], check_write(profile.by_key["unit_enable"], "off"))
        result = await client.read(plan_reads(profile.points))
        assert result.values["cooling_setpoint"] == 22.5
        assert result.values["unit_enable"] is False
    finally:
        await client.close()

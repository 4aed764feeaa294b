"""The BACnet/IP client against a real simulated device in another process, on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import time

from homeassistant.components.number import NumberDeviceClass
from homeassistant.components.number.const import DEVICE_CLASS_UNITS as NUMBER_UNITS
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.components.sensor.const import DEVICE_CLASS_STATE_CLASSES, DEVICE_CLASS_UNITS
import pytest

from custom_components.eaio.bms.bacnet import (
    BacnetClient,
    BacnetError,
    CovWatcher,
    ObjectId,
    Value,
    format_object_id,
    parse_object_id,
    renew_interval,
)
from custom_components.eaio.bms.bacnet_units import known_units, platform_for, unit_info
from custom_components.eaio.bms.client import DeviceUnreachable
from eaio_sim.bacnet import EXTRA_BASE, SimProcess, extra_value, free_udp_port

AI1: ObjectId = ("analogInput", 1)  # zone temperature
AV1: ObjectId = ("analogValue", 1)  # zone setpoint, commandable
AO1: ObjectId = ("analogOutput", 1)  # damper
BO1: ObjectId = ("binaryOutput", 1)  # fan enable
MSV1: ObjectId = ("multiStateValue", 1)  # operating mode
AI2: ObjectId = ("analogInput", 2)  # CO2
EXTRA = 60


@pytest.fixture(scope="module")
def static_sim() -> Iterator[SimProcess]:
    """A device whose values only change when written: reads can be compared exactly."""
    sim = SimProcess("--static", "--objects", str(EXTRA)).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimProcess]]:
    sims: list[SimProcess] = []

    def start(*args: str, instance: int = 1001) -> SimProcess:
        sim = SimProcess(*args, instance=instance).start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


@pytest.fixture
async def client() -> AsyncIterator[BacnetClient]:
    bacnet = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=1.0)
    await bacnet.start()
    yield bacnet
    await bacnet.stop()


# ----- mapping (no network)


def test_every_mapped_unit_is_valid_for_its_device_class_in_home_assistant() -> None:
    for units in known_units():
        info = unit_info(units)
        if info.device_class is None:
            continue
        device_class = SensorDeviceClass(info.device_class)
        assert info.unit in DEVICE_CLASS_UNITS[device_class], units
        assert SensorStateClass(info.state_class) in DEVICE_CLASS_STATE_CLASSES[device_class], units
        if NumberDeviceClass(info.device_class) in NUMBER_UNITS:
            assert info.unit in NUMBER_UNITS[NumberDeviceClass(info.device_class)], units


def test_unit_hints() -> None:
    assert unit_info("degreesCelsius").device_class == "temperature"
    assert unit_info("kilowattHours").state_class == "total_increasing"
    assert unit_info("percentRelativeHumidity") == unit_info("percentRelativeHumidity", "Zone CO2")
    assert unit_info("partsPerMillion", "Sensor 4").device_class is None
    assert unit_info("partsPerMillion", "Zone CO2").device_class == "carbon_dioxide"
    assert unit_info("litersPerSecond").scale == 60.0
    assert unit_info("furlongsPerFortnight").unit is None
    assert unit_info(None).unit is None


@pytest.mark.parametrize(
    ("object_type", "commandable", "platform"),
    [
        ("analogInput", False, "sensor"),
        ("analogOutput", True, "number"),
        ("analogValue", True, "number"),
        ("analogValue", False, "sensor"),
        ("binaryInput", False, "binary_sensor"),
        ("binaryOutput", True, "switch"),
        ("binaryValue", True, "switch"),
        ("binaryValue", False, "binary_sensor"),
        ("multiStateInput", False, "sensor"),
        ("multiStateOutput", True, "select"),
        ("multiStateValue", True, "select"),
        ("multiStateValue", False, "sensor"),
        ("trendLog", False, None),
    ],
)
def test_platform_mapping(object_type: str, commandable: bool, platform: str | None) -> None:
    assert platform_for(object_type, commandable) == platform


def test_object_ids_parse_and_format() -> None:
    assert parse_object_id("AV:3") == ("analogValue", 3)
    assert parse_object_id("analog-value,3") == ("analogValue", 3)
    assert parse_object_id("multiStateValue:12") == ("multiStateValue", 12)
    assert format_object_id(("binaryOutput", 7)) == "BO:7"
    with pytest.raises(ValueError, match="TYPE:INSTANCE"):
        parse_object_id("AV3")
    assert renew_interval(5) == 3.0
    assert renew_interval(300) == 240.0


# ----- discovery and description


async def test_directed_discovery_finds_the_device(static_sim: SimProcess, client: BacnetClient) -> None:
    started = time.monotonic()
    device = await client.discover_at(static_sim.address)
    assert time.monotonic() - started < 0.5  # answered, not timed out
    assert device.instance == 1001
    assert device.address == static_sim.address
    assert device.name == "Zone controller 1001"
    assert (device.vendor_id, device.vendor_name, device.model_name) == (999, "EAIO Simulator", "EAIO-VAV-1")


async def test_broadcast_discovery_through_a_bbmd_ends_when_the_range_answered(
    sim_factory: Callable[..., SimProcess],
) -> None:
    # Broadcasts do not cross loopback; a foreign-device registration carries them.
    sim = sim_factory("--bbmd", "--static", instance=2002)
    bacnet = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", foreign_bbmd=sim.address, timeout=2.0)
    await bacnet.start()
    try:
        started = time.monotonic()
        devices = await bacnet.discover(2000, 2002, expected=1)
        assert time.monotonic() - started < 1.0
        assert [(d.instance, d.address, d.name) for d in devices] == [
            (2002, sim.address, "Zone controller 2002")
        ]
        assert await bacnet.discover(2003, 2010, wait=0.3) == []
    finally:
        await bacnet.stop()


async def test_broadcast_without_a_broadcast_address_is_a_clear_error(client: BacnetClient) -> None:
    with pytest.raises(ValueError, match="no broadcast address"):
        await client.discover(wait=0.1)


async def test_object_list_whole_and_element_by_element_agree(
    static_sim: SimProcess, sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    whole = await client.read_object_list(static_sim.address)
    by_index_sim = sim_factory("--static", "--object-list-by-index", "--objects", str(EXTRA), instance=1003)
    with pytest.raises(BacnetError, match="segmentation-not-supported"):
        await client.read_property(by_index_sim.address, ("device", 1003), "objectList")
    by_index = await client.read_object_list(by_index_sim.address)
    assert by_index == [("device", 1003), *whole[1:]]
    assert {AI1, AV1, AO1, BO1, MSV1, AI2, ("device", 1001)} <= set(whole)
    assert len(whole) == 2 + 9 + EXTRA  # device, network port, controller objects, extras


async def test_objects_are_described_for_entities(static_sim: SimProcess, client: BacnetClient) -> None:
    result = await client.read_objects(static_sim.address)
    assert result.errors == {}
    objects = {obj.object_id: obj for obj in result.objects}
    assert len(objects) == 9 + EXTRA  # device and network port are not entities
    zone = objects[AI1]
    assert (zone.name, zone.units, zone.value_type, zone.writable, zone.platform) == (
        "Zone temperature", "degreesCelsius", "float", False, "sensor",
    )  # fmt: skip
    assert zone.unit_info.unit == "°C" and zone.description == "Space temperature sensor"
    assert (objects[AV1].writable, objects[AV1].platform) == (True, "number")
    assert (objects[AO1].units, objects[AO1].platform) == ("percent", "number")
    assert objects[AI2].unit_info.device_class == "carbon_dioxide"
    occupancy = objects[("binaryInput", 1)]
    assert (occupancy.inactive_text, occupancy.active_text, occupancy.platform) == (
        "Unoccupied", "Occupied", "binary_sensor",
    )  # fmt: skip
    assert (objects[BO1].writable, objects[BO1].platform, objects[BO1].value_type) == (True, "switch", "bool")
    assert (objects[("binaryValue", 1)].writable, objects[("binaryValue", 1)].platform) == (
        False,
        "binary_sensor",
    )
    mode = objects[MSV1]
    assert (mode.state_text, mode.value_type, mode.present_value, mode.platform) == (
        ("Off", "Heat", "Cool", "Auto"), "int", 4, "select",
    )  # fmt: skip
    assert objects[("multiStateInput", 1)].platform == "sensor"


# ----- reading values


async def test_rpm_batches_read_the_same_as_one_read_property_per_object(
    static_sim: SimProcess, client: BacnetClient
) -> None:
    ids = [AI1, AV1, AO1, ("binaryInput", 1), BO1, MSV1, AI2] + [
        ("analogInput", EXTRA_BASE + i) for i in range(EXTRA)
    ]
    batched = await client.read_values(static_sim.address, ids, batch_size=25)
    single = await client.read_values(static_sim.address, ids, batch_size=1)
    assert batched.errors == {} and single.errors == {}
    assert batched.values == single.values
    assert batched.requests == 3 and single.requests == len(ids)
    assert [batched.values[("analogInput", EXTRA_BASE + i)] for i in range(EXTRA)] == [
        extra_value(i) for i in range(EXTRA)
    ]
    assert batched.values[("binaryInput", 1)] is True and batched.values[MSV1] == 4
    assert not client.refuses_rpm(static_sim.address)


async def test_unknown_object_is_an_error_for_that_object_only(
    static_sim: SimProcess, client: BacnetClient
) -> None:
    ids = [AI1, ("analogInput", 999), AV1, ("binaryValue", 42)]
    for batch_size in (20, 1):  # one ReadPropertyMultiple, and one ReadProperty per object
        result = await client.read_values(static_sim.address, ids, batch_size=batch_size)
        assert result.errors == {
            ("analogInput", 999): "object: unknown-object",
            ("binaryValue", 42): "object: unknown-object",
        }
        assert result.values == {AI1: 23.0, AV1: 21.0}
    described = await client.read_objects(static_sim.address, [AI1, ("analogInput", 999)])
    assert [obj.object_id for obj in described.objects] == [AI1]
    assert described.errors == {("analogInput", 999): "object: unknown-object"}


async def test_device_refusing_rpm_falls_back_to_read_property(
    static_sim: SimProcess, sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    no_rpm = sim_factory("--static", "--no-rpm", "--objects", "10", instance=1004)
    ids = [AI1, AV1, BO1, MSV1, ("analogInput", 999)] + [("analogInput", EXTRA_BASE + i) for i in range(10)]
    result = await client.read_values(no_rpm.address, ids)
    assert client.refuses_rpm(no_rpm.address)
    assert result.errors == {("analogInput", 999): "object: unknown-object"}
    reference = await client.read_values(static_sim.address, ids[:4] + ids[5:])
    assert result.values == reference.values
    # 1 refused ReadPropertyMultiple, then one ReadProperty per object; the next read
    # goes straight to ReadProperty.
    assert result.requests == 1 + len(ids)
    assert (await client.read_values(no_rpm.address, ids)).requests == len(ids)
    described = await client.read_objects(no_rpm.address)
    assert described.errors == {} and len(described.objects) == 9 + 10


async def test_answer_too_big_for_the_device_is_split_and_the_size_remembered(
    sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    sim = sim_factory("--static", "--no-segmentation", "--objects", "100", instance=1005)
    ids: list[ObjectId] = [("analogInput", EXTRA_BASE + i) for i in range(100)]
    first = await client.read_values(sim.address, ids, batch_size=100)
    # 100 values do not fit one unsegmented answer: aborted, then two halves.
    assert first.requests == 3 and first.errors == {}
    assert list(first.values.values()) == [extra_value(i) for i in range(100)]
    again = await client.read_values(sim.address, ids, batch_size=100)
    assert again.requests == 2 and again.values == first.values


# ----- change of value


async def test_cov_notifications_renewal_and_polling_fallback(
    sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    sim = sim_factory("--static", "--no-cov-for", "AI:2")
    received: list[tuple[float, ObjectId, Value]] = []
    arrived = asyncio.Event()

    def on_value(object_id: ObjectId, value: Value) -> None:
        received.append((time.monotonic(), object_id, value))
        arrived.set()

    async def write_and_wait(value: float) -> float:
        """Seconds from writing the setpoint to its notification."""
        written = time.monotonic()
        await client.write(sim.address, AV1, value)
        async with asyncio.timeout(2.0):
            while not (hits := [t for t, oid, v in received if oid == AV1 and v == value and t >= written]):
                arrived.clear()
                await arrived.wait()
        return hits[0] - written

    watcher = CovWatcher(client, sim.address, [AV1, AI2], on_value, lifetime=5, poll_interval=1.0)
    await watcher.start()
    try:
        assert set(watcher.subscriptions) == {AV1}
        assert watcher.polled == {AI2: "services: cov-subscription-failed"}
        # The subscription's initial notification, and the polled object's first value.
        assert (AV1, 21.0) in [(oid, v) for _, oid, v in received]
        assert (AI2, 600.0) in [(oid, v) for _, oid, v in received]
        assert await write_and_wait(22.5) < 1.0
        # Past the 5 s lifetime: only a renewed subscription still notifies.
        await asyncio.sleep(6.0)
        assert watcher.renewals >= 1
        assert await write_and_wait(23.5) < 1.0
    finally:
        await watcher.stop()
    assert watcher.subscriptions == {}


async def test_cov_follows_values_the_device_changes_itself(
    sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    # The zone starts at 23 °C with a 21 °C setpoint: the controller cools it down.
    sim = sim_factory("--tick", "0.2")
    temperatures: list[float] = []
    enough = asyncio.Event()

    def on_value(_: ObjectId, value: Value) -> None:
        temperatures.append(float(value or 0.0))
        if len(temperatures) >= 4:
            enough.set()

    subscription = await client.subscribe_cov(sim.address, AI1, on_value, lifetime=30)
    try:
        async with asyncio.timeout(5.0):
            await enough.wait()
    finally:
        await client.cancel_cov(subscription)
    assert temperatures[-1] < temperatures[0] < 23.2
    assert subscription.notifications == len(temperatures)


# ----- writing


async def test_write_at_priority_relinquish_and_release_all(
    sim_factory: Callable[..., SimProcess], client: BacnetClient
) -> None:
    sim = sim_factory("--static")
    address = sim.address
    await client.write(address, AV1, 22.5)  # default priority 16
    await client.write(address, AV1, 19.0, priority=8)
    slots = await client.read_priority_array(address, AV1)
    assert slots[15] == 22.5 and slots[7] == 19.0
    assert [i + 1 for i, slot in enumerate(slots) if slot is not None] == [8, 16]
    assert (await client.read_values(address, [AV1])).values[AV1] == 19.0  # highest priority wins

    await client.relinquish(address, AV1, priority=8)
    slots = await client.read_priority_array(address, AV1)
    assert slots[7] is None and slots[15] == 22.5
    assert (await client.read_values(address, [AV1])).values[AV1] == 22.5
    assert [(o.object_id, o.priority) for o in client.overrides] == [(AV1, 16)]

    await client.write(address, BO1, False, priority=12)
    await client.write(address, MSV1, 2)
    await client.write(address, AO1, 75.0, priority=10)
    values = (await client.read_values(address, [BO1, MSV1, AO1])).values
    assert values == {BO1: False, MSV1: 2, AO1: 75.0}
    assert len(client.overrides) == 4

    assert await client.release_all() == {}
    assert client.overrides == []
    for object_id in (AV1, BO1, MSV1, AO1):
        assert await client.read_priority_array(address, object_id) == [None] * 16, object_id
    # Back to the relinquish defaults.
    values = (await client.read_values(address, [AV1, BO1, MSV1, AO1])).values
    assert values == {AV1: 21.0, BO1: True, MSV1: 4, AO1: 30.0}


async def test_stop_relinquishes_what_is_still_commanded(sim_factory: Callable[..., SimProcess]) -> None:
    sim = sim_factory("--static")
    bacnet = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=1.0, default_priority=9)
    await bacnet.start()
    await bacnet.write(sim.address, AV1, 25.0)
    await bacnet.stop()
    checker = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=1.0)
    await checker.start()
    try:
        assert await checker.read_priority_array(sim.address, AV1) == [None] * 16
    finally:
        await checker.stop()


async def test_invalid_writes_are_refused_before_sending(
    static_sim: SimProcess, client: BacnetClient
) -> None:
    with pytest.raises(ValueError, match="priority"):
        await client.write(static_sim.address, AV1, 20.0, priority=6)
    with pytest.raises(ValueError, match="priority"):
        await client.write(static_sim.address, AV1, 20.0, priority=17)
    with pytest.raises(ValueError, match="finite number"):
        await client.write(static_sim.address, AV1, float("nan"))
    with pytest.raises(ValueError, match="state number"):
        await client.write(static_sim.address, MSV1, 0)
    with pytest.raises(ValueError, match="relinquish"):
        await client.write(static_sim.address, BO1, None)
    assert client.overrides == []


async def test_write_error_from_the_device_is_per_object(
    static_sim: SimProcess, client: BacnetClient
) -> None:
    with pytest.raises(BacnetError, match="unknown-object") as err:
        await client.write(static_sim.address, ("analogValue", 77), 1.0)
    assert err.value.code == "unknown-object"
    assert client.overrides == []


# ----- unreachable


async def test_unreachable_device_is_a_clear_error_then_backs_off(client: BacnetClient) -> None:
    address = f"127.0.0.1:{free_udp_port('127.0.0.1')}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable, match="no I-Am answer within 1 s"):
        await client.discover_at(address)
    assert time.monotonic() - started < 2.0
    with pytest.raises(DeviceUnreachable, match="next attempt in 1 s"):
        await client.read_values(address, [AI1])


async def test_device_that_goes_away_is_unreachable_and_comes_back(
    sim_factory: Callable[..., SimProcess],
) -> None:
    sim = sim_factory("--static")
    now = [1000.0]
    bacnet = BacnetClient(f"127.0.0.1:{free_udp_port('127.0.0.1')}", timeout=0.6, clock=lambda: now[0])
    await bacnet.start()
    try:
        assert (await bacnet.read_values(sim.address, [AI1])).values == {AI1: 23.0}
        sim.stop()
        with pytest.raises(DeviceUnreachable, match=r"no response within 0\.6 s"):
            await bacnet.read_values(sim.address, [AI1])
        with pytest.raises(DeviceUnreachable, match="next attempt"):
            await bacnet.read_values(sim.address, [AI1])
        with pytest.raises(DeviceUnreachable, match="next attempt"):
            await bacnet.write(sim.address, AV1, 20.0)
        assert bacnet.overrides == []  # never sent: nothing to relinquish
        now[0] += 2
        with pytest.raises(DeviceUnreachable, match="no response"):
            await bacnet.write(sim.address, AV1, 20.0)
        # Sent but not answered: it may have been applied, so it is remembered.
        assert [(o.object_id, o.priority) for o in bacnet.overrides] == [(AV1, 16)]
        sim.start()  # same port
        now[0] += 10
        assert (await bacnet.read_values(sim.address, [AI1])).values == {AI1: 23.0}
        assert await bacnet.release_all() == {}
        assert bacnet.overrides == []
    finally:
        await bacnet.stop()


async def test_local_port_in_use_is_refused(client: BacnetClient) -> None:
    twin = BacnetClient(f"127.0.0.1:{client.port}")
    with pytest.raises(OSError, match=f"cannot bind BACnet/IP to 127.0.0.1:{client.port}"):
        await twin.start()
    with pytest.raises(ValueError, match="IPv4"):
        BacnetClient("bacnet.local:47808")

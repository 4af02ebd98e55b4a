"""ioStack entities: every entity by snapshot, values, one-wire discovery, guards, failures."""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from unittest.mock import AsyncMock, PropertyMock, patch

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.requirements import RequirementsNotFound
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.energy_local.const import DOMAIN, EntryType
from custom_components.energy_local.ekm_bus.iostack.backend import (
    EKMDEVICE_REQUIREMENT,
    ISSUE_BACKEND_MISSING,
)
from tests.conftest import only_platform
from tests.ekm_bus.helpers import V4_ADDRESS, SimBus, bus_entry, meter_subentry, setup_entry
from tests.ekm_bus.iostack.helpers import (
    IOSTACK_ADDRESS,
    forget_ekmdevice,
    iostack_subentry,
    start_tcp_bus,
)

PROCESS = "custom_components.energy_local.ekm_bus.iostack.backend.async_process_requirements"
PULSES = [
    {"kind": "water", "factor": 10.0},
    {"kind": "gas", "factor": 0.01},
    {"kind": "energy", "factor": 0.001},
    {"kind": "none", "factor": 1.0},
]
ANALOG = [
    {"scale": 0.001, "offset": 0.0, "unit": "V"},
    {"scale": 0.1, "offset": -40.0, "unit": "°C"},
]
DEV = "sensor.boiler_room"
METER_POWER = "sensor.omnimeter_300001285_power"


def boiler_room() -> object:
    return iostack_subentry(name="Boiler room", pulses=PULSES, analog=ANALOG)


@pytest.fixture
def all_entities_enabled() -> Iterator[None]:
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


async def refresh(hass: HomeAssistant, entry: object) -> None:
    await entry.runtime_data.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR])
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
    platform: Platform,
) -> None:
    await hass.config.async_set_time_zone("UTC")
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    device.pulse_counts = [100, 250, 4000, 7]
    device.ow_thl[1] |= {"humidity": 48, "lux": 320}
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    # A fixed entry id: unique ids contain it, the snapshot must not change from run to run.
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JIOSTACKTESTBUS000000000",
        title=entry.title,
        data=dict(entry.data),
        subentries_data=[boiler_room()],
    )
    with only_platform(EntryType.EKM_BUS, platform):
        await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_values_and_device(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    device.pulse_counts = [100, 250, 4000, 7]
    device.di_levels = 0b0101
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    await setup_entry(hass, entry)
    water = hass.states.get(f"{DEV}_water_input_1")
    assert water.state == "1000.0"  # 100 pulses x 10 L
    assert water.attributes["device_class"] == "water"
    assert water.attributes["unit_of_measurement"] == "L"
    assert water.attributes["state_class"] == "total_increasing"
    gas = hass.states.get(f"{DEV}_gas_input_2")
    assert (gas.state, gas.attributes["unit_of_measurement"]) == ("2.5", "m³")
    assert gas.attributes["device_class"] == "gas"
    energy = hass.states.get(f"{DEV}_energy_input_3")
    assert (energy.state, energy.attributes["unit_of_measurement"]) == ("4.0", "kWh")
    assert energy.attributes["device_class"] == "energy"
    assert hass.states.get(f"{DEV}_pulse_count_input_4").state == "7"
    # Analog: 2405 x 0.001 V; 1095 x 0.1 - 40 °C; inputs 3 and 4 raw, without a unit.
    analog_1 = hass.states.get(f"{DEV}_analog_input_1")
    assert (analog_1.state, analog_1.attributes["unit_of_measurement"]) == ("2.405", "V")
    assert hass.states.get(f"{DEV}_analog_input_2").state == "69.5"
    analog_3 = hass.states.get(f"{DEV}_analog_input_3")
    assert analog_3.state == "905"
    assert "unit_of_measurement" not in analog_3.attributes
    # State_Inputs 0b0101 and State_Out 1.
    inputs = [hass.states.get(f"binary_sensor.boiler_room_input_{n}").state for n in (1, 2, 3, 4)]
    assert inputs == [STATE_ON, STATE_OFF, STATE_ON, STATE_OFF]
    outputs = [hass.states.get(f"binary_sensor.boiler_room_output_{n}").state for n in (1, 2, 3, 4)]
    assert outputs == [STATE_ON, STATE_OFF, STATE_OFF, STATE_OFF]
    # The ioStack is a device under the bus, like the meters.
    registry = dr.async_get(hass)
    iostack = registry.async_get_device_by_identifier(
        (DOMAIN, f"iostack_{entry.entry_id}_{IOSTACK_ADDRESS}"), entry.entry_id
    )
    assert iostack is not None
    assert (iostack.name, iostack.model, iostack.sw_version) == ("Boiler room", "ioStack", "99.2")
    assert iostack.serial_number == "0009ffffffffffff4e4553157009000e"
    assert iostack.via_device_id == entry.runtime_data.bus_device_id
    # Meters on the same bus are read in the same cycle.
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
    # Values follow the ioStack.
    device.pulse_counts = [101, 250, 4000, 9]
    device.do_levels = 0b1000
    await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_water_input_1").state == "1000.0"  # waits for agreement
    await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_water_input_1").state == "1010.0"
    assert hass.states.get(f"{DEV}_pulse_count_input_4").state == "9"
    assert hass.states.get("binary_sensor.boiler_room_output_4").state == STATE_ON
    assert hass.states.get("binary_sensor.boiler_room_output_1").state == STATE_OFF


async def test_one_wire_sensors_as_they_are_found(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
) -> None:
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    await setup_entry(hass, entry)
    temperatures = [hass.states.get(f"{DEV}_temperature_{p}_1") for p in (1, 2, 3, 4)]
    assert [t.state for t in temperatures] == ["18.0", "18.6", "19.1", "20.3"]
    assert temperatures[0].attributes["device_class"] == "temperature"
    assert temperatures[0].attributes["unit_of_measurement"] == "°C"
    # Humidity 255 and lux 65535 mean "no such sensor": no entity at all.
    ours = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    assert not [e for e in ours if "humidity" in e.entity_id or "illuminance" in e.entity_id]

    # A humidity/light sensor shows up on port 2, and a second sensor on port 3.
    device.ow_thl[1] |= {"humidity": 48, "lux": 320}
    device.ow_thl.append({"slot": 34, "temp": 55, "humidity": 255, "lux": 65535})
    await refresh(hass, entry)
    humidity = hass.states.get(f"{DEV}_humidity_2_1")
    assert (humidity.state, humidity.attributes["unit_of_measurement"]) == ("48", "%")
    lux = hass.states.get(f"{DEV}_illuminance_2_1")
    assert (lux.state, lux.attributes["device_class"]) == ("320", "illuminance")
    assert hass.states.get(f"{DEV}_temperature_3_2").state == "5.5"
    assert hass.states.get(f"{DEV}_humidity_1_1") is None

    # Humidity back at its "no sensor" value, the port-3 sensor unplugged: unavailable.
    device.ow_thl[1]["humidity"] = 255
    device.ow_thl.pop()
    await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_humidity_2_1").state == STATE_UNAVAILABLE
    assert hass.states.get(f"{DEV}_illuminance_2_1").state == "320"
    assert hass.states.get(f"{DEV}_temperature_3_2").state == STATE_UNAVAILABLE
    assert hass.states.get(f"{DEV}_temperature_3_1").state == "19.1"


async def test_counter_totals_never_go_backwards(
    hass: HomeAssistant,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    device.pulse_counts = [100, 250, 4000, 7]
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    await setup_entry(hass, entry)
    caplog.set_level(logging.INFO)
    device.pulse_counts = [0, 200, 3999, 3]  # a glitch: lower for two polls, then back
    for _ in range(2):
        await refresh(hass, entry)
        assert hass.states.get(f"{DEV}_water_input_1").state == "1000.0"
        assert hass.states.get(f"{DEV}_gas_input_2").state == "2.5"
        assert hass.states.get(f"{DEV}_energy_input_3").state == "4.0"
        assert hass.states.get(f"{DEV}_pulse_count_input_4").state == "7"
    ours = [r for r in caplog.records if r.name.startswith("custom_components.energy_local")]
    assert not [r for r in ours if r.levelno >= logging.WARNING]  # held quietly
    assert entry.runtime_data.diagnostics.guarded_totals[f"iostack_{IOSTACK_ADDRESS}_water_1"] == 2
    device.pulse_counts = [101, 250, 4000, 8]
    for _ in range(2):  # an increase is published once the next reading agrees
        await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_water_input_1").state == "1010.0"
    assert hass.states.get(f"{DEV}_pulse_count_input_4").state == "8"


async def test_a_corrupted_high_count_is_never_published(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    device.pulse_counts = [100, 250, 4000, 7]
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    await setup_entry(hass, entry)
    shown: list[str] = []
    for counts in ([3100, 250, 4000, 7], [101, 250, 4000, 7], [102, 250, 4000, 7]):
        device.pulse_counts = counts  # one reading carries a digit gone wrong
        await refresh(hass, entry)
        shown.append(hass.states.get(f"{DEV}_water_input_1").state)
    assert shown == ["1000.0", "1000.0", "1010.0"]


async def test_a_counter_that_stays_lower_was_reset(
    hass: HomeAssistant,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Lower for three polls in a row: a reset (published, logged once), not a glitch."""
    device = ekmdevice_standin.devices[IOSTACK_ADDRESS]
    device.pulse_counts = [100, 250, 4000, 7]
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    await setup_entry(hass, entry)
    caplog.set_level(logging.INFO)
    device.pulse_counts = [0, 200, 3999, 3]
    for _ in range(2):
        await refresh(hass, entry)
        assert hass.states.get(f"{DEV}_water_input_1").state == "1000.0"
    await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_water_input_1").state == "0.0"
    assert hass.states.get(f"{DEV}_pulse_count_input_4").state == "3"
    warnings = [r for r in caplog.records if "taken as a reset" in r.getMessage()]
    assert len(warnings) == 4  # once per total
    device.pulse_counts = [2, 200, 3999, 4]
    for _ in range(2):
        await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_water_input_1").state == "20.0"  # counting on


async def test_a_restored_total_is_the_floor(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    ekmdevice_standin.devices[IOSTACK_ADDRESS].pulse_counts = [100, 0, 0, 0]
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(f"{DEV}_water_input_1", "5000.0"),
                {"native_value": 5000.0, "native_unit_of_measurement": "L"},
            )
        ],
    )
    await setup_entry(hass, bus_entry(ekm_bus.port, [boiler_room()]))
    assert hass.states.get(f"{DEV}_water_input_1").state == "5000.0"


async def test_a_failing_iostack_only_takes_its_own_entities(
    hass: HomeAssistant,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import ekmdevice  # noqa: PLC0415  (the stand-in, importable only in these tests)

    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    await setup_entry(hass, entry)
    assert hass.states.get(f"{DEV}_temperature_1_1").state == "18.0"
    caplog.set_level(logging.INFO)
    ekmdevice_standin.errors[IOSTACK_ADDRESS] = ekmdevice.EKMDeviceError("no response")
    for _ in range(3):
        await refresh(hass, entry)
    assert entry.runtime_data.last_update_success
    for entity_id in (
        f"{DEV}_temperature_1_1",
        f"{DEV}_water_input_1",
        f"{DEV}_analog_input_1",
        "binary_sensor.boiler_room_input_1",
        "binary_sensor.boiler_room_output_1",
    ):
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE, entity_id
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
    gone = [r for r in caplog.records if "is not answering" in r.getMessage()]
    assert len(gone) == 1
    assert IOSTACK_ADDRESS in gone[0].getMessage()
    assert entry.runtime_data.diagnostics.iostack_failures[IOSTACK_ADDRESS] == 3
    del ekmdevice_standin.errors[IOSTACK_ADDRESS]
    await refresh(hass, entry)
    assert hass.states.get(f"{DEV}_temperature_1_1").state == "18.0"
    back = [r for r in caplog.records if "is answering again" in r.getMessage()]
    assert len(back) == 1


async def test_no_meter_traffic_while_ekmdevice_has_the_port(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    """ekmdevice locks the port exclusively: it could not, were the bus still holding it."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    await setup_entry(hass, entry)
    bus = entry.runtime_data.bus
    seen_open: list[bool] = []
    original = ekmdevice_standin.Device.read_data

    def spy(self: object, *, include_b: bool) -> dict[str, object]:
        seen_open.append(bus.is_open)
        return original(self, include_b=include_b)

    with patch.object(ekmdevice_standin.Device, "read_data", spy):
        await refresh(hass, entry)
    assert seen_open == [False]
    assert bus.is_open  # taken back for the meters
    assert bus.stats.hand_offs >= 2
    assert hass.states.get(f"{DEV}_temperature_1_1").state == "18.0"
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


async def test_cancelled_read_takes_the_port_back_only_once_ekmdevice_let_go(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    reading = threading.Event()
    release = threading.Event()
    original = ekmdevice_standin.Device.read_data

    def slow(self: object, *, include_b: bool) -> dict[str, object]:
        reading.set()
        release.wait(5)
        return original(self, include_b=include_b)

    with patch.object(ekmdevice_standin.Device, "read_data", slow):
        task = hass.async_create_task(
            coordinator.async_read_iostack(coordinator.iostack_api, IOSTACK_ADDRESS)
        )
        await hass.async_add_executor_job(reading.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        # ekmdevice still has the port in its thread: the bus must not take it back yet.
        assert not task.done()
        assert not coordinator.bus.is_open
        assert ekmdevice_standin.open_ports == {ekm_bus.port}
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert ekmdevice_standin.open_ports == set()
    assert coordinator.bus.is_open
    await refresh(hass, entry)
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


async def test_install_failure_leaves_meters_working(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    forget_ekmdevice()  # ekmdevice is not installed
    hass.config.skip_pip = False
    failure = RequirementsNotFound(DOMAIN, [EKMDEVICE_REQUIREMENT])
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    with patch(PROCESS, AsyncMock(side_effect=failure)):
        await setup_entry(hass, entry)
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
    assert hass.states.get(f"{DEV}_water_input_1").state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.boiler_room_input_1").state == STATE_UNAVAILABLE
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING)
    assert issue is not None
    assert issue.translation_placeholders == {"requirement": EKMDEVICE_REQUIREMENT}


async def test_a_socket_bus_with_an_iostack_raises_an_issue(
    hass: HomeAssistant, ekmdevice_standin: ModuleType, socket_enabled: None
) -> None:
    sim, url = await start_tcp_bus()
    try:
        entry = bus_entry(url, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
        await setup_entry(hass, entry)
        assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
        assert hass.states.get(f"{DEV}_water_input_1").state == STATE_UNAVAILABLE
        issue_id = f"iostack_port_{entry.entry_id}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "iostack_port_unsupported"
        assert issue.translation_placeholders["port"] == url
        assert url in issue.translation_placeholders["error"]

        # Were ekmdevice to open the URL after all, the issue goes and the ioStack is read.
        @contextlib.contextmanager
        def opens_urls(port: str, device_type: str) -> Iterator[object]:
            yield SimpleNamespace(is_open=True, port=port)

        with patch("ekmdevice.ekmserial.create_serial_port", opens_urls):
            await refresh(hass, entry)
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        assert hass.states.get(f"{DEV}_temperature_1_1").state == "18.0"
        assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_removing_an_iostack_reloads_the_bus(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), boiler_room()])
    await setup_entry(hass, entry)
    subentry_id = next(iter(entry.runtime_data.iostacks))
    assert hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.iostacks == {}
    assert hass.states.get(f"{DEV}_water_input_1") is None
    calls = len(ekmdevice_standin.calls)
    await refresh(hass, entry)
    assert len(ekmdevice_standin.calls) == calls  # no ioStack, no hand-off
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
) -> None:
    entry = bus_entry(ekm_bus.port, [boiler_room()])
    await setup_entry(hass, entry)
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    iostack = result["iostacks"][IOSTACK_ADDRESS]
    assert iostack["name"] == "Boiler room"
    assert iostack["available"] is True
    assert iostack["read_data"]["OW_1_1_degC"] == 18.0
    assert iostack["status"]["chip_id"] == "0009ffffffffffff4e4553157009000e"
    assert iostack["analog_inputs"][0] == {"scale": 0.001, "offset": 0.0, "unit": "V"}
    assert result["bus"]["ekmdevice_loaded"] is True
    assert result["bus"]["iostack_port_error"] is None
    assert result["bus"]["statistics"]["hand_offs"] >= 1

"""Setting up, unloading and polling an EKM bus through the simulator on a pty."""

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm import EkmBus, MeterVersion
from simulators.ekm_bus import Direction
from tests.ekm_bus.helpers import (
    ROOT,
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
)

V4_POWER = "sensor.omnimeter_300001285_power"
V4_IMPORT = "sensor.omnimeter_300001285_energy_import"


async def test_setup_reads_every_meter_and_unload_releases_the_port(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    by_serial = {d.serial_number: d for d in devices if d.serial_number}
    assert set(by_serial) == {V4_ADDRESS, V3_ADDRESS}
    assert by_serial[V4_ADDRESS].model == "Omnimeter v4"
    assert by_serial[V4_ADDRESS].sw_version == "45"
    bus_device = next(d for d in devices if d.serial_number is None)
    assert by_serial[V4_ADDRESS].via_device_id == bus_device.id

    state = hass.states.get("sensor.omnimeter_300001285_energy_import")
    assert state is not None
    assert float(state.state) > 0

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    # The port is free again: another client can open it at once.
    other = EkmBus(ekm_bus.port)
    reading = await other.read_meter(V4_ADDRESS, MeterVersion.V4)
    assert reading.address == V4_ADDRESS
    await other.close()


async def test_missing_port_retries_setup(hass: HomeAssistant) -> None:
    entry = bus_entry("/dev/does-not-exist-ekm", [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_a_silent_meter_is_unavailable_alone_and_logged_once(
    hass: HomeAssistant, ekm_bus: SimBus, caplog: pytest.LogCaptureFixture
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    v3_power = "sensor.omnimeter_10006388_power"
    v4_power = "sensor.omnimeter_300001285_power"
    assert hass.states.get(v3_power).state != STATE_UNAVAILABLE

    ekm_bus.meter(V3_ADDRESS).silent = True
    caplog.set_level(logging.INFO)
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert hass.states.get(v3_power).state == STATE_UNAVAILABLE
    assert hass.states.get(v4_power).state != STATE_UNAVAILABLE
    assert caplog.text.count("10006388 is not answering") == 1

    ekm_bus.meter(V3_ADDRESS).silent = False
    for _ in range(2):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert hass.states.get(v3_power).state != STATE_UNAVAILABLE
    assert caplog.text.count("10006388 is answering again") == 1


async def test_options_change_interval_without_reload(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    hass.config_entries.async_update_entry(entry, options={"poll_interval": 30, "block_b_every": 5})
    await hass.async_block_till_done()
    assert entry.runtime_data is coordinator  # not reloaded
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 30
    assert coordinator.block_b_every == 5


async def test_removing_a_meter_removes_its_device(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    v3_sub = next(s for s in entry.subentries.values() if s.unique_id == V3_ADDRESS)
    assert hass.config_entries.async_remove_subentry(entry, v3_sub.subentry_id)
    await hass.async_block_till_done()
    device_registry = dr.async_get(hass)
    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, V3_ADDRESS), entry.entry_id) is None
    )
    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, V4_ADDRESS), entry.entry_id)
        is not None
    )
    assert er.async_get(hass).async_get("sensor.omnimeter_10006388_power") is None
    assert entry.state is ConfigEntryState.LOADED


async def test_a_slow_bus_raises_a_repair_issue(
    hass: HomeAssistant, ekm_bus: SimBus, issue_registry: ir.IssueRegistry
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    issue_id = f"poll_overrun_{entry.entry_id}"
    coordinator.poll_interval = timedelta(microseconds=1)  # no bus can read a meter this fast
    await coordinator.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    coordinator.poll_interval = timedelta(seconds=10)
    await coordinator.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_block_b_every_third_poll_keeps_its_values(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)], block_b_every=3)
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    ekm_bus.sim.transcript.clear()
    for _ in range(6):
        await coordinator.async_refresh()
        reading = next(iter(coordinator.data.values())).reading
        assert reading is not None
        assert reading.values["CT_Ratio"] == 200  # carried over between B reads
    await hass.async_block_till_done()
    host = [e.data for e in ekm_bus.sim.transcript if e.direction is Direction.HOST]
    b_reads = host.count(b"/?00030000128501!\r\n")
    assert b_reads == 2
    assert host.count(b"/?00030000128500!\r\n") == 6


async def test_home_assistant_stop_releases_the_port(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    assert entry.runtime_data.bus.is_open
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not entry.runtime_data.bus.is_open


def test_the_libraries_import_without_home_assistant() -> None:
    code = (
        "import sys; import custom_components.energy_local.ekm, "
        "custom_components.energy_local.powersensor; "
        "assert not any(m.split('.')[0] == 'homeassistant' for m in sys.modules)"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()


async def test_a_silent_meter_keeps_its_values_for_two_polls(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    before = {e: hass.states.get(e).state for e in (V4_POWER, V4_IMPORT)}
    ekm_bus.meter(V4_ADDRESS).silent = True
    for failed in (1, 2):  # a lost reply or two on a noisy line: the last values stand
        await _poll(hass, entry)
        assert {e: hass.states.get(e).state for e in before} == before, failed
    await _poll(hass, entry)  # the third failed poll in a row
    assert hass.states.get(V4_POWER).state == STATE_UNAVAILABLE
    assert hass.states.get(V4_IMPORT).state == STATE_UNAVAILABLE


async def test_a_good_poll_starts_the_count_again(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    meter = ekm_bus.meter(V4_ADDRESS)
    for silent in (True, True, False, True, True, False, True, True):
        meter.silent = silent
        await _poll(hass, entry)
        assert hass.states.get(V4_POWER).state != STATE_UNAVAILABLE  # never 3 in a row


async def test_unavailable_after_option_applies_without_reload(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    hass.config_entries.async_update_entry(entry, options={"unavailable_after": 5})
    await hass.async_block_till_done()
    assert entry.runtime_data is coordinator  # not reloaded
    ekm_bus.meter(V4_ADDRESS).silent = True
    for _ in range(4):
        await _poll(hass, entry)
        assert hass.states.get(V4_POWER).state != STATE_UNAVAILABLE
    await _poll(hass, entry)
    assert hass.states.get(V4_POWER).state == STATE_UNAVAILABLE

    ekm_bus.meter(V4_ADDRESS).silent = False
    await _poll(hass, entry)
    assert hass.states.get(V4_POWER).state != STATE_UNAVAILABLE
    hass.config_entries.async_update_entry(entry, options={"unavailable_after": 1})
    await hass.async_block_till_done()
    assert entry.runtime_data is coordinator
    ekm_bus.meter(V4_ADDRESS).silent = True
    await _poll(hass, entry)  # one failed poll is enough now
    assert hass.states.get(V4_POWER).state == STATE_UNAVAILABLE

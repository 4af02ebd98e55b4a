"""The Powersensor home's guards in Home Assistant, against simulated plugs on 127.0.0.1.

Totals that never fall under faults, leases given back when Home Assistant stops, plugs back
within seconds of a reboot, a bounded number of sensors, stored state of older releases.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from homeassistant.const import (
    EVENT_HOMEASSISTANT_STOP,
    EVENT_STATE_CHANGED,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.powersensor import DiscoveredPlug, LinkTiming, Transport
from custom_components.energy_local.powersensor_home import coordinator, plugs
from simulators.powersensor_plug import Simulation
from tests.conftest import FakePlugBrowser
from tests.ekm_bus.helpers import wait_for
from tests.powersensor_home.helpers import FAST, home_entry, plugs_of, start_sim, state_value

PLUG = "246f280487a4"
MAINS = "bcddc247d1f5"
PLUG_ENERGY = "sensor.powersensor_plug_0487a4_energy"
WATER = "sensor.powersensor_water_sensor_47d338_water"
HOUSEHOLD_ENERGY = (
    "sensor.household_from_grid_energy",
    "sensor.household_to_grid_energy",
    "sensor.household_home_usage_energy",
    "sensor.household_solar_generation_energy",
)
STORE_KEY = "energy_local.powersensor.{}"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Simulation]:
    simulation = await start_sim()
    yield simulation
    await simulation.stop()


async def _setup(hass: HomeAssistant, sim: Simulation, **options: object) -> MockConfigEntry:
    entry = home_entry(plugs_of(sim), **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _record_states(hass: HomeAssistant, entity_ids: tuple[str, ...]) -> dict[str, list[float]]:
    """Every numeric state written for ``entity_ids``, in order."""
    written: dict[str, list[float]] = {entity_id: [] for entity_id in entity_ids}

    def record(event: Event[EventStateChangedData]) -> None:
        entity_id, new = event.data["entity_id"], event.data["new_state"]
        if entity_id in written and new is not None:
            with contextlib.suppress(ValueError):
                written[entity_id].append(float(new.state))

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    return written


async def test_totals_never_decrease_under_reorder_duplicate_and_corrupt_faults(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    options = dataclasses.replace(
        FAST,
        reorder_probability=0.2,
        duplicate_probability=0.2,
        corrupt_probability=0.05,
        reset_every=7,
        restart_large_every=11,
    )
    simulation = await start_sim(options)
    try:
        totals = (PLUG_ENERGY, WATER, *HOUSEHOLD_ENERGY)
        written = _record_states(hass, totals)
        entry = await _setup(hass, simulation, power_interval=0)  # write every display step
        # Solar and export stay at zero at the simulated hour: the others must move.
        moving = (PLUG_ENERGY, WATER, HOUSEHOLD_ENERGY[0], HOUSEHOLD_ENERGY[2])
        await wait_for(lambda: all(len(written[e]) >= 5 for e in moving), within=30)
        # Absurd steps are 5 % of corrupted readings: wait until the guards have met one.
        await wait_for(
            lambda: any("physically" in r.getMessage() for r in caplog.records), within=30
        )
        for entity_id, values in written.items():
            assert values == sorted(values), entity_id
        # The faults happened, and the guards saw them.
        stats = [total.stats for total in entry.runtime_data.totals.values()]
        assert sum(s.out_of_order + s.duplicates for s in stats) > 0
        # An impossible step is logged once per total, however often it happens.
        bounded = [r.args for r in caplog.records if "physically" in r.getMessage()]
        assert bounded  # the corrupt faults include absurd steps
        assert len(bounded) == len(set(bounded))
        assert len(bounded) == sum(s.bounded > 0 for s in stats)
    finally:
        await simulation.stop()


async def test_plug_reboot_resumes_readings_within_5_s(
    hass: HomeAssistant, sim: Simulation
) -> None:
    entry = await _setup(hass, sim)  # the library's own link timing
    home = entry.runtime_data
    await wait_for(lambda: sim.plugs[0].subscriber_count == 1, within=5)
    updates: list[float] = []

    def reading() -> None:  # a reading makes the plug available; a lost link does not
        if home.data.devices[PLUG].available:
            updates.append(asyncio.get_running_loop().time())

    home.async_add_listener(reading, PLUG)
    await sim.plugs[0].reboot(2.0)  # forgets its subscribers
    back = asyncio.get_running_loop().time()
    await wait_for(lambda: any(t > back for t in updates), within=5)


async def test_zeroconf_reannouncement_resubscribes_at_once(
    hass: HomeAssistant, sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Probes and retries slow enough that only the announcement can bring the plug back.
    slow = LinkTiming(quiet_after_s=30, probe_interval_s=30, retry_unit_s=30)
    monkeypatch.setattr(plugs, "LINK_TIMING", slow)
    entry = await _setup(hass, sim)
    plug = sim.plugs[0]
    await wait_for(lambda: plug.subscriber_count == 1, within=5)
    await plug.reboot(0.2)
    assert plug.subscriber_count == 0
    await asyncio.sleep(1.0)
    assert plug.subscriber_count == 0  # nothing else asks this soon
    browser = FakePlugBrowser.instances[-1]
    browser.on_found(DiscoveredPlug(PLUG, "127.0.0.1", plug.port, Transport.UDP))
    await wait_for(lambda: plug.subscriber_count == 1, within=1)
    assert entry.runtime_data.clients[PLUG].link.stats.resubscribes >= 1


async def test_home_assistant_stop_unsubscribes_so_a_restart_has_one_subscriber_per_plug(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    simulation = await start_sim(plugs=2)
    try:
        entry = await _setup(hass, simulation)
        await wait_for(lambda: all(p.subscriber_count == 1 for p in simulation.plugs), within=5)
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
        await hass.async_block_till_done()
        await wait_for(lambda: all(p.subscriber_count == 0 for p in simulation.plugs), within=5)
        # The next start (here: the entry set up again) is each plug's only subscriber.
        assert await hass.config_entries.async_unload(entry.entry_id)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_for(lambda: all(p.subscriber_count == 1 for p in simulation.plugs), within=5)
        await asyncio.sleep(0.5)
        assert [p.subscriber_count for p in simulation.plugs] == [1, 1]
    finally:
        await simulation.stop()


async def test_sensors_beyond_the_cap_are_ignored_logged_once_and_counted(
    hass: HomeAssistant,
    sim: Simulation,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(coordinator, "MAX_SENSORS", 2)
    entry = await _setup(hass, sim)
    home = entry.runtime_data
    await wait_for(lambda: home.ignored_sensor_readings > 10, within=10)
    assert len(home.sensor_macs()) == 2
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    sensors = [d for d in devices if d.model == "Sensor"]
    assert len(sensors) == 2
    warnings = [r for r in caplog.records if "sensors relayed" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


async def test_household_is_a_service_signal_in_dbm_battery_voltage_diagnostic(
    hass: HomeAssistant, sim: Simulation
) -> None:
    entry = await _setup(hass, sim)
    voltage = f"sensor.powersensor_mains_sensor_{MAINS[-6:]}_battery_voltage"
    await wait_for(lambda: state_value(hass, voltage) is not None, within=10)
    await wait_for(lambda: state_value(hass, HOUSEHOLD_ENERGY[2]) is not None, within=10)
    volts = state_value(hass, voltage)
    assert volts is not None
    assert 3.0 < volts < 4.5
    registry = er.async_get(hass)
    entity = registry.async_get(voltage)
    assert entity is not None
    assert entity.unique_id == f"{MAINS}_battery_voltage"
    assert entity.entity_category is EntityCategory.DIAGNOSTIC
    assert entity.translation_key == "ps_battery_voltage"
    signal = hass.states.get(f"sensor.powersensor_mains_sensor_{MAINS[-6:]}_signal_strength")
    assert signal is not None
    assert signal.attributes["unit_of_measurement"] == SIGNAL_STRENGTH_DECIBELS_MILLIWATT
    household = dr.async_get(hass).async_get_device_by_identifier(
        ("energy_local", "powersensor_household"), entry.entry_id
    )
    assert household is not None
    assert household.entry_type is dr.DeviceEntryType.SERVICE


async def test_totals_stored_by_an_older_release_load_and_carry_on(
    hass: HomeAssistant, sim: Simulation, hass_storage: dict[str, Any]
) -> None:
    entry = home_entry(plugs_of(sim), power_interval=0)
    # The former ContinuousTotal format, as release 0.1.0 stored it.
    hass_storage[STORE_KEY.format(entry.entry_id)] = {
        "version": 1,
        "key": STORE_KEY.format(entry.entry_id),
        "data": {
            "totals": {
                f"{PLUG}:energy": {"base": 7.2e6, "last_raw": 3.6e6, "last_reset": 1_700_000_000},
                f"{MAINS}:energy": {"base": -3.6e6, "last_raw": 1.8e6, "last_reset": 1_700_000_000},
                "household:home_usage": {
                    "base": 36e6,
                    "last_raw": 0.0,
                    "last_reset": 1_700_000_000,
                },
            },
            "devices": {
                PLUG: {"kind": "plug", "via": None, "role": None},
                MAINS: {"kind": "sensor", "via": PLUG, "role": "house-net"},
            },
            "household": {"version": 999},  # unreadable: dropped with a log line, not a failure
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    home = entry.runtime_data
    assert home.totals[f"{PLUG}:energy"].value >= 10.8e6
    assert home.totals[f"{MAINS}:energy"].value is not None  # a negative net base loads
    assert home.totals["household:home_usage"].value >= 36e6
    await hass.async_block_till_done()
    await wait_for(lambda: (state_value(hass, PLUG_ENERGY) or 0) > 3.0, within=10)
    await wait_for(lambda: (state_value(hass, HOUSEHOLD_ENERGY[2]) or 0) >= 10.0, within=10)


async def test_a_refresh_request_changes_nothing(
    hass: HomeAssistant, sim: Simulation, caplog: pytest.LogCaptureFixture
) -> None:
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    entry = await _setup(hass, sim)
    await wait_for(lambda: state_value(hass, PLUG_ENERGY) is not None, within=10)
    assert await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": PLUG_ENERGY}, blocking=True
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.last_update_success
    assert "Error" not in caplog.text
    assert state_value(hass, PLUG_ENERGY) is not None

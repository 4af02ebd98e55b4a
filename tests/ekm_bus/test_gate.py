"""The meters' plausibility gates in Home Assistant: baselines kept across a reload or restart."""

from types import SimpleNamespace
from typing import Any

import pytest
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import mock_restore_cache_with_extra_data

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm_bus import gates as gates_module
from simulators.ekm_bus import EkmBusSimulator, FaultKind, LineConfig
from tests.ekm_bus.helpers import (
    V4_ADDRESS,
    MidpointRng,
    SimBus,
    bus_entry,
    frozen_clock,
    meter_subentry,
    schedule_upward_escape,
    setup_entry,
)

IMPORT = "sensor.omnimeter_300001285_energy_import"


def _store_key(entry_id: str) -> str:
    return f"{DOMAIN}.ekm_gates.{entry_id}"


def true_import(bus: SimBus) -> float:
    values = bus.meter(V4_ADDRESS).values()
    return round(float(values["kWh_Tot"]) - float(values["Rev_kWh_Tot"]), 3)  # type: ignore[arg-type]


async def test_gate_baselines_survive_a_reload(
    hass: HomeAssistant, ekm_bus: SimBus, hass_storage: dict[str, Any]
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    subentry_id = next(iter(entry.subentries))
    await entry.runtime_data.async_refresh()
    published = dict(entry.runtime_data.gates[subentry_id].published)
    assert published["kWh_Tot"] > 0

    ekm_bus.clock.advance(600)  # energy counted while the bus reloads
    true_total = schedule_upward_escape(ekm_bus)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[_store_key(entry.entry_id)]["data"][V4_ADDRESS]
    assert stored["published"]["kWh_Tot"] >= published["kWh_Tot"]  # written on unload

    gate = entry.runtime_data.gates[subentry_id]
    assert ekm_bus.sim.faults.injected[FaultKind.CRC_ESCAPE] == 1
    assert gate.published["kWh_Tot"] <= true_total  # the escape was not taken
    assert float(hass.states.get(IMPORT).state) <= true_import(ekm_bus)
    for _ in range(2):  # and real energy still flows
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
    assert gate.published["kWh_Tot"] == true_total
    assert float(hass.states.get(IMPORT).state) == true_import(ekm_bus)


async def test_a_crc_escape_right_after_a_restart_is_not_published(
    hass: HomeAssistant, ekm_bus: SimBus, hass_storage: dict[str, Any]
) -> None:
    """What the last run stored (gate baselines, the entity's last total) holds the escape."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    values = ekm_bus.meter(V4_ADDRESS).values()
    baselines = {name: values[name] for name in ("kWh_Tot", "Rev_kWh_Tot")}
    hass_storage[_store_key(entry.entry_id)] = {
        "version": 1,
        "key": _store_key(entry.entry_id),
        "data": {V4_ADDRESS: {"version": 1, "ct_ratio": 200, "published": baselines}},
    }
    last = true_import(ekm_bus)
    mock_restore_cache_with_extra_data(
        hass,
        [(State(IMPORT, str(last)), {"native_value": last, "native_unit_of_measurement": "kWh"})],
    )
    true_total = schedule_upward_escape(ekm_bus)  # the first frame after the restart
    await setup_entry(hass, entry)

    assert ekm_bus.sim.faults.injected[FaultKind.CRC_ESCAPE] == 1
    gate = entry.runtime_data.gates[next(iter(entry.subentries))]
    assert gate.published["kWh_Tot"] == true_total
    assert float(hass.states.get(IMPORT).state) == last
    for _ in range(3):
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
        assert float(hass.states.get(IMPORT).state) == last
    assert gate.counters.held + gate.counters.inconsistent >= 1


async def test_import_never_exceeds_the_meters_import_when_export_is_held(
    hass: HomeAssistant, socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mostly exporting meter; one escape in the exporting line holds the reverse group."""
    sim = EkmBusSimulator(paced=False, seed=1)
    sim.clock = clock = frozen_clock()
    lines = [
        LineConfig(watts=300),
        LineConfig(watts=20000, power_factor="C087", exporting=True),
        LineConfig(watts=100),
    ]
    meter = sim.add_meter(V4_ADDRESS, 4, jitter=0.0, rng=MidpointRng(), lines=lines)
    monkeypatch.setattr(gates_module, "time", SimpleNamespace(monotonic=clock.now, time=clock.now))
    bus = SimBus(sim, clock, await sim.start_pty())
    try:
        entry = bus_entry(bus.port, [meter_subentry(V4_ADDRESS, 4)], poll_interval=3600)
        await setup_entry(hass, entry)
        for poll in range(6):
            clock.advance(60)  # 20 kW of export: Rev_kWh_Tot rises 3 steps per poll
            if poll == 3:
                schedule_upward_escape(bus, field="Rev_kWh_Ln_2")
            await entry.runtime_data.async_refresh()
            await hass.async_block_till_done()
            values = meter.values()
            true_import = float(values["kWh_Tot"]) - float(values["Rev_kWh_Tot"])  # type: ignore[arg-type]
            assert float(hass.states.get(IMPORT).state) <= true_import + 0.1 + 1e-6, poll
    finally:
        await sim.stop()

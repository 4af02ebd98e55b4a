"""Meter sensors: every entity by snapshot, the energy guard, restore, and change-only writes."""

import logging
from collections.abc import Iterator
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.const import EVENT_STATE_CHANGED, Platform
from homeassistant.core import Event, HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.energy_local.const import DOMAIN, EntryType
from tests.conftest import only_platform
from tests.ekm_bus.helpers import (
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
)

IMPORT = "sensor.omnimeter_300001285_energy_import"
PULSES = [
    {"kind": "water", "factor": 10.0},
    {"kind": "gas", "factor": 0.01},
    {"kind": "none", "factor": 1.0},
]


@pytest.fixture
def all_entities_enabled() -> Iterator[None]:
    """Enable the entities that are disabled by default, to snapshot all of them."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.SWITCH])
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    ekm_bus: SimBus,
    platform: Platform,
) -> None:
    await hass.config.async_set_time_zone("UTC")
    entry = bus_entry(
        ekm_bus.port,
        [meter_subentry(V4_ADDRESS, 4, pulses=PULSES), meter_subentry(V3_ADDRESS, 3)],
    )
    with only_platform(EntryType.EKM_BUS, platform):
        await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_import_export_follow_ekm_both_directions_total(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """kWh_Tot counts both directions: import = kWh_Tot - Rev_kWh_Tot."""
    await setup_entry(hass, bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)]))
    values = ekm_bus.meter(V4_ADDRESS).values()
    total, reverse = float(values["kWh_Tot"]), float(values["Rev_kWh_Tot"])  # type: ignore[arg-type]
    assert reverse > 0  # the simulated meter exports on one line
    assert float(hass.states.get(IMPORT).state) == pytest.approx(total - reverse, abs=0.25)
    export = hass.states.get("sensor.omnimeter_300001285_energy_export")
    assert float(export.state) == pytest.approx(reverse, abs=0.25)
    net = hass.states.get("sensor.omnimeter_300001285_net_energy")
    assert float(net.state) == pytest.approx(total - 2 * reverse, abs=0.25)
    assert net.attributes["state_class"] == "total"
    assert hass.states.get(IMPORT).attributes["state_class"] == "total_increasing"


async def test_a_total_never_goes_backwards(
    hass: HomeAssistant, ekm_bus: SimBus, caplog: pytest.LogCaptureFixture
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    before = float(hass.states.get(IMPORT).state)
    meter = ekm_bus.meter(V4_ADDRESS)
    caplog.set_level(logging.INFO)
    # Readings that pass every check but are lower (a glitching meter), twice: held quietly.
    high = list(meter.forward_kwh)
    meter.forward_kwh = [kwh * 0.6 for kwh in high]
    for _ in range(2):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert float(hass.states.get(IMPORT).state) == before
    assert "taken as a" not in caplog.text
    gate = coordinator.gates.diagnostics(next(iter(coordinator.meters)))
    assert gate["counters"]["held"] > 0

    meter.forward_kwh = [kwh + 100 for kwh in high]  # back, and higher
    for _ in range(2):  # confirmed by the second read
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert float(hass.states.get(IMPORT).state) > before


async def test_a_meter_that_reads_lower_for_three_polls_was_reset(
    hass: HomeAssistant,
    ekm_bus: SimBus,
    caplog: pytest.LogCaptureFixture,
    issue_registry: ir.IssueRegistry,
) -> None:
    """No total freezes: a meter replaced (or reset) is taken as such, logged once, explained."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    before = float(hass.states.get(IMPORT).state)
    meter = ekm_bus.meter(V4_ADDRESS)
    caplog.set_level(logging.INFO)
    meter.forward_kwh = [kwh * 0.1 for kwh in meter.forward_kwh]  # a new meter, far lower
    meter.reverse_kwh = [kwh * 0.1 for kwh in meter.reverse_kwh]
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    after = float(hass.states.get(IMPORT).state)
    assert after < before * 0.2
    assert caplog.text.count("taken as a meter reset or replacement") == 1
    subentry_id = next(iter(coordinator.meters))
    assert issue_registry.async_get_issue(DOMAIN, f"meter_reset_{subentry_id}") is not None
    ekm_bus.clock.advance(600)
    for _ in range(2):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert float(hass.states.get(IMPORT).state) > after  # and it counts on
    assert caplog.text.count("taken as a meter reset or replacement") == 1


async def test_restart_restores_the_high_water_mark(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(IMPORT, "99999.9"),
                {"native_value": 99999.9, "native_unit_of_measurement": "kWh"},
            )
        ],
    )
    await setup_entry(hass, bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)]))
    assert float(hass.states.get(IMPORT).state) == 99999.9


async def test_unchanged_values_write_no_state(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    writes: list[Event] = []
    hass.bus.async_listen(EVENT_STATE_CHANGED, writes.append)
    for _ in range(5):
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
    assert writes == []  # simulated time is frozen: nothing changed, nothing written

    ekm_bus.clock.advance(600)  # ten minutes of energy
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    # An increase is published once the next read confirms it: one poll late, never lost.
    assert IMPORT not in {e.data["entity_id"] for e in writes}
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert IMPORT in {e.data["entity_id"] for e in writes}


async def test_water_and_gas_inputs(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await setup_entry(hass, bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4, pulses=PULSES)]))
    counts = ekm_bus.meter(V4_ADDRESS).values()
    water = hass.states.get("sensor.omnimeter_300001285_water_input_1")
    assert water.attributes["device_class"] == "water"
    assert water.attributes["unit_of_measurement"] == "L"
    assert float(water.state) == pytest.approx(int(counts["Pulse_Cnt_1"]) * 10.0)  # type: ignore[arg-type]
    gas = hass.states.get("sensor.omnimeter_300001285_gas_input_2")
    assert gas.attributes["device_class"] == "gas"
    assert gas.attributes["unit_of_measurement"] == "m³"
    assert float(gas.state) == pytest.approx(int(counts["Pulse_Cnt_2"]) * 0.01)  # type: ignore[arg-type]


@pytest.mark.usefixtures("all_entities_enabled")
async def test_resettable_energy_only_drops_through_our_action(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    resettable = "sensor.omnimeter_300001285_resettable_energy_import"
    before = float(hass.states.get(resettable).state)
    assert before > 0
    meter = ekm_bus.meter(V4_ADDRESS)
    meter.resettable_kwh = 1.0  # the register drops by itself: refused
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert float(hass.states.get(resettable).state) == before

    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, V4_ADDRESS), entry.entry_id)
    assert device is not None
    await hass.services.async_call(
        DOMAIN, "reset_resettable_energy", {"device_id": device.id}, blocking=True
    )
    assert float(hass.states.get(resettable).state) == 0.0  # a real reset, through our action


@pytest.mark.usefixtures("all_entities_enabled")
async def test_line_and_resettable_import_leave_the_export_out(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """kWh_Ln_N and kWh_Rst count both directions like kWh_Tot: import subtracts the reverse."""
    await setup_entry(hass, bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)]))
    values = ekm_bus.meter(V4_ADDRESS).values()
    exporting_line = 2  # house_lines(): line 2 exports
    assert float(values[f"Rev_kWh_Ln_{exporting_line}"]) > 1  # type: ignore[arg-type]
    for line in (1, 2, 3):
        shown = float(
            hass.states.get(f"sensor.omnimeter_300001285_energy_import_line_{line}").state
        )
        expected = float(values[f"kWh_Ln_{line}"]) - float(values[f"Rev_kWh_Ln_{line}"])  # type: ignore[arg-type]
        assert shown == pytest.approx(expected, abs=0.2), line  # two truncated registers
    resettable = hass.states.get("sensor.omnimeter_300001285_resettable_energy_import")
    expected = float(values["kWh_Rst"]) - float(values["Rev_kWh_Rst"])  # type: ignore[arg-type]
    assert float(resettable.state) == pytest.approx(expected, abs=0.2)


@pytest.mark.parametrize(("kwh_scale", "decimals"), [(0, 0), (1, 1), (2, 2)])
async def test_energy_totals_show_as_many_decimals_as_the_meter_counts(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, kwh_scale: int, decimals: int
) -> None:
    from simulators.ekm_bus import EkmBusSimulator  # noqa: PLC0415
    from tests.ekm_bus.helpers import MidpointRng, frozen_clock, house_lines  # noqa: PLC0415

    sim = EkmBusSimulator(paced=False, seed=1)
    sim.clock = frozen_clock()
    sim.add_meter(
        V4_ADDRESS, 4, kwh_scale=kwh_scale, jitter=0.0, rng=MidpointRng(), lines=house_lines()
    )
    port = await sim.start_pty()
    try:
        await setup_entry(hass, bus_entry(port, [meter_subentry(V4_ADDRESS, 4)]))
        entry = entity_registry.async_get(IMPORT)
        assert entry is not None
        assert entry.options["sensor"]["suggested_display_precision"] == decimals
        power = entity_registry.async_get("sensor.omnimeter_300001285_power")
        assert power is not None
        assert power.options["sensor"]["suggested_display_precision"] != decimals or decimals == 0
    finally:
        await sim.stop()

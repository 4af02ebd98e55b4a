"""Diagnostics: password redacted, raw frames per meter, bus statistics."""

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.energy_local.ekm import MeterVersion
from custom_components.energy_local.ekm.parse import parse_v4_a
from simulators.ekm_bus import FaultKind
from tests.ekm_bus.helpers import (
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    schedule_upward_escape,
    setup_entry,
)


async def test_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4, password="31415926")])
    await setup_entry(hass, entry)
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert "31415926" not in str(result)
    subentry = next(iter(result["entry"]["subentries"]))
    assert subentry["data"]["password"] == "**REDACTED**"
    meter = result["meters"][V4_ADDRESS]
    assert meter["version"] == MeterVersion.V4
    assert meter["available"] is True
    frame_a = bytes.fromhex(meter["raw_frames_hex"][0])
    assert parse_v4_a(frame_a, V4_ADDRESS)["Meter_Address"] == V4_ADDRESS
    assert len(meter["raw_frames_hex"]) == 2  # A and B
    bus = result["bus"]
    assert bus["port"] == ekm_bus.port
    assert bus["statistics"]["transactions"] >= 2
    assert bus["statistics"]["crc_errors"] == 0
    assert bus["poll_cycles"] >= 1
    assert bus["last_cycle_seconds"] > 0


async def test_diagnostics_show_what_the_gate_did(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    plan = ekm_bus.sim.faults

    async def poll() -> None:
        await coordinator.async_refresh()
        await hass.async_block_till_done()

    schedule_upward_escape(ekm_bus)  # breaks kWh_Tot = sum of the lines: inconsistent
    await poll()
    _, _, escaped = plan.escapes[-1]
    # A register in no relation: held (beyond the rate bound), then refused by the next read.
    schedule_upward_escape(ekm_bus, field="Reactive_Energy_Tot")
    await poll()
    await poll()
    ekm_bus.clock.advance(600)  # more energy than the bound allows for the real time between
    await poll()  # two polls: held, then confirmed by the next read
    await poll()
    plan.schedule(FaultKind.CORRUPT_CRC, count=1, address=V4_ADDRESS)  # retried by the bus
    await poll()
    meter = ekm_bus.meter(V4_ADDRESS)
    meter.forward_kwh = [kwh * 0.1 for kwh in meter.forward_kwh]  # the meter is replaced
    meter.reverse_kwh = [kwh * 0.1 for kwh in meter.reverse_kwh]
    for _ in range(3):
        await poll()

    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    gate = result["meters"][V4_ADDRESS]["gate"]
    counters = gate["counters"]
    for kind in ("inconsistent", "held", "confirmed", "refused", "reset"):
        assert counters[kind] >= 1, kind
    assert gate["published"]["kWh_Tot"] == pytest.approx(meter.values()["kWh_Tot"])  # new meter
    kinds = {event["kind"] for frame in gate["recent"] for event in frame["events"]}
    assert {"inconsistent", "held", "confirmed", "refused", "reset"} <= kinds
    # The escaped frame itself is kept, as the meter sent it.
    held = next(
        frame
        for frame in gate["recent"]
        if any(e["kind"] == "inconsistent" and e["field"] == "kWh_Tot" for e in frame["events"])
    )
    assert any(escaped in bytes.fromhex(raw) for raw in held["frames_hex"])
    bus = result["bus"]
    assert bus["statistics"]["crc_errors"] >= 1
    assert bus["resets_accepted"][-1]["address"] == V4_ADDRESS
    assert "kWh_Tot" in bus["resets_accepted"][-1]["fields"]

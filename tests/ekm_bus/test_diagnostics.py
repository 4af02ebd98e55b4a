"""Diagnostics: password redacted, raw frames per meter, bus statistics."""

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.energy_local.ekm import MeterVersion
from custom_components.energy_local.ekm.parse import parse_v4_a
from tests.ekm_bus.helpers import V4_ADDRESS, SimBus, bus_entry, meter_subentry, setup_entry


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

"""Diagnostics: configuration (password redacted), raw frames per meter, bus statistics.

ioStacks show what ekmdevice returned (read_data and get_status), as it returned it.

The raw frames are what a developer needs to reproduce a problem (or add a test fixture).
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_PASSWORD
from .coordinator import EkmBusConfigEntry

TO_REDACT = {CONF_PASSWORD}


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def async_get_bus_diagnostics(
    hass: HomeAssistant, entry: EkmBusConfigEntry
) -> dict[str, Any]:
    """Return the diagnostics of a bus entry."""
    coordinator = entry.runtime_data
    stats = coordinator.diagnostics
    meters: dict[str, Any] = {}
    for subentry_id, meter in coordinator.meters.items():
        state = coordinator.meter_state(subentry_id)
        reading = state.reading if state else None
        meters[meter.address] = {
            "version": meter.version.value,
            "available": bool(state and state.available),
            "pulse_inputs": [asdict(p) for p in meter.pulse_inputs],
            "raw_frames_hex": [frame.hex() for frame in reading.frames] if reading else [],
            "values": {k: _plain(v) for k, v in reading.values.items()} if reading else None,
            "failed_polls_in_a_row": state.failures if state else None,
            "gate": coordinator.gates.diagnostics(subentry_id),
        }
    iostacks: dict[str, Any] = {}
    for subentry_id, iostack in coordinator.iostacks.items():
        io_state = coordinator.iostack_state(subentry_id)
        io_reading = io_state.reading if io_state else None
        iostacks[iostack.address] = {
            "name": iostack.name,
            "available": bool(io_state and io_state.available),
            "pulse_inputs": [asdict(p) for p in iostack.pulse_inputs],
            "analog_inputs": [asdict(a) for a in iostack.analog_inputs],
            "read_data": dict(io_reading.raw) if io_reading else None,
            "status": dict(io_reading.status) if io_reading else None,
        }
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "bus": {
            "port": coordinator.bus.url,
            "statistics": coordinator.bus.stats.as_dict(),
            "poll_cycles": stats.cycles,
            "port_failures": stats.port_failures,
            "unavailable_after": coordinator.unavailable_after,
            "last_cycle_seconds": stats.last_cycle_seconds,
            "meter_failures": dict(stats.meter_failures),
            "held_totals": dict(stats.guarded_totals),
            "resets_accepted": list(stats.resets_accepted),
            "iostack_failures": dict(stats.iostack_failures),
            "iostack_port_error": stats.iostack_port_error,
            "ekmdevice_loaded": coordinator.iostack_api is not None,
        },
        "meters": meters,
        "iostacks": iostacks,
    }

"""The Energy dashboard accepts ioStack water, gas and energy pulse totals."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.ekm_ha_helpers import SimBus, bus_entry, setup_entry
from tests.iostack_helpers import IOSTACK_ADDRESS, iostack_subentry

PULSES = [
    {"kind": "water", "factor": 10.0},
    {"kind": "gas", "factor": 0.01},
    {"kind": "energy", "factor": 0.001},
    {"kind": "none", "factor": 1.0},
]
DEV = "sensor.boiler_room"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder,
    enable_custom_integrations: None,
    mock_async_zeroconf: Any,
    fake_plug_browser: Any,
) -> None:
    """The recorder must start before hass (overrides the conftest fixture of this name)."""


def _source(kind: str, stat: str) -> dict[str, Any]:
    return {
        "type": kind,
        "stat_energy_from": stat,
        "stat_cost": None,
        "entity_energy_price": None,
        "number_energy_price": None,
    }


async def test_energy_validate_accepts_iostack_totals(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
) -> None:
    ekmdevice_standin.devices[IOSTACK_ADDRESS].pulse_counts = [120, 340, 5600, 0]
    await setup_entry(
        hass, bus_entry(ekm_bus.port, [iostack_subentry(name="Boiler room", pulses=PULSES)])
    )
    assert await async_setup_component(hass, "energy", {})
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    do_adhoc_statistics(
        hass, start=now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    )
    await async_wait_recording_done(hass)
    client = await hass_ws_client(hass)
    prefs = {
        "energy_sources": [
            _source("water", f"{DEV}_water_input_1"),
            _source("gas", f"{DEV}_gas_input_2"),
        ],
        "device_consumption": [{"stat_consumption": f"{DEV}_energy_input_3"}],
    }
    await client.send_json_auto_id({"type": "energy/save_prefs", **prefs})
    saved = await client.receive_json()
    assert saved["success"], saved
    await hass.async_block_till_done()
    await client.send_json_auto_id({"type": "energy/validate"})
    result = await client.receive_json()
    assert result["success"], result
    assert result["result"] == {
        "energy_sources": [[], []],
        "device_consumption": [[]],
        "device_consumption_water": [],
    }

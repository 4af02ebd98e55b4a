"""The Energy dashboard accepts ioStack water, gas and energy pulse totals."""

from types import ModuleType
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.ekm_bus.helpers import SimBus, bus_entry, setup_entry
from tests.ekm_bus.iostack.helpers import IOSTACK_ADDRESS, iostack_subentry
from tests.energy_helpers import compile_statistics, save_energy_prefs, validate_energy

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
    await compile_statistics(hass)
    client = await hass_ws_client(hass)
    prefs = {
        "energy_sources": [
            _source("water", f"{DEV}_water_input_1"),
            _source("gas", f"{DEV}_gas_input_2"),
        ],
        "device_consumption": [{"stat_consumption": f"{DEV}_energy_input_3"}],
    }
    await save_energy_prefs(hass, client, prefs)
    assert await validate_energy(client) == {
        "energy_sources": [[], []],
        "device_consumption": [[]],
        "device_consumption_water": [],
    }

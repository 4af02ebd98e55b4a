"""The Energy dashboard accepts our import, export, power, water and gas sensors."""

from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.ekm_bus.helpers import V4_ADDRESS, SimBus, bus_entry, meter_subentry, setup_entry
from tests.energy_helpers import compile_statistics, save_energy_prefs, validate_energy

PULSES = [
    {"kind": "water", "factor": 10.0},
    {"kind": "gas", "factor": 0.01},
    {"kind": "none", "factor": 1.0},
]
METER = "sensor.omnimeter_300001285"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder,
    enable_custom_integrations: None,
    mock_async_zeroconf: Any,
    fake_plug_browser: Any,
) -> None:
    """The recorder must start before hass (overrides the conftest fixture of this name)."""


async def test_energy_validate_reports_no_issue(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    ekm_bus: SimBus,
) -> None:
    await setup_entry(hass, bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4, pulses=PULSES)]))
    assert await async_setup_component(hass, "energy", {})
    await hass.async_block_till_done()
    # Let the recorder store the states and compile statistics, as it does every 5 minutes.
    await compile_statistics(hass)
    client = await hass_ws_client(hass)
    prefs = {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": f"{METER}_energy_import",
                "stat_energy_to": f"{METER}_energy_export",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "stat_rate": f"{METER}_power",
                "cost_adjustment_day": 0,
            },
            {
                "type": "water",
                "stat_energy_from": f"{METER}_water_input_1",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
            {
                "type": "gas",
                "stat_energy_from": f"{METER}_gas_input_2",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
        ],
        "device_consumption": [],
    }
    await save_energy_prefs(hass, client, prefs)

    validation = await validate_energy(client)
    assert len(validation["energy_sources"]) == 3
    assert validation == {
        "energy_sources": [[], [], []],
        "device_consumption": [],
        "device_consumption_water": [],
    }

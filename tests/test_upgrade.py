"""Nothing moves for users: what release 0.1.0 wrote is what this release finds and keeps.

tests/fixtures/release_0_1_0/registries.json was written by release 0.1.0 (the commit before
the family packages) running this same scenario: an EKM bus with a v4 meter (water and gas
pulse inputs), a v3 meter and an ioStack, and the Powersensor home with one plug relaying
mains, solar and water sensors. It holds both config entries, every entity and device
registry entry and every state.
"""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache

from custom_components.energy_local.const import DOMAIN
from tests.conftest import FIXTURES
from tests.ekm_bus.helpers import SimBus, wait_for
from tests.powersensor_home.helpers import plugs_of, start_sim, state_value

# 0.1.0 counted an exporting line's (and the resettable register's) export as import; this
# release subtracts it (issue 11). These totals step down once, as the README says.
FORMULA_FIXED = {
    "sensor.omnimeter_300001285_energy_import_line_2",
    "sensor.omnimeter_300001285_resettable_energy_import",
}
RELEASE = json.loads((FIXTURES / "release_0_1_0" / "registries.json").read_text("utf-8"))
BUS, HOME = RELEASE["entries"]


@pytest.fixture(autouse=True)
def every_entity_enabled() -> Iterator[None]:
    """0.1.0's capture had every entity enabled, disabled-by-default ones too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


def _entry(stored: dict[str, Any], data: dict[str, Any]) -> MockConfigEntry:
    """A config entry exactly as 0.1.0 stored it (ids included), with today's addresses."""
    return MockConfigEntry(
        domain=stored["domain"],
        entry_id=stored["entry_id"],
        title=stored["title"],
        data=data,
        options=stored["options"],
        unique_id=stored["unique_id"],
        version=stored["version"],
        minor_version=stored["minor_version"],
        subentries_data=[
            ConfigSubentryData(
                data=sub["data"],
                subentry_id=sub["subentry_id"],
                subentry_type=sub["subentry_type"],
                title=sub["title"],
                unique_id=sub["unique_id"],
            )
            for sub in stored["subentries"]
        ],
    )


def _registered(hass: HomeAssistant) -> dict[tuple[str, str], dict[str, Any]]:
    registry = er.async_get(hass)
    devices = dr.async_get(hass)
    found = {}
    for entry_id in (BUS["entry_id"], HOME["entry_id"]):
        for entity in er.async_entries_for_config_entry(registry, entry_id):
            device = devices.async_get(entity.device_id) if entity.device_id else None
            found[(entity.domain, entity.unique_id)] = {
                "entity_id": entity.entity_id,
                "config_entry_id": entity.config_entry_id,
                "config_subentry_id": entity.config_subentry_id,
                "device": sorted(list(i) for i in device.identifiers) if device else None,
                "translation_key": entity.translation_key,
            }
    return found


# New in this release, one per relayed sensor: the battery voltage beside the percentage.
NEW_UNIQUE_IDS = {
    ("sensor", f"{mac}_battery_voltage") for mac in ("bcddc247d1f5", "bcddc247d289", "bcddc247d338")
}


def _registered_release(hass: HomeAssistant) -> dict[tuple[str, str], dict[str, Any]]:
    """The registered entities of 0.1.0's kinds (the new ones must exist, then are left out)."""
    found = _registered(hass)
    assert set(found) >= NEW_UNIQUE_IDS
    return {key: value for key, value in found.items() if key not in NEW_UNIQUE_IDS}


def _release_entities() -> dict[tuple[str, str], dict[str, Any]]:
    keys = ("entity_id", "config_entry_id", "config_subentry_id", "device", "translation_key")
    return {(e["domain"], e["unique_id"]): {k: e[k] for k in keys} for e in RELEASE["entities"]}


async def _set_up(hass: HomeAssistant, bus_port: str, plugs: list[tuple[str, int]]) -> None:
    bus = _entry(BUS, {**BUS["data"], "port": bus_port})
    (mac, port), *_ = plugs
    home = _entry(HOME, {**HOME["data"], "plugs": {mac: {"host": "127.0.0.1", "port": port}}})
    for entry in (bus, home):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # The home's entities appear as its devices report (household solar last).
    await wait_for(
        lambda: state_value(hass, "sensor.household_solar_generation_energy") is not None,
        within=15,
    )
    await wait_for(
        lambda: state_value(hass, "sensor.powersensor_water_sensor_47d338_water") is not None,
        within=10,
    )
    await hass.async_block_till_done()
    assert bus.data == {**BUS["data"], "port": bus_port}  # no migration rewrote the entry
    assert bus.options == BUS["options"]
    assert home.options == HOME["options"]


async def test_a_fresh_install_names_every_entity_as_before(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType, socket_enabled: None
) -> None:
    """Same unique ids, entity ids, subentries and devices from the names alone."""
    sim = await start_sim()
    try:
        await _set_up(hass, ekm_bus.port, plugs_of(sim))
        assert _registered_release(hass) == _release_entities()
    finally:
        await sim.stop()


async def test_the_release_registry_is_kept_with_its_history(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType, socket_enabled: None
) -> None:
    """Loaded over 0.1.0's registries and restore cache: no entity is new, none is lost."""
    registry = er.async_get(hass)
    for stored in RELEASE["entities"]:
        object_id = stored["entity_id"].split(".", 1)[1]
        registry.async_get_or_create(
            stored["domain"],
            DOMAIN,
            stored["unique_id"],
            suggested_object_id=object_id,
            config_entry=None,
        )
    mock_restore_cache(
        hass,
        [State(eid, s["state"], s["attributes"]) for eid, s in RELEASE["states"].items()],
    )
    sim = await start_sim()
    try:
        await _set_up(hass, ekm_bus.port, plugs_of(sim))
        assert _registered_release(hass) == _release_entities()
        assert len(registry.entities) == len(RELEASE["entities"]) + len(NEW_UNIQUE_IDS)
        devices = dr.async_get(hass)
        for stored in RELEASE["devices"]:
            (identifier,) = stored["identifiers"]
            device = devices.async_get_device_by_identifier(
                tuple(identifier), stored["config_entry_id"]
            )
            assert device is not None, stored["identifiers"]
            name = stored["name"].replace(BUS["data"]["port"], ekm_bus.port)  # the bus device
            assert (device.name, device.model, device.config_subentry_id) == (
                name,
                stored["model"],
                stored["config_subentry_id"],
            )
        # The simulated bus runs on frozen time: every meter and ioStack total reads as then.
        totals = 0
        for entity_id, stored_state in RELEASE["states"].items():
            attributes = stored_state["attributes"]
            if attributes.get("state_class") != "total_increasing":
                continue
            if not entity_id.startswith(("sensor.omnimeter", "sensor.boiler_room")):
                continue
            if entity_id in FORMULA_FIXED:
                value = state_value(hass, entity_id)
                assert value is not None
                assert value < float(stored_state["state"])
                continue
            assert state_value(hass, entity_id) == float(stored_state["state"]), entity_id
            totals += 1
        assert totals > 20
    finally:
        await sim.stop()

"""Switches: the relays of a bus's v4 meters."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .families import EnergyLocalConfigEntry, family_of

# One relay command at a time per platform; the bus serialises them anyway.
PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnergyLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of the entry's family."""
    await family_of(entry).async_setup_platform(Platform.SWITCH, hass, entry, async_add_entities)

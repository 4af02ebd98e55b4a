"""Energy Local: EKM Omnimeters on RS-485 and Powersensor plugs on the LAN, with no cloud.

The protocol libraries (``ekm/``, ``powersensor/``) and their command-line tools import this
package first, so it imports nothing from Home Assistant at module level: the entry points
below load their Home Assistant side (``families`` and the family packages) when Home
Assistant calls them. Python 3.14 evaluates annotations lazily, so the types stay exact.
"""

from typing import TYPE_CHECKING

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry
    from homeassistant.helpers.typing import ConfigType

    from .families import EnergyLocalConfigEntry

# PLC0415 (imports inside functions) is on purpose in this module: see the docstring.


def _config_entry_only(config: ConfigType) -> ConfigType:
    """No YAML: entries are made in the UI (Home Assistant's validator warns about a YAML key)."""
    from homeassistant.helpers import config_validation as cv  # noqa: PLC0415

    return cv.config_entry_only_config_schema(DOMAIN)(config)


CONFIG_SCHEMA = _config_entry_only


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (they find their meters when called)."""
    from .ekm_bus.actions import async_setup_actions  # noqa: PLC0415

    async_setup_actions(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EnergyLocalConfigEntry) -> bool:
    """Set up an EKM bus or the Powersensor home, then the platforms of its family."""
    from .families import family_of  # noqa: PLC0415

    family = family_of(entry)
    # Raises ConfigEntryNotReady when the device cannot be reached (a bus's port).
    entry.runtime_data = await family.async_setup(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, family.platform_list)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EnergyLocalConfigEntry) -> bool:
    """Unload an entry; its ports and sockets are released by its unload callbacks."""
    from .families import family_of  # noqa: PLC0415

    return await hass.config_entries.async_unload_platforms(entry, family_of(entry).platform_list)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EnergyLocalConfigEntry, device: DeviceEntry
) -> bool:
    """Whether the user may remove a device (a Powersensor plug or sensor that left)."""
    from .families import family_of  # noqa: PLC0415

    return await family_of(entry).async_remove_device(hass, entry, device)

"""Home Assistant entry points: setting up and unloading EKM buses (see __init__ for why here)."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import CONF_ENTRY_TYPE, CONF_PORT, DOMAIN, EntryType
from .ekm import EkmBus, EkmPortError
from .ekm_coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .powersensor_home import PowersensorHome
from .services import async_setup_services

EKM_PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR, Platform.SWITCH]
POWERSENSOR_PLATFORMS = [Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (they find their meters when called)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up one EKM bus, or the Powersensor home."""
    if entry.data[CONF_ENTRY_TYPE] == EntryType.EKM_BUS:
        await _async_setup_ekm_bus(hass, entry)
    else:
        await _async_setup_powersensor(hass, entry)
    return True


async def _async_setup_powersensor(hass: HomeAssistant, entry: ConfigEntry) -> None:
    home = PowersensorHome(hass, entry)
    entry.runtime_data = home
    # Unsubscribe and close every socket however the entry goes (unload or setup failure).
    entry.async_on_unload(home.async_stop)
    await home.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_home_updated))
    await hass.config_entries.async_forward_entry_setups(entry, POWERSENSOR_PLATFORMS)


async def _async_home_updated(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Plugs added or moved: follow them live. Options changed: entities re-read them."""
    home: PowersensorHome = entry.runtime_data
    await home.async_sync_plugs()
    home.options_changed()


async def _async_setup_ekm_bus(hass: HomeAssistant, entry: EkmBusConfigEntry) -> None:
    bus = EkmBus(entry.data[CONF_PORT])
    # Release the port however setup ends: two masters on one bus corrupt every frame.
    entry.async_on_unload(bus.close)
    try:
        await bus.open()
    except EkmPortError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="port_unavailable",
            translation_placeholders={"port": bus.url, "error": str(err)},
        ) from err
    coordinator = EkmBusCoordinator(hass, entry, bus)

    async def _release_port(_event: Event) -> None:
        await bus.close()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _release_port))
    bus_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, f"bus_{entry.entry_id}")},
        manufacturer="EKM Metering",
        model="RS-485 bus",
        name=f"EKM bus {bus.url}",
    )
    coordinator.bus_device_id = bus_device.id
    # ioStacks need EKM's ekmdevice (installed on demand); without it only they are unavailable.
    await coordinator.async_prepare_iostacks()
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, EKM_PLATFORMS)


async def _async_entry_updated(hass: HomeAssistant, entry: EkmBusConfigEntry) -> None:
    """Meters or ioStacks added, removed or changed: reload. Only options: apply in place."""
    coordinator = entry.runtime_data
    if coordinator.devices_changed():
        hass.config_entries.async_schedule_reload(entry.entry_id)
    else:
        coordinator.apply_options()


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload an entry; its port is released by the unload callbacks."""
    platforms = (
        EKM_PLATFORMS if entry.data[CONF_ENTRY_TYPE] == EntryType.EKM_BUS else POWERSENSOR_PLATFORMS
    )
    return await hass.config_entries.async_unload_platforms(entry, platforms)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: ConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user remove a Powersensor plug or sensor that left the home.

    A plug that is still connected stays (it would come straight back). EKM meters are removed
    with their subentry, so their devices are not removable on their own.
    """
    if entry.data[CONF_ENTRY_TYPE] != EntryType.POWERSENSOR:
        return False
    home: PowersensorHome = entry.runtime_data
    macs = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    return await home.async_forget(macs)

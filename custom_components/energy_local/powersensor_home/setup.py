"""Starting the Powersensor home entry: restore its state, subscribe to its plugs."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from ..const import DOMAIN
from .coordinator import PowersensorConfigEntry, PowersensorHome


async def async_setup_home(hass: HomeAssistant, entry: PowersensorConfigEntry) -> PowersensorHome:
    """Start the home: its plugs push from now on; sockets close however the entry ends."""
    home = PowersensorHome(hass, entry)
    # Unsubscribe and close every socket however the entry goes (unload or setup failure);
    # Home Assistant's stop unsubscribes too (see plugs.py).
    entry.async_on_unload(home.async_stop)
    await home.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_home_updated))
    return home


async def _async_home_updated(hass: HomeAssistant, entry: PowersensorConfigEntry) -> None:
    """Plugs added or moved: follow them live. Options changed: entities re-read them."""
    await entry.runtime_data.async_entry_updated()


async def async_remove_home_device(
    hass: HomeAssistant, entry: PowersensorConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user remove a plug or sensor that left the home (a connected plug stays)."""
    macs = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    return await entry.runtime_data.async_forget(macs)

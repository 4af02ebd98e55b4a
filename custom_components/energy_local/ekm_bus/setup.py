"""Starting an EKM bus entry: open its port, make its coordinator, read every meter once."""

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr

from ..const import DOMAIN
from ..ekm import EkmBus, EkmPortError
from .const import CONF_PORT
from .coordinator import EkmBusConfigEntry, EkmBusCoordinator


async def async_setup_bus(hass: HomeAssistant, entry: EkmBusConfigEntry) -> EkmBusCoordinator:
    """Open the bus and read its devices once; the port is released however the entry ends."""
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
    # Every meter's gate starts from the baselines it had (a corrupt frame right after a
    # restart is then caught like any other); they are written back however the entry ends.
    await coordinator.gates.async_load()
    entry.async_on_unload(coordinator.gates.async_save)
    # ioStacks need EKM's ekmdevice (installed on demand); without it only they are unavailable.
    await coordinator.async_prepare_iostacks()
    await coordinator.async_config_entry_first_refresh()
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return coordinator


async def _async_entry_updated(hass: HomeAssistant, entry: EkmBusConfigEntry) -> None:
    """Meters or ioStacks added, removed or changed: reload. Only options: apply in place."""
    coordinator = entry.runtime_data
    if coordinator.devices_changed():
        hass.config_entries.async_schedule_reload(entry.entry_id)
    else:
        coordinator.apply_options()


async def async_remove_bus_device(
    hass: HomeAssistant, entry: EkmBusConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Meters and ioStacks are removed with their subentry, never on their own."""
    return False

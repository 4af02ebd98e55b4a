"""Base entity of the Powersensor home: reads the coordinator's snapshot, writes on a budget.

Entities write their state (which the recorder keeps) only when what they show changes, on the
write budget of their kind (:mod:`.writes`). Availability changes are written at once.
"""

import time
from typing import Any, Final

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from ..const import DOMAIN
from ..powersensor import Role
from .const import CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL
from .coordinator import PLUG, PowersensorHome
from .descriptions import StateValue
from .writes import Throttle, WritePolicy, write_due

HOUSEHOLD_DEVICE: Final = "powersensor_household"


def device_info(home: PowersensorHome, mac: str) -> DeviceInfo:
    """A plug, or a sensor shown under the plug that relays it."""
    device = home.data.devices[mac]
    if device.kind == PLUG:
        return DeviceInfo(
            identifiers={(DOMAIN, mac)},
            connections={(dr.CONNECTION_NETWORK_MAC, dr.format_mac(mac))},
            manufacturer="Powersensor",
            model="Plug",
            name=f"Powersensor plug {mac[-6:]}",
        )
    names = {Role.HOUSE_NET.value: "mains", Role.SOLAR.value: "solar", Role.WATER.value: "water"}
    label = names.get(device.role or "", "")
    info = DeviceInfo(
        identifiers={(DOMAIN, mac)},
        manufacturer="Powersensor",
        model="Sensor",
        name=f"Powersensor {label + ' ' if label else ''}sensor {mac[-6:]}",
    )
    if device.via is not None:
        plug = dr.async_get(home.hass).async_get_device_by_identifier(
            (DOMAIN, device.via), home.entry.entry_id
        )
        if plug is not None:
            info["via_device_id"] = plug.id
    return info


def household_device_info() -> DeviceInfo:
    """The household view: a service (computed from the sensors), not a physical device."""
    return DeviceInfo(
        identifiers={(DOMAIN, HOUSEHOLD_DEVICE)},
        entry_type=DeviceEntryType.SERVICE,
        manufacturer="Powersensor",
        model="Household view",
        name="Household",
    )


class PowersensorEntity(CoordinatorEntity[PowersensorHome], SensorEntity):
    """A value of the snapshot: written when it changes, on the write budget of its kind."""

    _attr_has_entity_name = True
    _writes: WritePolicy = Throttle.CHANGE

    def __init__(self, home: PowersensorHome, context: str) -> None:
        """Follow the snapshot's ``context`` (a device MAC, or "household")."""
        super().__init__(home, context)
        self._written: tuple[bool, Any] | None = None
        self._written_at = 0.0

    def _read(self) -> tuple[bool, StateValue]:
        """(available, value) from the coordinator's snapshot (subclasses)."""
        raise NotImplementedError

    @property
    def available(self) -> bool:
        """What :meth:`_read` said (not the coordinator's poll success: it never polls)."""
        return bool(self._attr_available)

    async def async_added_to_hass(self) -> None:
        """Show the current value, then follow the coordinator."""
        self._attr_available, self._attr_native_value = self._read()
        self._written = (self._attr_available, self._attr_native_value)
        self._written_at = time.monotonic()
        await super().async_added_to_hass()

    @callback
    def _handle_coordinator_update(self) -> None:
        shown = self._read()
        # native_value is always the exact current value; only the write waits its turn.
        self._attr_available, self._attr_native_value = shown
        written = self._written
        if shown == written:
            return
        if written is not None and shown[0] == written[0] and not self._due(shown[1], written[1]):
            return
        self._written = shown
        self._written_at = time.monotonic()
        self.async_write_ha_state()

    def _due(self, new: Any, old: Any) -> bool:
        """Whether a new value is written now (same availability as the last write)."""
        return write_due(
            self._writes,
            new,
            old,
            since_write=time.monotonic() - self._written_at,
            interval=self.coordinator.entry.options.get(
                CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL
            ),
            precision=self.entity_description.suggested_display_precision,
        )

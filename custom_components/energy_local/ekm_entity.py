"""Base entity of everything a meter exposes: device, availability, change-only state writes."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .ekm import MeterReading
from .ekm_coordinator import EkmBusCoordinator, MeterConfig


def meter_device_info(
    meter: MeterConfig, bus_device_id: str | None, reading: MeterReading | None
) -> DeviceInfo:
    """Describe the device of one meter, under its bus."""
    info = DeviceInfo(
        identifiers={(DOMAIN, meter.address)},
        manufacturer="EKM Metering",
        model=f"Omnimeter v{meter.version.value}",
        name=f"Omnimeter {meter.address.lstrip('0') or '0'}",
        serial_number=meter.address,
    )
    if bus_device_id is not None:
        info["via_device_id"] = bus_device_id
    if reading is not None:
        info["model_id"] = str(reading.values.get("Model", "")) or None
        info["sw_version"] = str(reading.values.get("Firmware", "")) or None
    return info


class EkmMeterEntity(CoordinatorEntity[EkmBusCoordinator]):
    """An entity of one meter. Writes state only when what it shows has changed."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: EkmBusCoordinator,
        meter: MeterConfig,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to its meter and description."""
        super().__init__(coordinator)
        self.entity_description = description
        self.meter = meter
        self._attr_unique_id = f"{meter.address}_{description.key}"
        self._attr_device_info = meter_device_info(meter, coordinator.bus_device_id, self.reading)
        self._shown: tuple[Any, ...] | None = None

    @property
    def reading(self) -> MeterReading | None:
        """The meter's latest good reading."""
        state = self.coordinator.meter_state(self.meter.subentry_id)
        return state.reading if state else None

    @property
    def available(self) -> bool:
        """Available while the bus works and this meter answers."""
        state = self.coordinator.meter_state(self.meter.subentry_id)
        return super().available and state is not None and state.available

    def _update_from_reading(self) -> None:
        """Set the ``_attr_*`` values from the current reading (subclasses)."""

    def _shown_state(self) -> tuple[Any, ...]:
        """What the entity shows; a write happens only when this changes."""
        return (self.available,)

    async def async_added_to_hass(self) -> None:
        """Take the current reading before the first write."""
        await super().async_added_to_hass()
        self._update_from_reading()
        self._shown = self._shown_state()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_reading()
        shown = self._shown_state()
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()

"""Base entity of everything a meter exposes: device, availability, change-only state writes."""

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import RestoreSensor
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from ..const import DOMAIN
from ..ekm import MeterReading
from .coordinator import EkmBusCoordinator
from .models import MeterConfig

_LOGGER = logging.getLogger(__name__)


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


class ChangeOnlyBusEntity(CoordinatorEntity[EkmBusCoordinator]):
    """An entity of a device on an EKM bus that writes state only when what it shows changed.

    A bus poll updates every entity of every device; most values do not change between two
    polls, and each needless write costs the event loop and the recorder.
    """

    _attr_has_entity_name = True
    _shown: tuple[Any, ...] | None = None

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


class EkmMeterEntity(ChangeOnlyBusEntity):
    """An entity of one meter."""

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


class GuardedTotal:
    """A total that is never published lower than before (meter energy, ioStack counters).

    A glitch that passed every check, a 0 after a power cut, a scale change: the entity keeps
    its last good value (restored after a restart), the event is logged once and counted in
    diagnostics. Only a fall that ``may_fall`` allows (our own reset action) gets through.
    """

    def __init__(self, source: str, counter_key: str) -> None:
        """``source`` names the device in logs; ``counter_key`` counts refusals in diagnostics."""
        self.source = source
        self.counter_key = counter_key
        self.last_good: float | None = None
        self._refusing = False

    async def async_restore(self, sensor: RestoreSensor) -> None:
        """Take the last published value (the high-water mark) from before a restart."""
        last = await sensor.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, int | float | Decimal):
            self.last_good = float(last.native_value)

    def check(
        self,
        value: object,
        *,
        entity_id: str | None,
        coordinator: EkmBusCoordinator,
        may_fall: Callable[[], bool] = lambda: False,
    ) -> float | None:
        """The value to publish for ``value``: it, or the last good total if it is lower."""
        if not isinstance(value, int | float):
            return self.last_good
        # may_fall() is asked only for a lower value: it consumes a pending reset.
        if self.last_good is None or value >= self.last_good or may_fall():
            if self._refusing:
                self._refusing = False
                _LOGGER.info("%s: total accepted again at %s", entity_id, value)
            self.last_good = value
            return value
        coordinator.diagnostics.guarded_totals[self.counter_key] += 1
        if not self._refusing:
            self._refusing = True
            _LOGGER.warning(
                "%s: %s reported %s, below the last total %s; keeping %s",
                entity_id,
                self.source,
                value,
                self.last_good,
                self.last_good,
            )
        return self.last_good

"""Base entity of everything a meter exposes: device, availability, change-only state writes."""

import logging
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import RestoreSensor
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from ..const import DOMAIN
from ..ekm import MeterReading
from .coordinator import BusDiagnostics, EkmBusCoordinator
from .models import MeterConfig, meter_title

_LOGGER = logging.getLogger(__name__)


def meter_device_info(
    meter: MeterConfig, bus_device_id: str | None, reading: MeterReading | None
) -> DeviceInfo:
    """Describe the device of one meter, under its bus."""
    info = DeviceInfo(
        identifiers={(DOMAIN, meter.address)},
        manufacturer="EKM Metering",
        model=f"Omnimeter v{meter.version.value}",
        name=meter_title(meter.address),
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

    _seen: tuple[bool, MeterReading | None] | None = None

    def __init__(
        self,
        coordinator: EkmBusCoordinator,
        meter: MeterConfig,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to its meter and description."""
        # The context lets the coordinator tell this meter's entities alone, as it is read.
        super().__init__(coordinator, context=meter.subentry_id)
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

    async def async_added_to_hass(self) -> None:
        """The reading taken before the first write counts as seen."""
        await super().async_added_to_hass()
        self._is_new()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Take each reading once: a meter is told when it is read and again at the cycle end.

        Guarded totals count polls that read lower, so the same reading must not count twice.
        """
        if self._is_new():
            super()._handle_coordinator_update()

    def _is_new(self) -> bool:
        """Whether the reading or the availability changed since the entity last looked."""
        state = self.coordinator.meter_state(self.meter.subentry_id)
        seen = (self.available, state.reading if state else None)
        if self._seen is not None and seen[0] == self._seen[0] and seen[1] is self._seen[1]:
            return False
        self._seen = seen
        return True


class GuardedTotal:
    """The last step before a total is published: it never goes lower, except at a reset.

    Meter registers reach it through the meter's gate, so a lower value here is one of:

    * a dip of a value derived from two truncated registers (import = kWh_Tot - Rev_kWh_Tot
      moves by a resolution step either way): held silently, it is rounding;
    * a reset the gate accepted on one of the total's fields (``epoch`` changed: a meter
      reset or replaced, or our own reset action): published, Home Assistant's statistics
      take a ``total_increasing`` drop as a new cycle;
    * a total that reads lower by more than rounding for ``RESET_POLLS`` polls in a row
      without its fields resetting (a meter replaced while Home Assistant was down, an
      ioStack counter, which has no gate): taken as a reset, logged once.

    Until then the last good total (restored after a restart) is kept and counted.

    With ``confirm`` (ioStack counters, which no gate checks) an increase is published only
    once the next reading is not lower: a corrupted high value is never published.
    """

    RESET_POLLS = 3
    DIP_STEPS = 4

    def __init__(self, source: str, counter_key: str, *, confirm: bool = False) -> None:
        """``source`` names the device in logs; ``counter_key`` counts holds in diagnostics."""
        self.source = source
        self.counter_key = counter_key
        self.confirm = confirm
        self.last_good: float | None = None
        self._candidate: float | None = None
        self._epoch: int | None = None
        self._lower_polls = 0

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
        diagnostics: BusDiagnostics,
        epoch: int = 0,
        step: float = 0.0,
    ) -> float | None:
        """The value to publish; dips of up to ``DIP_STEPS`` x ``step`` are rounding."""
        reset = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        if not isinstance(value, int | float):
            return self.last_good
        if self.last_good is None or value >= self.last_good or reset:
            self._lower_polls = 0
            if self.confirm and not reset and self.last_good is not None:
                return self._confirmed(value, self.last_good)
            self.last_good = value
            return value
        diagnostics.guarded_totals[self.counter_key] += 1
        if self.last_good - value <= self.DIP_STEPS * step:
            return self.last_good  # rounding of truncated registers
        self._lower_polls += 1
        if self._lower_polls < self.RESET_POLLS:
            return self.last_good
        self._candidate = None
        _LOGGER.warning(
            "%s: %s reads %s, below the last total %s for %s polls: taken as a reset",
            entity_id,
            self.source,
            value,
            self.last_good,
            self._lower_polls,
        )
        self._lower_polls = 0
        self.last_good = value
        return value

    def _confirmed(self, value: float, last_good: float) -> float:
        """Publish the increase seen before once ``value`` agrees with it; wait on ``value``."""
        candidate = self._candidate
        if candidate is not None and value >= candidate:
            last_good = self.last_good = candidate
        self._candidate = value if value > last_good else None
        return last_good

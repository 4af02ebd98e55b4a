"""Sensors of an EKM bus: every meter's readings, and its ioStacks'."""

from datetime import datetime

from homeassistant.components.sensor import RestoreSensor
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from ..ekm.parse import KWH_SCALE_DIVISORS, kwh_divisor
from .coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .descriptions import SENSORS, EkmSensorDescription
from .entity import EkmMeterEntity, GuardedTotal
from .iostack.entity import async_setup_iostack_sensors
from .models import MeterConfig


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EkmBusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every meter and ioStack on the bus."""
    coordinator = entry.runtime_data
    for meter in coordinator.meters.values():
        async_add_entities(
            (
                EkmSensor(coordinator, meter, description)
                for description in SENSORS
                if meter.version in description.versions and description.exists_fn(meter)
            ),
            config_subentry_id=meter.subentry_id,
        )
    async_setup_iostack_sensors(entry, async_add_entities)


class EkmSensor(EkmMeterEntity, RestoreSensor):
    """One meter value. Energy totals are guarded so they never go backwards."""

    entity_description: EkmSensorDescription

    def __init__(
        self,
        coordinator: EkmBusCoordinator,
        meter: MeterConfig,
        description: EkmSensorDescription,
    ) -> None:
        """Set up the sensor."""
        super().__init__(coordinator, meter, description)
        self._total = GuardedTotal(f"meter {meter.address}", description.key)
        reading = self.reading
        scale = reading.values.get("kWh_Scale") if reading else None
        if description.native_unit_of_measurement == UnitOfEnergy.KILO_WATT_HOUR and (
            isinstance(scale, int) and scale in KWH_SCALE_DIVISORS
        ):
            # As many decimals as the meter counts (kWh_Scale 2 = hundredths of a kWh).
            self._attr_suggested_display_precision = scale

    async def async_added_to_hass(self) -> None:
        """Restore the last published total (the high-water mark) before the first update."""
        if self.entity_description.guarded:
            await self._total.async_restore(self)
        await super().async_added_to_hass()

    def _update_from_reading(self) -> None:
        reading = self.reading
        desc = self.entity_description
        value = desc.value_fn(reading.values, self.meter) if reading else None
        if desc.guarded:
            value = self._total.check(
                value,
                entity_id=self.entity_id,
                diagnostics=self.coordinator.diagnostics,
                epoch=self.coordinator.gates.reset_epoch(self.meter.subentry_id, desc.total_of),
                step=self._step,
            )
        elif isinstance(value, datetime) and value.tzinfo is None:
            # The meter keeps local wall time without a zone: it is HA's zone.
            value = value.replace(tzinfo=dt_util.get_default_time_zone())
        self._attr_native_value = value

    @property
    def _step(self) -> float:
        """How far a value derived from two truncated kWh registers may dip: one register step.

        A total read from one register dips only when its meter was reset (its gate says so).
        """
        if len(self.entity_description.total_of) < 2:
            return 0.0
        reading = self.reading
        scale = reading.values.get("kWh_Scale") if reading else None
        return 1 / kwh_divisor(scale) if isinstance(scale, int) else 0.1

    def _shown_state(self) -> tuple[object, ...]:
        return (self.available, self._attr_native_value)

"""Binary sensors: the v4 meter's pulse-input levels; ioStack input and output states."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..ekm import MeterReading, MeterVersion
from .coordinator import EkmBusConfigEntry
from .entity import EkmMeterEntity
from .iostack.entity import async_setup_iostack_binary_sensors


@dataclass(frozen=True, kw_only=True)
class EkmBinarySensorDescription(BinarySensorEntityDescription):
    """A meter binary sensor."""

    is_on_fn: Callable[[MeterReading], bool | None]


def _input_low(index: int) -> Callable[[MeterReading], bool | None]:
    def is_on(reading: MeterReading) -> bool | None:
        levels = reading.inputs_low
        return None if levels is None else levels[index]

    return is_on


BINARY_SENSORS = tuple(
    EkmBinarySensorDescription(
        key=f"input_{n}",
        translation_key="input",
        translation_placeholders={"input": str(n)},
        # On = the input is pulled low (contact closed).
        is_on_fn=_input_low(n - 1),
        entity_registry_enabled_default=False,
    )
    for n in (1, 2, 3)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EkmBusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the input binary sensors of every v4 meter and every ioStack."""
    coordinator = entry.runtime_data
    for meter in coordinator.meters.values():
        if meter.version is not MeterVersion.V4:
            continue
        async_add_entities(
            (EkmInputSensor(coordinator, meter, d) for d in BINARY_SENSORS),
            config_subentry_id=meter.subentry_id,
        )
    async_setup_iostack_binary_sensors(entry, async_add_entities)


class EkmInputSensor(EkmMeterEntity, BinarySensorEntity):
    """A pulse input's level."""

    entity_description: EkmBinarySensorDescription

    def _update_from_reading(self) -> None:
        reading = self.reading
        self._attr_is_on = self.entity_description.is_on_fn(reading) if reading else None

    def _shown_state(self) -> tuple[object, ...]:
        return (self.available, self._attr_is_on)

"""Switches: the two relays (control outputs) of a v4 meter.

Switching runs the meter's command session (read, password, write, close) between polls, and
the state shown is the one the meter reports back (State_Out), never an assumption.
"""

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..ekm import EkmBus, MeterVersion, Relay, RelayState
from .coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .entity import EkmMeterEntity
from .models import MeterConfig

RELAYS = {
    Relay.RELAY_1: SwitchEntityDescription(
        key="relay_1", translation_key="relay", translation_placeholders={"relay": "1"}
    ),
    Relay.RELAY_2: SwitchEntityDescription(
        key="relay_2", translation_key="relay", translation_placeholders={"relay": "2"}
    ),
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EkmBusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the relay switches of every v4 meter."""
    coordinator = entry.runtime_data
    for meter in coordinator.meters.values():
        if meter.version is MeterVersion.V4:
            async_add_entities(
                (EkmRelaySwitch(coordinator, meter, relay) for relay in RELAYS),
                config_subentry_id=meter.subentry_id,
            )


class EkmRelaySwitch(EkmMeterEntity, SwitchEntity):
    """One relay of a v4 meter."""

    def __init__(self, coordinator: EkmBusCoordinator, meter: MeterConfig, relay: Relay) -> None:
        """Bind the switch to ``relay``."""
        super().__init__(coordinator, meter, RELAYS[relay])
        self.relay = relay

    def _update_from_reading(self) -> None:
        reading = self.reading
        closed = reading.relays_closed if reading else None
        self._attr_is_on = None if closed is None else closed[self.relay.value - 1]

    def _shown_state(self) -> tuple[object, ...]:
        return (self.available, self._attr_is_on)

    async def async_switch(self, state: RelayState, seconds: int = 0) -> None:
        """Switch the relay (for ``seconds``, timed by the meter, or held when 0)."""

        async def command(bus: EkmBus, meter: MeterConfig) -> None:
            await bus.set_relay(
                meter.address, self.relay, state, seconds=seconds, password=meter.password
            )

        await self.coordinator.async_command(self.meter.subentry_id, command)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay and hold it."""
        await self.async_switch(RelayState.CLOSED)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay and hold it."""
        await self.async_switch(RelayState.OPEN)

    async def async_close_for(self, seconds: int) -> None:
        """Close the relay for ``seconds``; the meter opens it again by itself.

        The meter is read back once it should have opened, so the switch shows the revert
        then rather than at the next poll.
        """
        await self.async_switch(RelayState.CLOSED, seconds)
        self.coordinator.async_read_back_later(self.meter.subentry_id, seconds)

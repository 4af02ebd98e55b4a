"""Actions: timed relay, meter clock, resettable-energy and max-demand resets."""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import probatio as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import service
from homeassistant.util import dt as dt_util

from ..const import DOMAIN
from ..ekm import EkmBus, MeterVersion
from ..ekm.frames import MAX_RELAY_SECONDS
from .const import (
    ATTR_SECONDS,
    SERVICE_CLOSE_RELAY_FOR,
    SERVICE_RESET_MAX_DEMAND,
    SERVICE_RESET_RESETTABLE_ENERGY,
    SERVICE_SET_METER_TIME,
    SUBENTRY_METER,
)
from .coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .models import MeterConfig

ATTR_DEVICE_ID = "device_id"
METER_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})

type MeterAction = Callable[[EkmBus, MeterConfig], Awaitable[None]]


def _find_meter(hass: HomeAssistant, device_id: str) -> tuple[EkmBusCoordinator, MeterConfig]:
    """The coordinator and meter behind a meter device, or a translated validation error.

    A meter's device belongs to its meter subentry; the bus entry holding that subentry, once
    loaded, has the meter's coordinator.
    """
    device = dr.async_get(hass).async_get(device_id)
    if device is not None and device.config_subentry_id is not None:
        entry = hass.config_entries.async_get_entry(device.config_entry_id)
        subentry = entry.subentries.get(device.config_subentry_id) if entry else None
        if (
            entry is not None
            and entry.state is ConfigEntryState.LOADED
            and subentry is not None
            and subentry.subentry_type == SUBENTRY_METER
        ):
            bus_entry: EkmBusConfigEntry = entry
            coordinator = bus_entry.runtime_data
            return coordinator, coordinator.meters[subentry.subentry_id]
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_a_meter",
        translation_placeholders={"device_id": device_id},
    )


def _meter_service(
    action: Callable[[HomeAssistant, MeterConfig], MeterAction],
    *,
    v4_only: bool = False,
    resets: tuple[str, ...] = (),
) -> Callable[[ServiceCall], Coroutine[Any, Any, None]]:
    async def handle(call: ServiceCall) -> None:
        coordinator, meter = _find_meter(call.hass, call.data[ATTR_DEVICE_ID])
        if v4_only and meter.version is not MeterVersion.V4:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="needs_v4",
                translation_placeholders={"address": meter.address},
            )
        await coordinator.async_command(meter.subentry_id, action(call.hass, meter), resets=resets)

    return handle


def _set_time(hass: HomeAssistant, meter: MeterConfig) -> MeterAction:
    async def run(bus: EkmBus, meter: MeterConfig) -> None:
        # The meter keeps local wall time: HA's time zone. The bus times the write so that the
        # meter's clock starts its second when ours does (it has no sub-second field).
        now = dt_util.now().replace(tzinfo=None)
        await bus.set_time(meter.address, meter.version, now, password=meter.password)

    return run


def _zero_resettable(hass: HomeAssistant, meter: MeterConfig) -> MeterAction:
    async def run(bus: EkmBus, meter: MeterConfig) -> None:
        await bus.zero_resettable(meter.address, password=meter.password)

    return run


def _reset_max_demand(hass: HomeAssistant, meter: MeterConfig) -> MeterAction:
    async def run(bus: EkmBus, meter: MeterConfig) -> None:
        await bus.reset_max_demand(meter.address, meter.version, password=meter.password)

    return run


@callback
def async_setup_actions(hass: HomeAssistant) -> None:
    """Register the integration's actions (once, in async_setup)."""
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_CLOSE_RELAY_FOR,
        entity_domain=Platform.SWITCH,
        schema={
            vol.Required(ATTR_SECONDS): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=MAX_RELAY_SECONDS)
            )
        },
        func="async_close_for",
    )
    hass.services.async_register(
        DOMAIN, SERVICE_SET_METER_TIME, _meter_service(_set_time), schema=METER_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_RESET_RESETTABLE_ENERGY,
        _meter_service(_zero_resettable, v4_only=True, resets=("kWh_Rst", "Rev_kWh_Rst")),
        schema=METER_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_RESET_MAX_DEMAND, _meter_service(_reset_max_demand), schema=METER_SCHEMA
    )

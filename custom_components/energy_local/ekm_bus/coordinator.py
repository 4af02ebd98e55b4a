"""The EKM bus coordinator: the one owner of a serial port, polling every meter on it.

One coordinator per bus (config entry). Each cycle reads every meter subentry in turn; a meter
that fails makes only its own entities unavailable, a vanished port makes the whole bus
unavailable and is retried with growing intervals until it returns. Commands (relays, clock,
resets) go through the same bus, so they run between two meter sessions, never inside one.

EKM ioStacks on the same bus are read after the meters, through EKM's ``ekmdevice`` library: the
bus lends it the port (:meth:`EkmBus.hand_off`) for one executor job, then takes it back. An
ioStack that fails makes only its own entities unavailable, like a meter.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from ..const import DOMAIN
from ..ekm import (
    EkmBus,
    EkmCommandError,
    EkmError,
    EkmPasswordError,
    EkmPortError,
    MeterReading,
)
from ..ekm.layout import V4_B_ONLY_FIELDS
from .const import (
    CONF_BLOCK_B_EVERY,
    CONF_POLL_INTERVAL,
    CONF_PORT,
    DEFAULT_BLOCK_B_EVERY,
    DEFAULT_POLL_INTERVAL,
    MAX_PORT_BACKOFF,
)
from .iostack.backend import (
    EkmDeviceApi,
    IoStackBackendError,
    IoStackError,
    IoStackPortError,
    IoStackReading,
    async_get_ekmdevice,
    read_iostacks,
)
from .models import IoStackConfig, MeterConfig, devices_of

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MeterState:
    """The latest known state of one meter."""

    reading: MeterReading | None = None
    available: bool = False


@dataclass(frozen=True, slots=True)
class IoStackState:
    """The latest known state of one ioStack."""

    reading: IoStackReading | None = None
    available: bool = False


type DeviceState = MeterState | IoStackState


@dataclass(slots=True)
class BusDiagnostics:
    """What the coordinator counts for diagnostics, beyond the bus's own statistics."""

    cycles: int = 0
    last_cycle_seconds: float | None = None
    meter_failures: Counter[str] = field(default_factory=Counter)
    iostack_failures: Counter[str] = field(default_factory=Counter)
    iostack_port_error: str | None = None
    guarded_totals: Counter[str] = field(default_factory=Counter)


type EkmBusConfigEntry = ConfigEntry[EkmBusCoordinator]


class EkmBusCoordinator(DataUpdateCoordinator[dict[str, DeviceState]]):
    """Polls every meter (and ioStack) on one bus; data is keyed by subentry id."""

    config_entry: EkmBusConfigEntry

    def __init__(self, hass: HomeAssistant, entry: EkmBusConfigEntry, bus: EkmBus) -> None:
        """Set up the coordinator for ``entry``'s bus."""
        self.poll_interval = timedelta(
            seconds=entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL)
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"EKM bus {bus.url}",
            update_interval=self.poll_interval,
            always_update=False,
        )
        self.bus = bus
        self.block_b_every = int(entry.options.get(CONF_BLOCK_B_EVERY, DEFAULT_BLOCK_B_EVERY))
        self.meters, self.iostacks = devices_of(entry)
        self.iostack_api: EkmDeviceApi | None = None
        self.diagnostics = BusDiagnostics()
        self.bus_device_id: str | None = None  # set by setup once the bus device exists
        self._unavailable_logged: set[str] = set()
        self._overrun = False
        # (meter, EKM field) that our own action has just reset: the energy guard lets the
        # next lower value through once instead of refusing it as a glitch.
        self._resets_pending: set[tuple[str, str]] = set()

    def meter_state(self, subentry_id: str) -> MeterState | None:
        """The latest state of a meter."""
        state = (self.data or {}).get(subentry_id)
        return state if isinstance(state, MeterState) else None

    def iostack_state(self, subentry_id: str) -> IoStackState | None:
        """The latest state of an ioStack."""
        state = (self.data or {}).get(subentry_id)
        return state if isinstance(state, IoStackState) else None

    # --- polling ---------------------------------------------------------------------------

    async def _async_update_data(self) -> dict[str, DeviceState]:
        start = time.monotonic()
        read_b = self.diagnostics.cycles % max(self.block_b_every, 1) == 0
        states: dict[str, DeviceState] = {}
        try:
            for meter in self.meters.values():
                states[meter.subentry_id] = await self._poll_meter(
                    meter, self.meter_state(meter.subentry_id), read_b=read_b
                )
        except EkmPortError as err:
            self._back_off()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="port_unavailable",
                translation_placeholders={"port": self.bus.url, "error": str(err)},
            ) from err
        if self.iostacks:
            states.update(await self._poll_iostacks())
        if self.update_interval != self.poll_interval:
            self.update_interval = self.poll_interval
        self.diagnostics.cycles += 1
        elapsed = time.monotonic() - start
        self.diagnostics.last_cycle_seconds = elapsed
        self._check_overrun(elapsed)
        return states

    async def _poll_meter(
        self, meter: MeterConfig, previous: MeterState | None, *, read_b: bool
    ) -> MeterState:
        last = previous.reading if previous else None
        need_b = read_b or last is None or not last.has_block_b
        try:
            reading = await self.bus.read_meter(meter.address, meter.version, include_b=need_b)
        except EkmPortError:
            raise
        except EkmError as err:
            self.diagnostics.meter_failures[meter.address] += 1
            self._log_gone(meter.subentry_id, f"Meter {meter.address}", err)
            return MeterState(last, available=False)
        self._log_back(meter.subentry_id, f"Meter {meter.address}")
        if not need_b and last is not None:
            reading = _keep_block_b(reading, last)
        return MeterState(reading, available=True)

    # --- ioStacks, through ekmdevice -------------------------------------------------------

    async def async_prepare_iostacks(self) -> None:
        """Load (installing if needed) ekmdevice when the bus has ioStacks.

        A failure leaves a repair issue and the ioStacks unavailable; meters are not affected.
        """
        if not self.iostacks:
            return
        try:
            self.iostack_api = await async_get_ekmdevice(self.hass)
        except IoStackBackendError as err:
            _LOGGER.warning("Cannot read the ioStacks on %s: %s", self.bus.url, err)

    async def _async_with_port[T](self, job: Callable[[str], T]) -> T:
        """Run ``job(port)`` in an executor thread while the bus has lent ekmdevice the port.

        Meter sessions are all closed, and no meter transaction starts, until ``job`` ends;
        even when this task is cancelled the port is taken back only once the thread let go.
        """
        async with self.bus.hand_off() as port:
            future = self.hass.async_add_executor_job(job, port)
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                await asyncio.wait([future])
                raise

    async def async_read_iostack(self, api: EkmDeviceApi, address: str) -> IoStackReading:
        """Read one ioStack now (the subentry flow does this before adding it)."""
        results = await self._async_with_port(lambda port: read_iostacks(api, port, [address]))
        result = results[address]
        if isinstance(result, IoStackError):
            raise result
        return result

    async def _poll_iostacks(self) -> dict[str, IoStackState]:
        api = self.iostack_api
        addresses = [iostack.address for iostack in self.iostacks.values()]
        results: dict[str, IoStackReading | IoStackError]
        if api is None:
            missing = IoStackBackendError("EKM's ekmdevice library is not available")
            results = dict.fromkeys(addresses, missing)
        else:
            try:
                results = await self._async_with_port(
                    lambda port: read_iostacks(api, port, addresses)
                )
            except IoStackPortError as err:
                self._iostack_port_failed(err)
                results = dict.fromkeys(addresses, err)
            else:
                self._iostack_port_works()
        return {
            iostack.subentry_id: self._iostack_state(iostack, results[iostack.address])
            for iostack in self.iostacks.values()
        }

    def _iostack_state(
        self, iostack: IoStackConfig, result: IoStackReading | IoStackError
    ) -> IoStackState:
        if isinstance(result, IoStackError):
            self.diagnostics.iostack_failures[iostack.address] += 1
            self._log_gone(iostack.subentry_id, f"ioStack {iostack.address}", result)
            previous = self.iostack_state(iostack.subentry_id)
            return IoStackState(previous.reading if previous else None, available=False)
        self._log_back(iostack.subentry_id, f"ioStack {iostack.address}")
        return IoStackState(result, available=True)

    def _log_gone(self, subentry_id: str, device: str, err: Exception) -> None:
        """Log once that a device stopped answering (not again until it is back)."""
        if subentry_id not in self._unavailable_logged:
            self._unavailable_logged.add(subentry_id)
            _LOGGER.warning("%s is not answering: %s", device, err)

    def _log_back(self, subentry_id: str, device: str) -> None:
        """Log once that a device that had stopped answering is answering again."""
        if subentry_id in self._unavailable_logged:
            self._unavailable_logged.discard(subentry_id)
            _LOGGER.info("%s is answering again", device)

    def _iostack_port_failed(self, err: IoStackPortError) -> None:
        """The port did not open for ekmdevice: a repair issue for network ports (meters go on)."""
        self.diagnostics.iostack_port_error = str(err)
        if err.network:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                f"iostack_port_{self.config_entry.entry_id}",
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="iostack_port_unsupported",
                translation_placeholders={"port": self.bus.url, "error": str(err.__cause__)},
            )

    def _iostack_port_works(self) -> None:
        if self.diagnostics.iostack_port_error is not None:
            self.diagnostics.iostack_port_error = None
            ir.async_delete_issue(self.hass, DOMAIN, f"iostack_port_{self.config_entry.entry_id}")

    def _back_off(self) -> None:
        """After a port failure, wait twice as long each time (up to a limit) before retrying."""
        current = self.update_interval or self.poll_interval
        self.update_interval = min(current * 2, max(MAX_PORT_BACKOFF, self.poll_interval))

    def _check_overrun(self, elapsed: float) -> None:
        """Raise (or clear) a repair issue when the meters cannot be read within the interval."""
        overrun = elapsed > self.poll_interval.total_seconds()
        if overrun == self._overrun:
            return
        self._overrun = overrun
        issue_id = f"poll_overrun_{self.config_entry.entry_id}"
        if overrun:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="poll_overrun",
                translation_placeholders={
                    "port": self.bus.url,
                    "seconds": f"{elapsed:.1f}",
                    "interval": f"{self.poll_interval.total_seconds():g}",
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def devices_changed(self) -> bool:
        """Whether the entry's meters, ioStacks or port differ from what this polls."""
        entry = self.config_entry
        return entry.data[CONF_PORT] != self.bus.url or devices_of(entry) != (
            self.meters,
            self.iostacks,
        )

    def apply_options(self) -> None:
        """Take a changed poll interval / block-B rate without reopening the port."""
        options = self.config_entry.options
        self.poll_interval = timedelta(
            seconds=options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL)
        )
        self.update_interval = self.poll_interval
        self.block_b_every = int(options.get(CONF_BLOCK_B_EVERY, DEFAULT_BLOCK_B_EVERY))

    def consume_reset(self, subentry_id: str, field_name: str) -> bool:
        """Whether ``field_name`` of a meter was reset by our own action (answers True once)."""
        key = (subentry_id, field_name)
        if key in self._resets_pending:
            self._resets_pending.discard(key)
            return True
        return False

    # --- commands --------------------------------------------------------------------------

    async def async_command(
        self,
        subentry_id: str,
        action: Callable[[EkmBus, MeterConfig], Awaitable[None]],
        *,
        resets: tuple[str, ...] = (),
    ) -> None:
        """Run a meter command between polls, then read the meter back at once.

        Library errors become translated ``HomeAssistantError``s; a refused password also
        raises a repair issue, since only the user can fix it.
        """
        meter = self.meters[subentry_id]
        placeholders = {"address": meter.address}
        try:
            await action(self.bus, meter)
        except EkmPasswordError as err:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                f"password_refused_{subentry_id}",
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="password_refused",
                translation_placeholders=placeholders,
            )
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="password_refused",
                translation_placeholders=placeholders,
            ) from err
        except EkmCommandError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_refused",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        except EkmPortError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="port_unavailable",
                translation_placeholders={"port": self.bus.url, "error": str(err)},
            ) from err
        except EkmError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="meter_unreachable",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        ir.async_delete_issue(self.hass, DOMAIN, f"password_refused_{subentry_id}")
        self._resets_pending.update((subentry_id, name) for name in resets)
        await self._async_read_back(meter)

    async def _async_read_back(self, meter: MeterConfig) -> None:
        """Read one meter after a command so entities show what the meter now reports."""
        previous = self.meter_state(meter.subentry_id)
        try:
            state = await self._poll_meter(meter, previous, read_b=False)
        except EkmPortError:
            return  # the next poll reports the port
        self.async_set_updated_data({**(self.data or {}), meter.subentry_id: state})


def _keep_block_b(reading: MeterReading, last: MeterReading) -> MeterReading:
    """Carry block-B-only values over from the last full read (B is read less often)."""
    values: dict[str, Any] = {
        name: value for name, value in last.values.items() if name in V4_B_ONLY_FIELDS
    }
    values.update(reading.values)
    return replace(reading, values=values)  # type: ignore[arg-type]

"""The EKM bus coordinator: the one owner of a serial port, polling every meter on it.

One coordinator per bus (config entry). Each cycle reads every meter subentry in turn and
shows each meter's values as soon as it is read. Every reading passes the meter's
plausibility gate (:mod:`..ekm.gate`) before anything sees it, so a corrupted frame that
passed the CRC never reaches a published total; the gates' baselines are stored, so they hold
across restarts. A meter that fails only some polls keeps showing its last values; one that
fails ``unavailable_after`` polls in a row becomes unavailable (its own entities only). A
vanished port makes the whole bus unavailable after as many failed cycles and is then tried
every second. Commands (relays, clock, resets) go through the same
bus, so they run between two meter sessions, never inside one.

EKM ioStacks on the same bus are read after the meters, through EKM's ``ekmdevice`` library: the
bus lends it the port (:meth:`EkmBus.hand_off`) for one executor job, then takes it back. An
ioStack that fails makes only its own entities unavailable, like a meter.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_call_later
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
from ..ekm.gate import GateEvent
from ..ekm.layout import V4_B_ONLY_FIELDS
from . import repairs
from .const import (
    CONF_BLOCK_B_EVERY,
    CONF_POLL_INTERVAL,
    CONF_PORT,
    CONF_UNAVAILABLE_AFTER,
    DEFAULT_BLOCK_B_EVERY,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_UNAVAILABLE_AFTER,
    MIN_POLL_GAP,
    PORT_RETRY,
    RELAY_REVERT_MARGIN,
    RETRY_BUDGET,
    RETRY_COST,
    RETRY_ROUNDS,
)
from .gates import MeterGates, unconfirmed
from .iostack.backend import (
    EkmDeviceApi,
    IoStackBackendError,
    IoStackError,
    IoStackPortError,
    IoStackReading,
    async_get_ekmdevice,
    async_with_lent_port,
    read_iostacks,
)
from .models import IoStackConfig, MeterConfig, devices_of

_LOGGER = logging.getLogger(__name__)

FAN_OUT_BATCH = 10  # entities told of new data in one event-loop step (25 writing held it 6 ms)


@dataclass(frozen=True, slots=True)
class MeterState:
    """The latest known state of one meter; its reading has passed the meter's gate."""

    reading: MeterReading | None = None
    available: bool = False
    failures: int = 0  # failed polls in a row


@dataclass(frozen=True, slots=True)
class IoStackState:
    """The latest known state of one ioStack."""

    reading: IoStackReading | None = None
    available: bool = False
    failures: int = 0  # failed polls in a row


type DeviceState = MeterState | IoStackState


@dataclass(slots=True)
class BusDiagnostics:
    """What the coordinator counts for diagnostics, beyond the bus's own statistics."""

    cycles: int = 0
    last_cycle_seconds: float | None = None
    port_failures: int = 0
    meter_failures: Counter[str] = field(default_factory=Counter)
    iostack_failures: Counter[str] = field(default_factory=Counter)
    iostack_port_error: str | None = None
    guarded_totals: Counter[str] = field(default_factory=Counter)
    # Resets the gates accepted (a meter reset or replaced, or our own reset action).
    resets_accepted: list[dict[str, Any]] = field(default_factory=list)


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
            # Every poll reaches the entities (they write only what changed): a total that
            # reads lower poll after poll must be seen each time to be told from a glitch.
            always_update=True,
        )
        self.bus = bus
        self.block_b_every = int(entry.options.get(CONF_BLOCK_B_EVERY, DEFAULT_BLOCK_B_EVERY))
        self.unavailable_after = int(
            entry.options.get(CONF_UNAVAILABLE_AFTER, DEFAULT_UNAVAILABLE_AFTER)
        )
        self.meters, self.iostacks = devices_of(entry)
        self.iostack_api: EkmDeviceApi | None = None
        self.diagnostics = BusDiagnostics()
        self.bus_device_id: str | None = None  # set by setup once the bus device exists
        self.gates = MeterGates(hass, entry.entry_id, self.meters)
        self._unavailable_logged: set[str] = set()
        self._overrun = False
        self._port_failures = 0
        self._b_owed = False  # block B was due in a cycle that left it out
        self._fan_out: asyncio.Task[None] | None = None
        self._commands = 0  # commands running, with their read-backs
        self._no_commands = asyncio.Event()
        self._no_commands.set()

    def meter_state(self, subentry_id: str) -> MeterState | None:
        """The latest state of a meter."""
        state = (self.data or {}).get(subentry_id)
        return state if isinstance(state, MeterState) else None

    def iostack_state(self, subentry_id: str) -> IoStackState | None:
        """The latest state of an ioStack."""
        state = (self.data or {}).get(subentry_id)
        return state if isinstance(state, IoStackState) else None

    # --- telling the entities ----------------------------------------------------------------

    @callback
    def async_update_listeners(self) -> None:
        """Tell the entities of new data a batch at a time, yielding the event loop in between.

        A cycle of 8 meters updates hundreds of entities: all of them in one callback held the
        loop for ~10 ms (``scripts/bench scale``). Each batch runs in a step of its own, apart
        from the poll's last step too. A newer update replaces a fan-out still running (the
        entities read the coordinator's data when told, so none misses the newest).
        """
        callbacks = [update_callback for update_callback, _ in list(self._listeners.values())]
        if self._fan_out is not None:
            self._fan_out.cancel()
            self._fan_out = None
        if len(callbacks) <= FAN_OUT_BATCH:
            super().async_update_listeners()
            return
        # Not started eagerly: the first batch too runs after the poll's own step has ended.
        task = self.hass.async_create_task(
            self._async_fan_out(callbacks), f"{self.name} update", eager_start=False
        )
        self._fan_out = task
        task.add_done_callback(self._fan_out_done)

    @callback
    def _fan_out_done(self, task: asyncio.Task[None]) -> None:
        if self._fan_out is task:
            self._fan_out = None

    async def _async_fan_out(self, callbacks: list[Callable[[], None]]) -> None:
        for start in range(0, len(callbacks), FAN_OUT_BATCH):
            if start:
                await asyncio.sleep(0)
            for update_callback in callbacks[start : start + FAN_OUT_BATCH]:
                try:
                    update_callback()
                except Exception:
                    _LOGGER.exception("Unexpected error updating an entity of %s", self.name)

    def _meter_was_reset(self, meter: MeterConfig, resets: list[GateEvent]) -> None:
        """Totals read lower for several polls in a row: a meter reset or replaced."""
        fields = ", ".join(f"{event.field} {event.read:g}" for event in resets)
        _LOGGER.warning(
            "Meter %s reads lower totals than it did, consistently: taken as a meter reset or "
            "replacement (%s); its energy totals count on from these values",
            meter.address,
            fields,
        )
        accepted = {e.field: e.read for e in resets}
        self.diagnostics.resets_accepted.append(
            {"address": meter.address, "at": time.time(), "fields": accepted}
        )
        del self.diagnostics.resets_accepted[:-20]
        repairs.meter_reset(self.hass, meter.subentry_id, meter.address, fields)
        self.hass.async_create_task(self.gates.async_save(), eager_start=False)

    # --- polling ---------------------------------------------------------------------------

    async def _async_update_data(self) -> dict[str, DeviceState]:
        start = time.monotonic()
        # Right after the port was unavailable, block A (live values, energy totals) of every
        # meter comes first: that cycle leaves block B (tariffs, demand) to the next one, so
        # every meter is back within the interval even on a noisy line.
        b_due = self._b_owed or self.diagnostics.cycles % max(self.block_b_every, 1) == 0
        read_b = b_due and self.last_update_success
        self._b_owed = b_due and not read_b
        before = dict(self.data or {})  # the states of the last cycle
        states: dict[str, DeviceState] = {}
        port_error: EkmPortError | None = None
        failed: list[MeterConfig] = []
        for meter in self._polling_order():
            # A command and its read-back go before the next meter, not after it.
            await self._no_commands.wait()
            previous = self.meter_state(meter.subentry_id)
            try:
                state = await self._poll_meter(meter, previous, read_b=read_b)
            except EkmPortError as err:
                if port_error is not None:
                    # Two meters in a row could not reach the port (the bus reopens a
                    # dropped connection once per read): it is gone, not one bad moment.
                    return self._port_failed(err, states)
                port_error = err
                state = self._meter_failed(meter, previous, err)
            else:
                port_error = None
            states[meter.subentry_id] = state
            if state.failures:
                failed.append(meter)
            else:
                await self._async_publish(meter.subentry_id, state)
        if port_error is not None and len(self.meters) == 1:
            return self._port_failed(port_error, states)
        await self._poll_again(failed, states, before, start, read_b=read_b)
        self._port_failures = 0
        if self.iostacks:
            states.update(await self._poll_iostacks())
        self.diagnostics.cycles += 1
        elapsed = time.monotonic() - start
        self.diagnostics.last_cycle_seconds = elapsed
        self._check_overrun(elapsed)
        # Polls start every poll interval (not an interval after the last one ended), so a slow
        # cycle on a noisy line does not stretch the period.
        gap = max(self.poll_interval.total_seconds() - elapsed, MIN_POLL_GAP.total_seconds())
        self.update_interval = timedelta(seconds=gap)
        return states

    async def _async_publish(self, subentry_id: str, state: MeterState) -> None:
        """Show a meter's new values now, not at the end of the cycle.

        Only that meter's entities are told (their listeners carry its subentry id), ten per
        event-loop step. The first meter read after the port was unavailable makes the bus
        available again: after an outage values return meter by meter, within the interval.
        The cycle's end tells every entity again; what already showed this state skips it.
        """
        self.data = {**(self.data or {}), subentry_id: state}
        if not self.last_update_success:
            self.last_update_success = True
            _LOGGER.info("Port %s is answering again", self.bus.url)
        await asyncio.sleep(0)  # not in the step that parsed and gated the reply
        await self._async_fan_out(
            [
                update_callback
                for update_callback, context in list(self._listeners.values())
                if context == subentry_id
            ]
        )

    def _port_failed(
        self, err: EkmPortError, states: dict[str, DeviceState]
    ) -> dict[str, DeviceState]:
        """Keep the last values for a few cycles; then the bus is unavailable until it is back.

        Once the bus is unavailable its port is tried every few seconds (opening one that is
        not there costs nothing), so values return within one poll interval of it coming back.
        """
        self._port_failures += 1
        self.diagnostics.port_failures += 1
        if self._port_failures < self.unavailable_after and self.data is not None:
            _LOGGER.debug("Port %s failed (%s of %s): %s", self.bus.url, self._port_failures,
                          self.unavailable_after, err)  # fmt: skip
            self.update_interval = self.poll_interval
            return {**self.data, **states}
        self.update_interval = min(self.poll_interval, PORT_RETRY)
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="port_unavailable",
            translation_placeholders={"port": self.bus.url, "error": str(err)},
        ) from err

    async def _poll_meter(
        self, meter: MeterConfig, previous: MeterState | None, *, read_b: bool
    ) -> MeterState:
        last = previous.reading if previous else None
        need_b = read_b or last is None or not last.has_block_b
        # Once a meter has a block B, a poll whose B fails still counts: A is the live data.
        have_b = last is not None and last.has_block_b
        try:
            reading = await self.bus.read_meter(
                meter.address, meter.version, include_b=need_b, b_optional=have_b
            )
        except EkmPortError:
            raise
        except EkmError as err:
            return self._meter_failed(meter, previous, err)
        self._log_back(meter.subentry_id, f"Meter {meter.address}")
        gated = self._gate_reading(meter, reading)
        if last is None and unconfirmed(reading, gated):
            # A gate with no baseline (a meter just added) publishes a total only once a
            # second read confirms it: read once more now rather than show nothing a poll.
            with contextlib.suppress(EkmError):
                reading = await self.bus.read_meter(meter.address, meter.version, include_b=True)
                gated = self._gate_reading(meter, reading)
        reading = gated
        if last is not None and not reading.has_block_b:
            reading = _keep_block_b(reading, last)
        return MeterState(reading, available=True)

    def _polling_order(self) -> list[MeterConfig]:
        """The meters whose last poll failed first: their fresh values are the most overdue."""
        return sorted(
            self.meters.values(),
            key=lambda meter: (
                not ((state := self.meter_state(meter.subentry_id)) is not None and state.failures)
            ),
        )

    async def _poll_again(
        self,
        failed: list[MeterConfig],
        states: dict[str, DeviceState],
        before: dict[str, DeviceState],
        start: float,
        *,
        read_b: bool,
    ) -> None:
        """Try the meters that failed this cycle again, in rounds, while the interval allows.

        On a noisy line that turns most lost polls into late ones (the cycle still ends well
        within the interval), so a meter's values stay fresh and it stays available. A meter
        that has been silent for ``unavailable_after`` polls gets one more try, not more: the
        bus time is worth more to the meters that answer.
        """
        budget = self.poll_interval.total_seconds() * RETRY_BUDGET
        for attempt in range(RETRY_ROUNDS):
            still_failing: list[MeterConfig] = []
            for meter in failed:
                previous = before.get(meter.subentry_id)
                if attempt and isinstance(previous, MeterState) and self._silent(previous):
                    continue
                if time.monotonic() - start + RETRY_COST.total_seconds() > budget:
                    return
                await self._no_commands.wait()
                state: MeterState | None = None
                with contextlib.suppress(EkmPortError):  # the next cycle reports the port
                    state = await self._poll_meter(
                        meter, previous if isinstance(previous, MeterState) else None,
                        read_b=read_b,
                    )  # fmt: skip
                if state is not None and not state.failures:
                    states[meter.subentry_id] = state
                    await self._async_publish(meter.subentry_id, state)
                else:
                    still_failing.append(meter)
            if not (failed := still_failing):
                return

    def _silent(self, state: MeterState) -> bool:
        """Whether a meter has not answered for ``unavailable_after`` polls in a row."""
        return state.failures >= self.unavailable_after

    def _meter_failed(
        self, meter: MeterConfig, previous: MeterState | None, err: EkmError
    ) -> MeterState:
        self.diagnostics.meter_failures[meter.address] += 1
        failures = (previous.failures if previous else 0) + 1
        # One lost reply on a noisy line is not a missing meter: its last values stand.
        available = (
            previous is not None and previous.available and failures < self.unavailable_after
        )
        if failures >= self.unavailable_after:
            # Not at the first failure of a meter just set up: on a noisy line that is noise.
            self._log_gone(meter.subentry_id, f"Meter {meter.address}", err)
        return MeterState(previous.reading if previous else None, available, failures)

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

    async def async_read_iostack(self, api: EkmDeviceApi, address: str) -> IoStackReading:
        """Read one ioStack now (the subentry flow does this before adding it)."""
        results = await async_with_lent_port(
            self.hass, self.bus, lambda port: read_iostacks(api, port, [address])
        )
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
                results = await async_with_lent_port(
                    self.hass, self.bus, lambda port: read_iostacks(api, port, addresses)
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

    def _gate_reading(self, meter: MeterConfig, reading: MeterReading) -> MeterReading:
        """Pass a reading through the meter's gate: what of it may be published."""
        gated, resets = self.gates.check(meter, reading)
        if resets:
            self._meter_was_reset(meter, resets)
        return gated

    def _iostack_state(
        self, iostack: IoStackConfig, result: IoStackReading | IoStackError
    ) -> IoStackState:
        if isinstance(result, IoStackError):
            self.diagnostics.iostack_failures[iostack.address] += 1
            previous = self.iostack_state(iostack.subentry_id)
            failures = (previous.failures if previous else 0) + 1
            available = (
                previous is not None and previous.available and failures < self.unavailable_after
            )
            if not available:
                self._log_gone(iostack.subentry_id, f"ioStack {iostack.address}", result)
            return IoStackState(
                previous.reading if previous else None, available=available, failures=failures
            )
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
            repairs.iostack_port(
                self.hass, self.config_entry.entry_id, self.bus.url, str(err.__cause__)
            )

    def _iostack_port_works(self) -> None:
        if self.diagnostics.iostack_port_error is not None:
            self.diagnostics.iostack_port_error = None
            repairs.iostack_port(self.hass, self.config_entry.entry_id, self.bus.url, None)

    def _check_overrun(self, elapsed: float) -> None:
        """Raise (or clear) a repair issue when the meters cannot be read within the interval."""
        overrun = elapsed > self.poll_interval.total_seconds()
        if overrun == self._overrun:
            return
        self._overrun = overrun
        repairs.poll_overrun(
            self.hass,
            self.config_entry.entry_id,
            self.bus.url,
            elapsed if overrun else None,
            self.poll_interval.total_seconds(),
        )

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
        self.unavailable_after = int(options.get(CONF_UNAVAILABLE_AFTER, DEFAULT_UNAVAILABLE_AFTER))

    # --- commands --------------------------------------------------------------------------

    async def async_command(
        self,
        subentry_id: str,
        action: Callable[[EkmBus, MeterConfig], Awaitable[None]],
        *,
        resets: tuple[str, ...] = (),
    ) -> None:
        """Run a meter command between two meter reads of a poll, then read the meter back.

        The poll waits for both: the bus lock is first come, first served, so the poll's next
        meter would otherwise go between the command and its read-back (a relay confirmed
        ~0.6 s later: ``scripts/bench scale``). Library errors become translated
        ``HomeAssistantError``s; a refused password also raises a repair issue, since only the
        user can fix it.
        """
        self._commands += 1
        self._no_commands.clear()
        try:
            await self._async_command(subentry_id, action, resets)
        finally:
            self._commands -= 1
            if not self._commands:
                self._no_commands.set()

    async def _async_command(
        self,
        subentry_id: str,
        action: Callable[[EkmBus, MeterConfig], Awaitable[None]],
        resets: tuple[str, ...],
    ) -> None:
        meter = self.meters[subentry_id]
        placeholders = {"address": meter.address}
        try:
            await action(self.bus, meter)
        except EkmPasswordError as err:
            repairs.password_refused(self.hass, subentry_id, meter.address)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="password_refused",
                translation_placeholders=placeholders,
            ) from err
        except ValueError as err:  # refused before the bus (a stored password that is not valid)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="invalid_command",
                translation_placeholders={**placeholders, "error": str(err)},
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
        repairs.password_accepted(self.hass, subentry_id)
        if resets:
            # The meter zeroed these registers: the next lower value is a reset, at once.
            self.gates.expect_reset(meter, resets)
        await self._async_read_back(meter)

    @callback
    def async_read_back_later(self, subentry_id: str, seconds: float) -> None:
        """Read a meter again once a timed relay has reverted (the meter times it itself)."""
        meter = self.meters[subentry_id]

        @callback
        def _due(_now: object) -> None:
            self.config_entry.async_create_background_task(
                self.hass, self._async_read_back(meter), f"EKM {meter.address} relay read-back"
            )

        delay = seconds + RELAY_REVERT_MARGIN.total_seconds()
        self.config_entry.async_on_unload(async_call_later(self.hass, delay, _due))

    async def _async_read_back(self, meter: MeterConfig) -> None:
        """Read one meter after a command so entities show what the meter now reports."""
        previous = self.meter_state(meter.subentry_id)
        try:
            state = await self._poll_meter(meter, previous, read_b=False)
            if state.failures:  # one lost reply should not hide what the meter now reports
                state = await self._poll_meter(meter, previous, read_b=False)
        except EkmPortError:
            return  # the next poll reports the port
        self.async_set_updated_data({**(self.data or {}), meter.subentry_id: state})
        if (fan_out := self._fan_out) is not None:
            # A command returns once its entities show what the meter reports.
            await asyncio.wait([fan_out])


def _keep_block_b(reading: MeterReading, last: MeterReading) -> MeterReading:
    """Carry block-B-only values over from the last full read (B is read less often)."""
    values: dict[str, Any] = {
        name: value for name, value in last.values.items() if name in V4_B_ONLY_FIELDS
    }
    values.update(reading.values)
    return replace(reading, values=values)  # type: ignore[arg-type]

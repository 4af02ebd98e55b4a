"""One owner of one RS-485 port: transactions with Omnimeters, strictly one at a time.

The bus opens the port with serialx (local device paths, ``socket://host:port``,
``rfc2217://host:port``, an ESPHome serial proxy's ``esphome://`` or Home Assistant's
``esphome-hass://`` URL) at 9600 baud 7E1. Every meter session is read → (password → write) →
close, under one lock, so a command from Home Assistant waits for the current meter's session
and never interleaves with a poll. Replies are assembled by length as bytes arrive; the only
sleeps are the short line-quiet gap between a reply and the next host frame.
"""

import asyncio
import contextlib
import errno
import logging
import os
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import serialx

from .address import normalize_address
from .errors import (
    EkmAddressMismatchError,
    EkmCommandError,
    EkmCrcError,
    EkmError,
    EkmFrameError,
    EkmPasswordError,
    EkmPortError,
    EkmTimeoutError,
)
from .frames import (
    ACK,
    CLOSE_FRAME,
    DEFAULT_PASSWORD,
    ETX,
    NAK,
    STX,
    ReadBlock,
    Relay,
    RelayState,
    max_demand_reset_now_frame,
    password_frame,
    read_request,
    relay_frame,
    set_time_frame,
    zero_resettable_frame,
)
from .layout import FRAME_LENGTH
from .models import MeterReading, MeterValues, MeterVersion
from .parse import frame_kwh_scale, merge_v4, parse_v3, parse_v4_a, parse_v4_b
from .ports import REPLY_MARGIN, PortKind, port_kind

_LOGGER = logging.getLogger(__name__)

BAUDRATE = 9600
CHAR_TIME = 10 / BAUDRATE
"""Seconds per character at 9600 baud 7E1: start + 7 data + parity + stop = 10 bits."""

DEFAULT_TIMEOUT = REPLY_MARGIN[PortKind.LOCAL]
"""Seconds allowed beyond the pure wire time of a transaction on a local port; other kinds
of port get their own margin (:data:`~.ports.REPLY_MARGIN`)."""

DEFAULT_GAP = 0.005
"""Line-quiet time between a device's reply and the host's next frame: about 5 characters,
more than Modbus RTU's 3.5-character rule, so a meter has released the line before we drive it.
ekmmeters sleeps 200 ms here; that is where most of its cycle time goes."""

SET_TIME_APPLY_DELAY = 0.0
"""Seconds from the end of a set-time frame until the meter's clock takes the time. The meter
acts on a frame once it has all of it (the simulator models exactly that); a measured delay of
real hardware would go here."""

RECEIVE_LIMIT = 4 * FRAME_LENGTH
"""Most bytes the receive buffer holds. Beyond it, what cannot be (the start of) a reply is
discarded, so a chattering peer costs bounded memory and CPU however fast it streams."""

TIMEOUTS_BEFORE_REOPEN = 3
"""Consecutive timeouts on a network port after which the connection is treated as dead
(serial-over-TCP connections can die silently) and reopened."""


@dataclass(slots=True)
class BusStats:
    """Counters for diagnostics."""

    transactions: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    frame_errors: int = 0
    address_mismatches: int = 0
    retries: int = 0
    naks: int = 0
    port_errors: int = 0
    opens: int = 0
    hand_offs: int = 0
    bytes_discarded: int = 0
    buffer_overflows: int = 0
    """Times the receive buffer hit :data:`RECEIVE_LIMIT` and line noise was thrown away."""
    buffer_peak: int = 0
    """Largest the receive buffer has been (bytes); at most :data:`RECEIVE_LIMIT`."""
    reconnects: int = 0
    """Network connections that dropped mid-transaction and were reopened for a retry."""
    last_error: str | None = None

    def as_dict(self) -> dict[str, int | str | None]:
        """Return the counters as a plain dict."""
        return {name: getattr(self, name) for name in self.__slots__}


class _Receiver(asyncio.Protocol):
    """Collects bytes from the port and wakes the transaction waiting for them."""

    def __init__(self, on_lost: Callable[[Exception | None], None], stats: BusStats) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.lost = False
        self._on_lost = on_lost
        self._stats = stats

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > RECEIVE_LIMIT:
            self._stats.buffer_overflows += 1
            self._stats.bytes_discarded += keep_possible_reply(self.buffer)
        self._stats.buffer_peak = max(self._stats.buffer_peak, len(self.buffer))
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(EkmPortError(f"port closed: {exc or 'connection lost'}"))
        self._on_lost(exc)


@dataclass(slots=True)
class _Session:
    """The open meter session, so it can be closed however the transaction ends."""

    address: str
    open: bool = field(default=False)


class EkmBus:
    """The single owner of one serial port with EKM devices on it."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = None,
        gap: float = DEFAULT_GAP,
        read_retries: int = 1,
    ) -> None:
        """Prepare a bus on ``url``; the port opens on first use or with :meth:`open`.

        ``timeout`` is the margin beyond a transaction's wire time; by default the margin of
        the port's kind (local, serial-over-TCP, ESPHome proxy).
        """
        self.url = url
        self.kind = port_kind(url)
        self.timeout = REPLY_MARGIN[self.kind] if timeout is None else timeout
        self.gap = gap
        self.read_retries = read_retries
        # Wire time per character, used to size each transaction's deadline.
        self.char_time = CHAR_TIME
        self.stats = BusStats()
        self._lock = asyncio.Lock()
        self._transport: serialx.BaseSerialTransport | None = None
        self._receiver: _Receiver | None = None
        self._line_free_at = 0.0
        self._consecutive_timeouts = 0
        self._network = self.kind is not PortKind.LOCAL
        # Set by close(): the port stays released (no transaction reopens it) until open().
        self._closed = False

    # --- port lifecycle --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the port is open and usable."""
        return self._receiver is not None and not self._receiver.lost

    async def open(self) -> None:
        """Open the port now (it is otherwise opened on first use and after it vanishes)."""
        async with self._lock:
            self._closed = False
            await self._ensure_open()

    async def close(self) -> None:
        """Release the port for good. Waits for a running transaction to finish first.

        Later transactions fail with :class:`EkmPortError` instead of reopening the port, so a
        caller still holding this bus (a flow, an action) cannot take the port away from the
        bus that replaced it; :meth:`open` makes it usable again.
        """
        async with self._lock:
            self._closed = True
            await self._drop_port()

    @contextlib.asynccontextmanager
    async def hand_off(self) -> AsyncIterator[str]:
        """Lend the port to another program (EKM's ``ekmdevice`` for ioStacks), then take it back.

        Inside the block the bus holds its transaction lock, no meter session is open (every
        session ends with its close frame, which has left the wire) and the port is closed, so
        the borrower may open ``url`` itself; no meter transaction can start until the block
        ends. On exit the port is reopened; if that fails, the next transaction reports it.
        The borrower must have released the port when the block ends.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            # The last meter's close frame (and the line-quiet gap) must be over first.
            if (wait := self._line_free_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            await self._drop_port()
            if not self._network:
                # With glibc >= 2.42 another program cannot re-apply settings to a terminal
                # serialx configured (tcsetattr: EINVAL): lend it a plain terminal.
                with contextlib.suppress(OSError):
                    await loop.run_in_executor(None, reset_terminal, self.url)
            self.stats.hand_offs += 1
            try:
                yield self.url
            finally:
                self._line_free_at = loop.time() + self.gap
                with contextlib.suppress(EkmPortError):
                    await self._ensure_open()

    async def __aenter__(self) -> Self:
        """Open the port."""
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the port."""
        await self.close()

    async def _connect(self, receiver: _Receiver) -> serialx.BaseSerialTransport:
        transport, _ = await serialx.create_serial_connection(
            asyncio.get_running_loop(),
            lambda: receiver,
            self.url,
            baudrate=BAUDRATE,
            parity=serialx.Parity.EVEN,
            stopbits=serialx.StopBits.ONE,
            byte_size=7,
        )
        return transport

    async def _ensure_open(self) -> _Receiver:
        if self._receiver is not None and not self._receiver.lost:
            return self._receiver
        if self._closed:
            raise EkmPortError(f"the bus on {self.url} was closed")
        await self._drop_port()
        receiver = _Receiver(self._port_lost, self.stats)
        try:
            try:
                transport = await self._connect(receiver)
            except OSError as err:
                if err.errno != errno.EINVAL or self._network:
                    raise
                # With glibc >= 2.42 serialx cannot always re-apply 7E1 to a terminal it
                # configured before (tcsetattr: EINVAL). Reset the terminal, then try once more.
                await asyncio.get_running_loop().run_in_executor(None, reset_terminal, self.url)
                transport = await self._connect(receiver)
        except (OSError, serialx.SerialException, ValueError) as err:
            self.stats.port_errors += 1
            self.stats.last_error = f"open {self.url}: {err}"
            raise EkmPortError(f"cannot open {self.url}: {err}") from err
        self.stats.opens += 1
        self._transport = transport
        self._receiver = receiver
        self._consecutive_timeouts = 0
        return receiver

    def _port_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            _LOGGER.debug("Port %s lost: %s", self.url, exc)

    async def _drop_port(self) -> None:
        transport, self._transport, self._receiver = self._transport, None, None
        if transport is not None:
            transport.close()
            closed = getattr(transport, "wait_closed", None)
            if closed is not None:
                with contextlib.suppress(Exception):
                    await closed()

    # --- the wire --------------------------------------------------------------------------

    async def _send(self, receiver: _Receiver, frame: bytes) -> None:
        """Transmit one host frame after the line-quiet gap; stale input is discarded."""
        loop = asyncio.get_running_loop()
        wait = self._line_free_at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if receiver.buffer:
            # Anything unread now is line noise or a late reply: never mistake it for ours.
            self.stats.bytes_discarded += len(receiver.buffer)
            receiver.buffer.clear()
        if receiver.lost or self._transport is None:
            raise EkmPortError(f"port {self.url} is gone")
        try:
            self._transport.write(frame)
        except (OSError, RuntimeError) as err:
            await self._drop_port()
            raise EkmPortError(f"write to {self.url} failed: {err}") from err
        self.stats.transactions += 1

    async def _await_data(self, receiver: _Receiver, deadline: float) -> bool:
        """Wait for more bytes until ``deadline``; False when the deadline passed."""
        loop = asyncio.get_running_loop()
        if receiver.lost:
            raise EkmPortError(f"port {self.url} is gone")
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        receiver.waiter = loop.create_future()
        try:
            async with asyncio.timeout(remaining):
                await receiver.waiter
        except TimeoutError:
            return False
        finally:
            receiver.waiter = None
        return True

    def _deadline(self, sent: int, expected: int) -> float:
        wire = (sent + expected) * self.char_time
        return asyncio.get_running_loop().time() + wire + self.timeout

    def _quiet_after_reply(self) -> None:
        self._line_free_at = asyncio.get_running_loop().time() + self.gap

    async def _request_frame(self, receiver: _Receiver, request: bytes) -> bytes:
        """Send ``request`` and return the first 255-byte frame (STX … ETX) that follows.

        Bytes before the STX (noise, adapter echo) are skipped. A candidate with an ETX at
        byte 252 is taken as the reply, valid or not; one without is a false STX in noise.
        """
        await self._send(receiver, request)
        deadline = self._deadline(len(request), FRAME_LENGTH)
        buf = receiver.buffer
        while True:
            # The receiver may have trimmed the buffer: scan it afresh (it is bounded).
            start = 0
            while (pos := buf.find(STX, start)) != -1 and len(buf) - pos >= FRAME_LENGTH:
                if buf[pos + 252] == ETX:
                    frame = bytes(buf[pos : pos + FRAME_LENGTH])
                    del buf[: pos + FRAME_LENGTH]
                    self._quiet_after_reply()
                    self._consecutive_timeouts = 0
                    return frame
                start = pos + 1
            if not await self._await_data(receiver, deadline):
                break
        self._quiet_after_reply()
        if buf:
            raise EkmFrameError(f"incomplete reply: {len(buf)} bytes, no complete frame")
        raise EkmTimeoutError(f"no reply within {self.timeout:.2f} s after the wire time")

    async def _request_ack(self, receiver: _Receiver, frame: bytes, step: str) -> None:
        """Send a password or write frame and require ACK."""
        await self._send(receiver, frame)
        deadline = self._deadline(len(frame), 1)
        while True:
            for byte in receiver.buffer:
                if byte in (ACK, NAK):
                    receiver.buffer.clear()
                    self._quiet_after_reply()
                    if byte == ACK:
                        return
                    self.stats.naks += 1
                    if step == "password":
                        raise EkmPasswordError("meter answered NAK")
                    raise EkmCommandError(step, "meter answered NAK")
            if not await self._await_data(receiver, deadline):
                break
        self._quiet_after_reply()
        if receiver.buffer:
            got = f"unexpected bytes {bytes(receiver.buffer).hex()}"
        else:
            got = "no reply"
            self.stats.timeouts += 1
        if step == "password":
            raise EkmPasswordError(got)
        raise EkmCommandError(step, got)

    # --- meter sessions --------------------------------------------------------------------

    def _count(self, err: EkmError) -> None:
        self.stats.last_error = str(err)
        if isinstance(err, EkmTimeoutError):
            self.stats.timeouts += 1
            self._consecutive_timeouts += 1
        elif isinstance(err, EkmCrcError):
            self.stats.crc_errors += 1
        elif isinstance(err, EkmAddressMismatchError):
            self.stats.address_mismatches += 1
        elif isinstance(err, EkmFrameError):
            self.stats.frame_errors += 1
        elif isinstance(err, EkmPortError):
            self.stats.port_errors += 1

    async def _read_block(
        self,
        receiver: _Receiver,
        address: str,
        block: ReadBlock | None,
        parse: Callable[[bytes], MeterValues],
        session: _Session,
    ) -> tuple[bytes, MeterValues]:
        """One read request with validation; a bad frame is retried ``read_retries`` times."""
        request = read_request(address, block)
        attempt = 0
        while True:
            session.open = True
            try:
                frame = await self._request_frame(receiver, request)
                return frame, parse(frame)
            except EkmFrameError as err:
                self._count(err)
                if attempt >= self.read_retries:
                    raise
                attempt += 1
                self.stats.retries += 1
                _LOGGER.debug("Meter %s: %s; retrying", address, err)
            except EkmError as err:
                self._count(err)
                raise

    def _end_session(self, session: _Session) -> None:
        """Send the close frame. Synchronous, so it also runs when the caller is cancelled."""
        if not session.open:
            return
        session.open = False
        receiver, transport = self._receiver, self._transport
        if receiver is None or receiver.lost or transport is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            transport.write(CLOSE_FRAME)
            # The close frame has no reply: the next frame may follow once it is on the wire.
            loop = asyncio.get_running_loop()
            close_time = len(CLOSE_FRAME) * self.char_time
            self._line_free_at = max(self._line_free_at, loop.time() + close_time)

    async def _open_for_transaction(self) -> _Receiver:
        if self._network and self._consecutive_timeouts >= TIMEOUTS_BEFORE_REOPEN:
            _LOGGER.debug("Reopening %s after %d timeouts", self.url, self._consecutive_timeouts)
            await self._drop_port()
        try:
            return await self._ensure_open()
        except EkmPortError as err:
            self.stats.last_error = str(err)
            raise

    async def _read_locked(
        self,
        address: str,
        version: MeterVersion,
        *,
        include_b: bool,
        session: _Session,
        b_optional: bool = False,
    ) -> MeterReading:
        receiver = await self._open_for_transaction()
        try:
            if version is MeterVersion.V3:
                frame, values = await self._read_block(
                    receiver, address, None, lambda f: parse_v3(f, address), session
                )
                return MeterReading(address, version, values, (frame,))
            frame_a, values_a = await self._read_block(
                receiver, address, ReadBlock.A, lambda f: parse_v4_a(f, address), session
            )
            if not include_b:
                return MeterReading(address, version, values_a, (frame_a,))
            scale = frame_kwh_scale(frame_a)
            try:
                frame_b, values_b = await self._read_block(
                    receiver, address, ReadBlock.B, lambda f: parse_v4_b(f, address, scale), session
                )
            except EkmPortError:
                raise
            except EkmError:
                if not b_optional:
                    raise
                # Block A is good: the caller keeps its last block B (tariffs, ratios).
                return MeterReading(address, version, values_a, (frame_a,))
            return MeterReading(address, version, merge_v4(values_a, values_b), (frame_a, frame_b))
        except EkmPortError:
            await self._drop_port()
            raise

    async def read_meter(
        self,
        address: int | str,
        version: MeterVersion | int,
        *,
        include_b: bool = True,
        b_optional: bool = False,
    ) -> MeterReading:
        """Read one meter (v3, or v4 block A and, by default, B) and end its session.

        With ``b_optional``, a block B that does not come back valid leaves a reading of block
        A alone (``has_block_b`` false) instead of failing the whole read.
        """
        addr = normalize_address(address)
        ver = MeterVersion(version)
        async with self._lock:
            for attempt in (1, 2):
                session = _Session(addr)
                try:
                    return await self._read_locked(
                        addr, ver, include_b=include_b, session=session, b_optional=b_optional
                    )
                except EkmPortError:
                    if attempt == 2 or not self._network or self._closed:
                        raise
                    # A dropped serial-over-TCP connection: reopen at once and try once more,
                    # so a drop costs one failed transaction, not the rest of the cycle.
                    self.stats.reconnects += 1
                    _LOGGER.debug("Connection to %s lost; reopening and retrying", self.url)
                finally:
                    self._end_session(session)
        raise AssertionError("unreachable")

    async def identify(self, address: int | str) -> MeterVersion:
        """Find a meter's protocol version: a v4 block-A probe first, then a v3 read.

        Raises the last read error when neither answers validly.
        """
        addr = normalize_address(address)
        try:
            await self.read_meter(addr, MeterVersion.V4, include_b=False)
        except EkmTimeoutError, EkmFrameError:
            await self.read_meter(addr, MeterVersion.V3)
            return MeterVersion.V3
        return MeterVersion.V4

    async def command(
        self,
        address: int | str,
        version: MeterVersion | int,
        write: bytes,
        *,
        password: str = DEFAULT_PASSWORD,
    ) -> MeterReading:
        """Run one command session: read → password → write → close, checking each ACK.

        Returns the reading taken to open the session. A password that is not acknowledged
        raises :class:`EkmPasswordError` and the write is not sent (ekmmeters HEAD sends it
        anyway); the session is closed however the command ends.
        """
        return await self._command(address, version, _ready(write), password=password)

    async def _command(
        self,
        address: int | str,
        version: MeterVersion | int,
        make_write: Callable[[], Awaitable[bytes]],
        *,
        password: str,
    ) -> MeterReading:
        """:meth:`command` with the write frame built (and timed) once the password is in."""
        addr = normalize_address(address)
        ver = MeterVersion(version)
        pwd = password_frame(password)
        session = _Session(addr)
        async with self._lock:
            try:
                reading = await self._read_locked(addr, ver, include_b=False, session=session)
                receiver = await self._ensure_open()
                try:
                    await self._request_ack(receiver, pwd, "password")
                    await self._request_ack(receiver, await make_write(), "write")
                except EkmCommandError as err:
                    self.stats.last_error = str(err)
                    raise
                except EkmPortError:
                    await self._drop_port()
                    raise
                return reading
            finally:
                self._end_session(session)

    async def set_relay(
        self,
        address: int | str,
        relay: Relay | int,
        state: RelayState | int,
        *,
        seconds: int = 0,
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        """Open or close a v4 relay; ``seconds`` > 0 makes the meter hold it that long."""
        frame = relay_frame(relay, state, seconds)
        await self.command(address, MeterVersion.V4, frame, password=password)

    async def set_time(
        self,
        address: int | str,
        version: MeterVersion | int,
        when: datetime,
        *,
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        """Set the meter clock to ``when`` (meter-local time, as of this call).

        The clock holds whole seconds and takes a time when the write frame has arrived. So
        the write is delayed until it will complete exactly on a whole second of the requested
        clock (which runs on from ``when`` while the session opens), and carries that second:
        the meter ends within a few milliseconds of ``when`` plus the time elapsed, not up to
        a second (plus the session's length) behind.
        """
        set_time_frame(when)  # refuse an unsupported year before opening a session
        loop = asyncio.get_running_loop()
        called_at = loop.time()

        async def timed_write() -> bytes:
            sample = set_time_frame(when)
            wire = len(sample) * self.char_time + SET_TIME_APPLY_DELAY
            earliest = max(loop.time(), self._line_free_at) + wire
            # The requested clock at the earliest completion, rounded up to a whole second.
            target = when + timedelta(seconds=earliest - called_at)
            second = target.replace(microsecond=0)
            if second < target:
                second += timedelta(seconds=1)
            complete_at = called_at + (second - when).total_seconds()
            if (wait := complete_at - wire - loop.time()) > 0:
                await asyncio.sleep(wait)
            return set_time_frame(second)

        await self._command(address, version, timed_write, password=password)

    async def zero_resettable(
        self, address: int | str, *, password: str = DEFAULT_PASSWORD
    ) -> None:
        """Zero kWh_Rst and Rev_kWh_Rst (v4)."""
        await self.command(address, MeterVersion.V4, zero_resettable_frame(), password=password)

    async def reset_max_demand(
        self, address: int | str, version: MeterVersion | int, *, password: str = DEFAULT_PASSWORD
    ) -> None:
        """Reset the max-demand register now."""
        await self.command(address, version, max_demand_reset_now_frame(), password=password)


def _ready(frame: bytes) -> Callable[[], Awaitable[bytes]]:
    async def ready() -> bytes:
        return frame

    return ready


def keep_possible_reply(buf: bytearray) -> int:
    """Trim ``buf`` in place to what can still be a reply; return how many bytes went.

    Kept: the first complete frame candidate (STX with ETX 252 bytes on) and what follows it,
    up to :data:`RECEIVE_LIMIT`; without one, the tail from the first STX that has no room
    for a frame yet (a reply still arriving). Everything else cannot start a frame.
    """
    size = len(buf)
    keep_from, keep_to = size, size
    pos = buf.find(STX)
    while pos != -1:
        if size - pos < FRAME_LENGTH:
            keep_from = pos
            break
        if buf[pos + 252] == ETX:
            keep_from, keep_to = pos, min(size, pos + RECEIVE_LIMIT)
            break
        pos = buf.find(STX, pos + 1)
    del buf[keep_to:]
    del buf[:keep_from]
    return size - len(buf)


def reset_terminal(path: str) -> None:
    """Put a local serial device back to plain 38400 8N1 settings (blocking: run in executor)."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        attrs = termios.tcgetattr(fd)
        attrs[2] = (attrs[2] & ~termios.CSIZE & ~termios.PARENB) | termios.CS8 | termios.CREAD
        attrs[4] = attrs[5] = termios.B38400
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    finally:
        os.close(fd)

"""The simulated bus: meters, sessions, faults and the wire, served over TCP and a pty."""

import asyncio
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, NamedTuple, Self

from custom_components.energy_local.ekm.address import normalize_address
from custom_components.energy_local.ekm.crc import ekm_crc
from custom_components.energy_local.ekm.frames import ACK, ETX, NAK, STX, ReadBlock
from custom_components.energy_local.ekm.layout import (
    FRAME_LENGTH,
    V3_FIELDS,
    V4_A_FIELDS,
    V4_B_FIELDS,
    Field,
)
from custom_components.energy_local.ekm.models import MeterVersion

from .clock import SimClock
from .commands import apply_write
from .faults import FaultKind, FaultPlan
from .meter import SimMeter
from .requests import FrameKind, HostFrame
from .server import ClientPort, PtyEndpoint, TcpEndpoint
from .wire import CHAR_TIME, DEFAULT_CHUNK_CHARS, DEFAULT_TURNAROUND, Wire, WireStats

_LAYOUTS: dict[ReadBlock | None, tuple[Field, ...]] = {
    None: V3_FIELDS,
    ReadBlock.A: V4_A_FIELDS,
    ReadBlock.B: V4_B_FIELDS,
}


class Direction(StrEnum):
    """Who put bytes on the line."""

    HOST = "host"
    METER = "meter"


class TranscriptEntry(NamedTuple):
    """One frame on the line: a recognised host frame, or a reply as actually sent."""

    direction: Direction
    data: bytes


@dataclass(slots=True)
class SimStats:
    """What the bus saw."""

    host_frames: int = 0
    host_chars: int = 0
    """Every byte clients sent, noise included (each took a character time on the wire)."""
    replies: int = 0
    reply_chars: int = 0
    bad_crc_frames: int = 0
    ignored_frames: int = 0
    """Recognised frames nobody answered: unknown or silent address, no session, v3 + v4 read."""


@dataclass(slots=True)
class _Session:
    """The one open meter session (a read opens it; close, or a read elsewhere, ends it)."""

    address: str
    unlocked: bool = False  # a P1 was accepted and no W1 has used it yet


class MeterTable(dict[str, SimMeter]):
    """Meters by 12-digit address; a lookup also accepts a short or int address."""

    def __missing__(self, key: str | int) -> SimMeter:
        """Retry the lookup with the address normalised (``300001285`` → ``000300001285``)."""
        try:
            address = normalize_address(key)
        except ValueError:
            raise KeyError(key) from None
        if address == key:
            raise KeyError(key)
        return self[address]


def settings_reply(register: str) -> bytes:
    """A 255-byte settings-read reply: STX, register, '(', zeros, ETX, CRC."""
    frame = bytearray(b"0" * FRAME_LENGTH)
    frame[0] = STX
    frame[1:6] = f"{register}(".encode("ascii")
    frame[252] = ETX
    frame[253:255] = ekm_crc(bytes(frame[1:253]))
    return bytes(frame)


class EkmBusSimulator:
    """An RS-485 bus with simulated EKM Omnimeters, reachable over TCP and/or a pty.

    All clients share one wire and one set of meters; a reply goes to the client whose
    request it answers. Use ``async with EkmBusSimulator(...) as sim`` or call
    :meth:`stop` when done.
    """

    def __init__(
        self,
        meters: Iterable[tuple[int | str, MeterVersion | int]] = (),
        *,
        paced: bool = True,
        turnaround: float = DEFAULT_TURNAROUND,
        speed: float = 1.0,
        faults: FaultPlan | None = None,
        seed: int | None = None,
        transcript_size: int = 1000,
        char_time: float = CHAR_TIME,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
    ) -> None:
        """Create the bus with ``meters`` as (address, version) pairs (more via add_meter).

        ``turnaround`` is in seconds; ``speed`` makes simulated time (energy, relay timers,
        meter clocks) run that many times faster; ``seed`` fixes meter values and faults.
        """
        self.clock = SimClock(speed)
        self.seed = seed
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self.meters = MeterTable()
        """Simulated meters by 12-digit address (``sim.meters[300001285]`` works too)."""
        self.transcript: deque[TranscriptEntry] = deque(maxlen=transcript_size)
        self.stats = SimStats()
        self._session: _Session | None = None
        self._paced = paced
        self._turnaround = turnaround
        self._char_time = char_time
        self._chunk_chars = chunk_chars
        self._wire: Wire | None = None
        self._tcp: list[TcpEndpoint] = []
        self._pty: list[PtyEndpoint] = []
        for address, version in meters:
            self.add_meter(address, version)

    # --- configuration ---------------------------------------------------------------------

    def add_meter(
        self, address: int | str, version: MeterVersion | int, **options: Any
    ) -> SimMeter:
        """Add a meter; ``options`` are :class:`SimMeter` keyword arguments."""
        addr = normalize_address(address)
        if addr in self.meters:
            raise ValueError(f"meter {addr} is already on the bus")
        options.setdefault("rng", random.Random(f"{self.seed}:{addr}"))
        meter = SimMeter(addr, version, self.clock, **options)
        self.meters[addr] = meter
        return meter

    def unplug(self, address: int | str) -> None:
        """Make a meter silent, as if disconnected from the bus."""
        meter = self.meters[normalize_address(address)]
        meter.silent = True
        if self._session is not None and self._session.address == meter.address:
            self._session = None

    def plug(self, address: int | str) -> None:
        """Reconnect a meter made silent by :meth:`unplug`."""
        self.meters[normalize_address(address)].silent = False

    @property
    def session_address(self) -> str | None:
        """The meter whose command session is open (read, not yet closed), if any."""
        return self._session.address if self._session is not None else None

    @property
    def session_unlocked(self) -> bool:
        """Whether the open session has an accepted password waiting for a write."""
        return self._session is not None and self._session.unlocked

    @property
    def paced(self) -> bool:
        """Whether replies take real wire time (False: sent at once, for fast tests)."""
        return self._paced

    @paced.setter
    def paced(self, value: bool) -> None:
        self._paced = value
        if self._wire is not None:
            self._wire.paced = value

    @property
    def turnaround(self) -> float:
        """Seconds from the end of a request on the wire to the start of the reply."""
        return self._turnaround

    @turnaround.setter
    def turnaround(self, value: float) -> None:
        self._turnaround = value
        if self._wire is not None:
            self._wire.turnaround = value

    @property
    def wire_stats(self) -> WireStats:
        """Punctuality of paced deliveries (all zero before the first one)."""
        return self._wire.stats if self._wire is not None else WireStats()

    @property
    def wire_free_at(self) -> float:
        """Loop time when the last scheduled character leaves the line (0 before start)."""
        return self._wire.free_at if self._wire is not None else 0.0

    # --- serving ---------------------------------------------------------------------------

    def _ensure_wire(self) -> Wire:
        if self._wire is None:
            self._wire = Wire(
                asyncio.get_running_loop(),
                paced=self._paced,
                turnaround=self._turnaround,
                char_time=self._char_time,
                chunk_chars=self._chunk_chars,
            )
        return self._wire

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen for clients on ``host:port`` (0 = a free port); return the port."""
        self._ensure_wire()
        endpoint = TcpEndpoint(self.host_bytes)
        actual = await endpoint.start(host, port)
        self._tcp.append(endpoint)
        return actual

    async def start_pty(self) -> str:
        """Create a pseudo-terminal; return the path a client opens as a serial port."""
        self._ensure_wire()
        endpoint = PtyEndpoint(self.host_bytes)
        path = endpoint.start()
        self._pty.append(endpoint)
        return path

    @property
    def endpoints(self) -> list[str]:
        """One line per endpoint: ``tcp socket://127.0.0.1:PORT`` or ``pty /dev/pts/N``."""
        lines = [f"tcp socket://127.0.0.1:{tcp.port}" for tcp in self._tcp]
        lines += [f"pty {pty.path}" for pty in self._pty]
        return lines

    async def stop(self) -> None:
        """Stop serving: cancel pending replies, close every connection and descriptor."""
        if self._wire is not None:
            self._wire.cancel()
        for pty in self._pty:
            pty.stop()
        self._pty.clear()
        tcp_endpoints, self._tcp = self._tcp, []
        for tcp in tcp_endpoints:
            await tcp.stop()
        if self._wire is not None:
            self._wire.cancel()  # anything a closing connection triggered meanwhile

    async def __aenter__(self) -> Self:
        """Use as ``async with``; start endpoints inside the block."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop everything."""
        await self.stop()

    # --- the bus ---------------------------------------------------------------------------

    def host_bytes(self, port: ClientPort, data: bytes) -> None:
        """Bytes a client put on the line: time them on the wire, then act on each frame."""
        wire = self._ensure_wire()
        self.stats.host_chars += len(data)
        start = wire.host_bytes(len(data))
        for frame in port.parser.feed(data):
            self.stats.host_frames += 1
            self.transcript.append(TranscriptEntry(Direction.HOST, frame.raw))
            self._handle(port, frame, wire.char_end(start, frame.end))

    def _handle(self, port: ClientPort, frame: HostFrame, end: float) -> None:
        if frame.kind is FrameKind.READ:
            self._read(port, frame, end)
            return
        if frame.kind is FrameKind.CLOSE:
            self._session = None
            return
        if not frame.crc_ok:
            self.stats.bad_crc_frames += 1  # a meter ignores a command it cannot trust
            return
        session = self._session
        meter = self.meters.get(session.address) if session is not None else None
        if session is None or meter is None or meter.silent:
            self.stats.ignored_frames += 1  # commands are heard only inside a session
            return
        if frame.kind is FrameKind.PASSWORD:
            session.unlocked = frame.data == meter.password
            self._ack(port, meter, ok=session.unlocked, end=end)
        elif frame.kind is FrameKind.WRITE:
            # One accepted password allows one write, whatever its outcome.
            unlocked, session.unlocked = session.unlocked, False
            lead = (end - self._ensure_wire().loop.time()) * self.clock.speed if self.paced else 0.0
            ok = unlocked and apply_write(meter, frame.register, frame.data, lead=max(lead, 0.0))
            self._ack(port, meter, ok=ok, end=end)
        else:
            reply = settings_reply(frame.register)
            self._deliver(port, reply, end, self.faults.choose(meter.address))

    def _read(self, port: ClientPort, frame: HostFrame, end: float) -> None:
        meter = self.meters.get(frame.address)
        self._session = None  # any read ends the current session; ours may start a new one
        if meter is None or meter.silent:
            self.stats.ignored_frames += 1
            return
        if meter.version is MeterVersion.V3 and frame.block is not None:
            self.stats.ignored_frames += 1  # a v3 meter does not understand v4 requests
            return
        self._session = _Session(meter.address)
        block = frame.block if meter.version is MeterVersion.V4 else None
        if meter.version is MeterVersion.V4 and block is None:
            block = ReadBlock.A  # v4 meters answer a v3-style read with block A
        fault = self.faults.choose(meter.address)
        if fault is FaultKind.WRONG_ADDRESS:
            reply = meter.reply_as(block, self._other_address(meter.address))
        else:
            reply = meter.reply(block)
        if fault is FaultKind.CRC_ESCAPE:
            reply = self.faults.escape(reply, _LAYOUTS[block])
        self._deliver(port, reply, end, fault)

    def _ack(self, port: ClientPort, meter: SimMeter, *, ok: bool, end: float) -> None:
        fault = self.faults.choose(meter.address, ack=True)
        self._deliver(port, bytes((ACK if ok else NAK,)), end, fault)

    def _other_address(self, address: str) -> str:
        """Another meter's address for a cross-talk reply (a made-up one on a 1-meter bus)."""
        others = sorted(addr for addr in self.meters if addr != address)
        return others[0] if others else f"{(int(address) + 1) % 10**12:012d}"

    def _deliver(self, port: ClientPort, reply: bytes, end: float, fault: FaultKind | None) -> None:
        wire = self._ensure_wire()
        if fault is FaultKind.NO_REPLY:
            return
        if fault is FaultKind.DROP_CONNECTION:
            wire.drop(port, end)
            return
        if fault is FaultKind.CORRUPT_CRC and len(reply) == FRAME_LENGTH:
            reply = reply[:253] + bytes((reply[253] ^ 0x01,)) + reply[254:]
        elif fault is FaultKind.TRUNCATED:
            reply = reply[: self.faults.truncate_length]
        elif fault is FaultKind.GARBAGE:
            reply = self.faults.garbage() + reply
        elif fault is FaultKind.CHATTER:
            # A chattering converter or second master: far faster than the meters' 9600 baud.
            chatter = self.faults.chatter()
            self.stats.reply_chars += len(chatter)
            port.send(chatter)
        self.stats.replies += 1
        self.stats.reply_chars += len(reply)
        self.transcript.append(TranscriptEntry(Direction.METER, reply))
        wire.transmit(port, reply, end)

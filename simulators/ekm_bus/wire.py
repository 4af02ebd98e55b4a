"""The shared half-duplex RS-485 line: when bytes are on it, and paced delivery of replies.

One wire carries everything at 9600 baud 7E1 (10 bits = 1.0417 ms per character). Host bytes
occupy it from when they arrive (or when it is next free); a meter starts replying a
turnaround after the end of the request on the wire, and each reply character reaches the host
when its last bit would. Delivery is scheduled on absolute loop times so it never drifts:
what is due goes out in chunks, and the last byte goes out exactly when due (the final
fraction of a millisecond is waited out with ``call_soon`` because epoll timers only have
millisecond resolution).
"""

import asyncio
from dataclasses import dataclass
from typing import Protocol

BAUDRATE = 9600
CHAR_TIME = 10 / BAUDRATE
"""Seconds per character: start + 7 data + parity + stop bits at 9600 baud."""
DEFAULT_TURNAROUND = 0.020
DEFAULT_CHUNK_CHARS = 16  # about one FTDI latency-timer period
_FINAL_LEAD = 0.0015  # wake this early for the last byte, then yield until it is due


class ReplySink(Protocol):
    """Where a meter's reply goes: the client connection that sent the request."""

    @property
    def is_open(self) -> bool:
        """Whether bytes can still be delivered."""
        ...

    def send(self, data: bytes) -> None:
        """Deliver bytes to the client now."""
        ...

    def drop(self) -> None:
        """Close the client's connection (the dropped-connection fault)."""
        ...


@dataclass(slots=True)
class WireStats:
    """How punctually replies were delivered (paced mode only)."""

    deliveries: int = 0
    """Replies whose last byte went out."""
    late_total: float = 0.0
    """Sum over deliveries of how late (s) the last byte went out versus the wire model."""
    late_max: float = 0.0
    """The worst lateness (s) of a last byte."""

    @property
    def late_mean(self) -> float:
        """Mean lateness (s) of a reply's last byte."""
        return self.late_total / self.deliveries if self.deliveries else 0.0


class _Delivery:
    """One reply going out character by character."""

    def __init__(self, wire: Wire, sink: ReplySink, data: bytes, start: float) -> None:
        self.wire = wire
        self.sink = sink
        self.data = data
        self.start = start
        self.last_due = start + len(data) * wire.char_time
        self.sent = 0
        self.handle: asyncio.Handle | None = None

    def tick(self) -> None:
        wire = self.wire
        loop = wire.loop
        now = loop.time()
        total = len(self.data)
        if not self.sink.is_open:
            wire.finished(self)
            return
        if now >= self.last_due:
            self.sink.send(self.data[self.sent :])
            wire.finished(self, late=now - self.last_due)
            return
        final_wake = self.last_due - _FINAL_LEAD
        if now >= final_wake:
            # Within a timer tick of the last byte: yield to the loop until it is due.
            self.handle = loop.call_soon(self.tick)
            return
        due = int((now - self.start) / wire.char_time)
        if due > self.sent:
            self.sink.send(self.data[self.sent : due])
            self.sent = due
        target = min(self.sent + wire.chunk_chars, total)
        when = final_wake if target == total else self.start + target * wire.char_time
        self.handle = loop.call_at(min(when, final_wake), self.tick)


class Wire:
    """Timing of the one shared line; delivers replies paced, or at once when pacing is off."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        paced: bool = True,
        turnaround: float = DEFAULT_TURNAROUND,
        char_time: float = CHAR_TIME,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
    ) -> None:
        """Model a line; ``turnaround`` is the meters' delay before replying, in seconds."""
        if turnaround < 0 or char_time <= 0 or chunk_chars < 1:
            raise ValueError("turnaround >= 0, char_time > 0 and chunk_chars >= 1 required")
        self.loop = loop
        self.paced = paced
        self.turnaround = turnaround
        self.char_time = char_time
        self.chunk_chars = chunk_chars
        self.free_at = 0.0
        """Loop time when the last scheduled character leaves the line."""
        self.stats = WireStats()
        self._deliveries: set[_Delivery] = set()
        self._drops: set[asyncio.TimerHandle] = set()

    def host_bytes(self, count: int) -> float:
        """Host bytes arrived now: occupy the line; return when the first one starts on it."""
        start = max(self.loop.time(), self.free_at)
        self.free_at = start + count * self.char_time
        return start

    def char_end(self, start: float, count: int) -> float:
        """When the ``count``-th character of a burst starting at ``start`` has left the line."""
        return start + count * self.char_time

    def reply_start(self, request_end: float) -> float:
        """When a reply to a request ending at ``request_end`` begins (after the turnaround)."""
        return max(request_end + self.turnaround, self.free_at)

    def transmit(self, sink: ReplySink, data: bytes, request_end: float) -> None:
        """Send a meter's reply to a request whose last character left at ``request_end``."""
        if not self.paced:
            sink.send(data)
            return
        start = self.reply_start(request_end)
        delivery = _Delivery(self, sink, data, start)
        self.free_at = delivery.last_due
        self._deliveries.add(delivery)
        first = min(start + self.chunk_chars * self.char_time, delivery.last_due - _FINAL_LEAD)
        delivery.handle = self.loop.call_at(first, delivery.tick)

    def drop(self, sink: ReplySink, request_end: float) -> None:
        """Close the client's connection when the reply would have started."""
        if not self.paced:
            sink.drop()
            return
        when = self.reply_start(request_end)
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._drops.discard(handle)
            sink.drop()

        handle = self.loop.call_at(when, fire)
        self._drops.add(handle)

    def finished(self, delivery: _Delivery, late: float | None = None) -> None:
        """Forget a delivery; ``late`` is how late its last byte went out (None: abandoned)."""
        self._deliveries.discard(delivery)
        delivery.handle = None
        if late is not None:
            stats = self.stats
            stats.deliveries += 1
            stats.late_total += late
            stats.late_max = max(stats.late_max, late)

    @property
    def busy(self) -> bool:
        """Whether a reply is still being delivered."""
        return bool(self._deliveries or self._drops)

    def cancel(self) -> None:
        """Abandon every pending delivery and drop (on stop)."""
        for delivery in self._deliveries:
            if delivery.handle is not None:
                delivery.handle.cancel()
        self._deliveries.clear()
        for handle in self._drops:
            handle.cancel()
        self._drops.clear()

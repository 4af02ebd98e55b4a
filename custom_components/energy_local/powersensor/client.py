"""One plug as a stream of typed events: link, translation, duplicate filter, relay tracking.

Listeners are plain callables, called on the event loop in the order they were added; one that
raises is logged and the others still get the event. Nothing here blocks or creates a task
per message.
"""

import logging
import time
from collections.abc import Callable
from typing import Any, Final

from .const import DEFAULT_PORT
from .dedup import DuplicateFilter
from .events import NowRelayingFor, PlugEvent
from .jsonlines import LineHandler
from .link import LinkState, LinkStatus, LinkTiming, PlugLink, Transport
from .listener import UdpPlugLink
from .stats import PlugStats
from .tcp import TcpPlugLink
from .translate import (
    INSTANT_POWER,
    InvalidMessageError,
    UnknownMessageTypeError,
    translate_message,
)

_LOGGER = logging.getLogger(__name__)

MAX_RELAYED_DEVICES: Final = 256
"""Relayed devices remembered per plug; past that the earliest-seen is forgotten (a home has
a few; a plug sending garbage MACs must not grow memory without bound)."""

type EventListener = Callable[[PlugEvent], object]
type StatusListener = Callable[[LinkStatus], None]


class PlugClient:
    """Subscribes to one plug and emits its readings and its relayed sensors' readings."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        mac: str | None = None,
        transport: Transport | str = Transport.UDP,
        timing: LinkTiming | None = None,
        duplicate_filter: DuplicateFilter | None = None,
        on_raw_line: LineHandler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Prepare a client; :meth:`start` subscribes.

        ``mac`` is the plug's MAC (zeroconf TXT ``id``); when ``None`` it is learnt from the
        plug's own first reading. Pass one ``duplicate_filter`` to all plugs of a household so
        a sensor heard by two plugs is reported once. ``on_raw_line`` gets each raw JSON line.
        ``clock`` gives the wall-clock time (s since the epoch) readings are checked against:
        one far ahead of it is invalid (see :func:`translate_message`).
        """
        self._mac = mac
        self._clock = clock
        self._relayed: dict[str, None] = {}  # insertion-ordered, bounded
        self._duplicates = duplicate_filter or DuplicateFilter()
        self._event_listeners: list[EventListener] = []
        self._status_listeners: list[StatusListener] = []
        self.stats = PlugStats()
        link_class: type[PlugLink] = (
            TcpPlugLink if Transport(transport) is Transport.TCP else UdpPlugLink
        )
        self.link: PlugLink = link_class(
            host,
            port,
            on_message=self._handle_message,
            on_status=self._handle_status,
            on_line=on_raw_line,
            timing=timing,
            stats=self.stats,
            label=mac or f"{host}:{port}",
        )

    @property
    def mac(self) -> str | None:
        """The plug's MAC, given or learnt; ``None`` until known."""
        return self._mac

    @property
    def relayed_macs(self) -> tuple[str, ...]:
        """Other devices (sensors) seen through this plug, in order of first sight.

        Only the latest :data:`MAX_RELAYED_DEVICES` are kept.
        """
        return tuple(self._relayed)

    @property
    def state(self) -> LinkState:
        """The link's state; ``CONNECTED`` while data flows."""
        return self.link.state

    def add_event_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every event; return a function that removes it."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    def add_status_listener(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every link state change; return a function that removes it."""
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    def start(self) -> None:
        """Subscribe and keep subscribed until :meth:`stop`. Needs a running event loop."""
        self.link.start()

    async def stop(self) -> None:
        """Unsubscribe (``subscribe(0)``, over UDP and TCP alike) and close the socket.

        Call it when the host stops too, not only on unload: a plug keeps sending to a
        subscriber that vanished until its lease ends, and serves only five.
        """
        await self.link.stop()

    def plug_announced(self) -> None:
        """The plug (re-)announced itself (zeroconf): subscribe again now.

        A plug that rebooted forgot its subscribers; this gets its readings back at once
        instead of at the next renewal or retry. Harmless while data flows.
        """
        self.link.resubscribe_now()

    def _handle_message(self, message: dict[str, Any]) -> None:
        """Translate one raw message and deliver its events; count what is dropped."""
        try:
            events = translate_message(message, self._mac, now=self._clock())
        except UnknownMessageTypeError:
            self.stats.unknown_types += 1
            return
        except InvalidMessageError:
            self.stats.invalid_messages += 1
            return
        mac = message.get("mac")
        if type(mac) is not str:
            return  # only ignored types come here without a MAC, and they have no events
        if message["type"] == INSTANT_POWER and self._duplicates.seen(mac, message["starttime"]):
            self.stats.duplicates += 1
            return
        if mac != self._mac and mac not in self._relayed:
            device = message["device"]
            if self._mac is None and device == "plug" and message["type"] == INSTANT_POWER:
                self._mac = mac  # the plug's own reading tells us who it is
            else:
                relayed = self._relayed
                relayed[mac] = None
                if len(relayed) > MAX_RELAYED_DEVICES:
                    del relayed[next(iter(relayed))]
                role = message.get("role")
                # Announce a new device before its first data, as powersensor-local does.
                self._deliver(
                    [
                        NowRelayingFor(
                            mac=mac, device_type=device, role=role if type(role) is str else None
                        )
                    ]
                )
        self._deliver(events)

    def _deliver(self, events: list[PlugEvent]) -> None:
        """Give each event to every listener, in order; one that raises is logged."""
        self.stats.events += len(events)
        listeners = self._event_listeners
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    _LOGGER.exception("Powersensor plug %s: event listener failed", self.link.label)

    def _handle_status(self, status: LinkStatus) -> None:
        for listener in self._status_listeners:
            try:
                listener(status)
            except Exception:
                _LOGGER.exception("Powersensor plug %s: status listener failed", self.link.label)

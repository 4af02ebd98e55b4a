"""UDP link to one plug: one connected datagram socket for the link's whole life.

The socket is opened once and every retry and renewal is sent from it, so the plug always sees
the same source port and a retry never costs a subscriber slot (powersensor-local opened a new
socket per retry and never closed the old ones). The address may be IPv4 or IPv6; an ICMP
error (port unreachable while a plug reboots) is reported and retried, never fatal.
"""

import asyncio
import contextlib
from typing import Any, cast

from .const import UNSUBSCRIBE
from .jsonlines import DatagramDecoder
from .link import LinkReason, LinkState, PlugLink, Transport


class UdpPlugLink(PlugLink, asyncio.DatagramProtocol):
    """Subscription to a plug's UDP push service."""

    transport = Transport.UDP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Take the same arguments as :class:`~.link.PlugLink`."""
        super().__init__(*args, **kwargs)
        self._decoder = DatagramDecoder(self._dispatch, self.stats, self._on_line)
        self._transport: asyncio.DatagramTransport | None = None
        self._open_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None

    @property
    def local_address(self) -> tuple[Any, ...] | None:
        """The socket's own address, while it is open."""
        if self._transport is None:
            return None
        address: tuple[Any, ...] = self._transport.get_extra_info("sockname")
        return address

    # -- PlugLink -------------------------------------------------------------------------

    def _subscribe(self) -> None:
        if self._transport is not None:
            self._send_subscribe()
        elif self._open_task is None:
            self._open_task = self._running_loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            # No family: an IPv6 literal (or name) gets an AF_INET6 socket.
            await self._running_loop.create_datagram_endpoint(
                lambda: self, remote_addr=(self.host, self.port)
            )
        except Exception as error:  # noqa: BLE001 - any failure (gaierror, bad address) is retried
            self._failed(LinkReason.NETWORK_ERROR, error)
        finally:
            self._open_task = None

    def _send(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.sendto(data)

    async def _close(self, *, unsubscribe: bool) -> None:
        if self._open_task is not None:
            self._open_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._open_task
            self._open_task = None
        transport = self._transport
        if transport is None:
            return
        if unsubscribe:
            transport.sendto(UNSUBSCRIBE)
        self._closed = self._running_loop.create_future()
        self._transport = None
        transport.close()
        await self._closed
        self._decoder.flush()

    # -- asyncio.DatagramProtocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Socket open: subscribe at once."""
        self._transport = cast("asyncio.DatagramTransport", transport)
        self._send_subscribe()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Data: the socket is connected, so it can only come from the plug."""
        self.stats.datagrams += 1
        self._last_rx = self._clock()  # PlugLink._received, inlined for the hot path
        if self._state is not LinkState.CONNECTED:
            self._became_connected()
        self._decoder.feed(data)

    def error_received(self, exc: Exception) -> None:
        """ICMP error or failed send: report it; the retry schedule carries on."""
        reason = (
            LinkReason.REFUSED
            if isinstance(exc, ConnectionRefusedError)
            else LinkReason.NETWORK_ERROR
        )
        self._failed(reason, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        """Socket closed: by us (expected), or by asyncio after a fatal error."""
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
            return
        self._transport = None
        self._failed(LinkReason.NETWORK_ERROR, exc)

"""TCP link to one plug. The plug accepts a single TCP connection, so UDP is preferred.

Unlike powersensor-local, a refused connection is retried (it killed that library's task), a
silent connection is dropped after the silence timeout (it hung forever on a half-open one),
and ``subscribe(0)`` is sent before closing.
"""

import asyncio
import contextlib
from typing import Any, cast

from .const import UNSUBSCRIBE
from .jsonlines import StreamDecoder
from .link import LinkReason, PlugLink, Transport


class TcpPlugLink(PlugLink, asyncio.Protocol):
    """Subscription to a plug over its single TCP connection, reconnecting as needed."""

    transport = Transport.TCP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Take the same arguments as :class:`~.link.PlugLink`."""
        super().__init__(*args, **kwargs)
        self._decoder = StreamDecoder(self._dispatch, self.stats, self._on_line)
        self._transport: asyncio.Transport | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None

    # -- PlugLink -------------------------------------------------------------------------

    def _subscribe(self) -> None:
        if self._transport is not None:
            self._send_subscribe()
        elif self._connect_task is None:
            self._connect_task = self._running_loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            await self._running_loop.create_connection(lambda: self, self.host, self.port)
        except ConnectionRefusedError as error:
            self._failed(LinkReason.REFUSED, error)
        except Exception as error:  # noqa: BLE001 - any failure (gaierror, bad address) is retried
            self._failed(LinkReason.NETWORK_ERROR, error)
        finally:
            self._connect_task = None

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _on_silent(self) -> None:
        # A silent TCP connection may be half-open: drop it; the next attempt reconnects.
        self._drop()

    def _drop(self) -> None:
        transport = self._transport
        if transport is not None:
            self._transport = None
            self._decoder.reset()
            transport.abort()

    async def _close(self, *, unsubscribe: bool) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
            self._connect_task = None
        transport = self._transport
        if transport is None:
            return
        if unsubscribe:
            self._send(UNSUBSCRIBE)
        self._closed = self._running_loop.create_future()
        self._transport = None
        transport.close()  # flushes the unsubscribe first
        await self._closed
        self._decoder.reset()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Connected: subscribe at once."""
        self._transport = cast("asyncio.Transport", transport)
        self._send_subscribe()

    def data_received(self, data: bytes) -> None:
        """Bytes from the plug; lines may be split anywhere."""
        self.stats.datagrams += 1
        self._received()
        self._decoder.feed(data)

    def eof_received(self) -> bool:
        """The plug closed its side: close ours too (connection_lost follows)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Closed by us (expected), or dropped by the plug or the network."""
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
            return
        if self._transport is None:
            return  # we dropped it on purpose (silence); already reported
        self._transport = None
        self._decoder.reset()
        self._failed(LinkReason.CONNECTION_LOST, exc)

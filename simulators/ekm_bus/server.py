"""Where clients attach to the simulated bus: a TCP port (like ser2net) and a pseudo-terminal."""

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from typing import cast

from .requests import RequestParser

_PTY_PENDING_LIMIT = 64 * 1024  # nobody reads the pty: keep at most this much unsent
_READ_SIZE = 4096


class ClientPort:
    """One client's attachment to the bus, with its own request parser."""

    name = "client"

    def __init__(self) -> None:
        """Start with an empty parser."""
        self.parser = RequestParser()

    @property
    def is_open(self) -> bool:
        """Whether bytes can still be delivered."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Deliver bytes to the client now."""
        raise NotImplementedError

    def drop(self) -> None:
        """Close the client's connection, if the medium has one."""
        raise NotImplementedError


type DataHandler = Callable[[ClientPort, bytes], None]


class TcpConnection(ClientPort, asyncio.Protocol):
    """One TCP client (what ``socket://127.0.0.1:PORT`` opens)."""

    def __init__(self, on_data: DataHandler, on_closed: Callable[[TcpConnection], None]) -> None:
        """Wire the connection to the bus."""
        super().__init__()
        self._on_data = on_data
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self.name = "tcp"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        self._transport = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        self.name = f"tcp {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "tcp"

    def data_received(self, data: bytes) -> None:
        """Host bytes go onto the bus."""
        self._on_data(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the client."""
        self._transport = None
        self._on_closed(self)

    @property
    def is_open(self) -> bool:
        """Whether the connection is still up."""
        return self._transport is not None and not self._transport.is_closing()

    def send(self, data: bytes) -> None:
        """Write to the client."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def drop(self) -> None:
        """Close the client's socket (the dropped-connection fault)."""
        if self._transport is not None:
            self._transport.close()


class TcpEndpoint:
    """A listening TCP port; every connection is a client of the same bus."""

    def __init__(self, on_data: DataHandler) -> None:
        """Prepare; :meth:`start` listens."""
        self._on_data = on_data
        self._server: asyncio.Server | None = None
        self.connections: set[TcpConnection] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 = any free port); return the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def _new_connection(self) -> TcpConnection:
        connection = TcpConnection(self._on_data, self.connections.discard)
        self.connections.add(connection)
        return connection

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        for connection in list(self.connections):
            connection.drop()
        if server is not None:
            server.close()
            await server.wait_closed()
        # Let the closed transports deliver connection_lost before returning.
        for _ in range(3):
            if not self.connections:
                break
            await asyncio.sleep(0)
        self.connections.clear()


class PtyEndpoint(ClientPort):
    """A pseudo-terminal: the client opens :attr:`path` as if it were a serial port.

    The simulator keeps its own handle on the slave side open so the master never sees a
    hang-up while no client has the port open.
    """

    def __init__(self, on_data: DataHandler) -> None:
        """Prepare; :meth:`start` creates the terminal."""
        super().__init__()
        self._on_data = on_data
        self._master = -1
        self._slave = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = bytearray()
        self.path = ""
        self.name = "pty"

    def start(self) -> str:
        """Create the pty in raw mode and start reading; return the slave device path."""
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.name = f"pty {self.path}"
        self._loop.add_reader(self._master, self._readable)
        return self.path

    def _readable(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            return  # EIO while the terminal is being torn down
        if data:
            self._on_data(self, data)

    @property
    def is_open(self) -> bool:
        """Whether the terminal exists."""
        return self._master >= 0

    def send(self, data: bytes) -> None:
        """Write to the master side, queueing what the terminal cannot take yet."""
        if self._master < 0:
            return
        if self._pending:
            self._queue(data)
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return
        if written < len(data):
            self._queue(data[written:])

    def _queue(self, data: bytes) -> None:
        if not self._pending and self._loop is not None:
            self._loop.add_writer(self._master, self._flush)
        self._pending += data
        if len(self._pending) > _PTY_PENDING_LIMIT:
            del self._pending[: len(self._pending) - _PTY_PENDING_LIMIT]

    def _flush(self) -> None:
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._pending)
        del self._pending[:written]
        if not self._pending and self._loop is not None:
            self._loop.remove_writer(self._master)

    def drop(self) -> None:
        """A terminal cannot be dropped: the fault leaves the line silent."""

    def stop(self) -> None:
        """Stop reading and close both sides."""
        if self._loop is not None and self._master >= 0:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        self._pending.clear()

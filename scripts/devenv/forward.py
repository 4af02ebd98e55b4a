"""TCP forwarder from the host's 127.0.0.1 into a network namespace's 127.0.0.1.

It runs in the host namespace (so it can listen where the browser is) and makes each
outgoing socket in a worker thread that has ``setns``-ed into the target namespace: a socket
belongs to the namespace of the thread that created it, and can then be used from any
thread. One process, no ``socat``, no per-connection ``ip netns exec``.
"""

import asyncio
import contextlib
import socket
from concurrent.futures import ThreadPoolExecutor

from .netns import enter_in_this_thread

_CHUNK = 64 * 1024
LOOPBACK = "127.0.0.1"


def _new_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(0.0)  # non-blocking, for loop.sock_connect
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close so the other direction can finish."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError, OSError:
        writer.close()


class Forwarder:
    """Listen on ``127.0.0.1:listen_port`` (host); connect to ``127.0.0.1:target_port`` in ns."""

    def __init__(self, netns: str, target_port: int, listen_port: int) -> None:
        """Prepare; :meth:`start` listens."""
        self.netns = netns
        self.target_port = target_port
        self.listen_port = listen_port
        self._executor: ThreadPoolExecutor | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Enter the namespace in the worker thread, listen; return the listening port."""
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"netns-{self.netns}",
            initializer=enter_in_this_thread,
            initargs=(self.netns,),
        )
        # Fails here (BrokenThreadPool) rather than on the first browser request if setns fails.
        (await loop.run_in_executor(self._executor, _new_socket)).close()
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.listen_port)
        self.listen_port = int(self._server.sockets[0].getsockname()[1])
        return self.listen_port

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        sock = await loop.run_in_executor(self._executor, _new_socket)
        try:
            await loop.sock_connect(sock, (LOOPBACK, self.target_port))
        except OSError:
            # Nothing listens in the namespace yet (Home Assistant still starting).
            sock.close()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for each in (writer, up_writer):
                each.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await each.wait_closed()

    async def stop(self) -> None:
        """Stop listening, drop every connection, end the worker thread."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

"""The simulated ESPHome device: native API server, serial proxy ports, UART link to the bus.

One API server on 127.0.0.1. Each serial proxy port has at most one subscriber (the client
that claimed it); only the subscriber may configure it and write to it, and bytes the UART
receives go to the subscriber alone, as ESPHome's serial proxy does since API 1.17. The UART is
a TCP connection to the EKM bus simulator, opened when a client subscribes. Bytes written
while the port is not set to 9600 7E1 are dropped (a meter would hear garbage) and counted.

Fault switches: :meth:`EspHomeProxySimulator.go_offline` closes every connection and stops
listening (a device that lost power or Wi-Fi); :meth:`come_back` listens again on the same
port. ``latency`` delays every message each way (Wi-Fi and the API's own queueing);
``flush_interval`` holds bytes from the UART and sends them as one message at that period,
as the device's main loop reads its UART buffer.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aioesphomeapi import api_pb2 as _api_pb2
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

from .framing import FrameDecoder, FramingError, encode_frame

_LOGGER = logging.getLogger(__name__)

API_VERSION = (1, 18)
"""The API version the device reports: serial proxy acknowledgements (1.16), modes (1.17)
and port identity (1.18)."""

ESPHOME_VERSION = "2026.5.0"
# The generated module has no type information: its classes are made at import time.
api_pb2: Any = _api_pb2
PROTO_TYPE = {proto: number for number, proto in MESSAGE_TYPE_TO_PROTO.items()}

# Enum values of api.proto (the generated module exposes them as module constants).
PARITY_EVEN = api_pb2.SERIAL_PROXY_PARITY_EVEN
STATUS_OK = api_pb2.SERIAL_PROXY_STATUS_OK
STATUS_NOT_SUPPORTED = api_pb2.SERIAL_PROXY_STATUS_NOT_SUPPORTED
STATUS_PORT_IN_USE = api_pb2.SERIAL_PROXY_STATUS_PORT_IN_USE
STATUS_INVALID_ARGUMENT = api_pb2.SERIAL_PROXY_STATUS_INVALID_ARGUMENT
REQUEST_SUBSCRIBE = api_pb2.SERIAL_PROXY_REQUEST_TYPE_SUBSCRIBE
REQUEST_UNSUBSCRIBE = api_pb2.SERIAL_PROXY_REQUEST_TYPE_UNSUBSCRIBE
REQUEST_FLUSH = api_pb2.SERIAL_PROXY_REQUEST_TYPE_FLUSH
REQUEST_CONFIGURE = api_pb2.SERIAL_PROXY_REQUEST_TYPE_CONFIGURE
REQUEST_SET_MODEM_PINS = api_pb2.SERIAL_PROXY_REQUEST_TYPE_SET_MODEM_PINS
REQUEST_SET_MODE = api_pb2.SERIAL_PROXY_REQUEST_TYPE_SET_MODE
MODE_RAW = api_pb2.SERIAL_PROXY_MODE_RAW
PORT_TYPE_RS485 = api_pb2.SERIAL_PROXY_PORT_TYPE_RS485
IDENTITY_SOURCE_NONE = api_pb2.SERIAL_PROXY_IDENTITY_SOURCE_NONE

# Subscriptions that need no answer: the device would start streaming states, logs, etc.
_SILENT_REQUESTS = frozenset(
    {
        "AuthenticationRequest",  # no password: modern devices do not answer it
        "SubscribeStatesRequest",
        "SubscribeLogsRequest",
        "SubscribeHomeassistantServicesRequest",
        "SubscribeHomeAssistantStatesRequest",
        "SubscribeBluetoothLEAdvertisementsRequest",
        "SubscribeVoiceAssistantRequest",
        "GetTimeResponse",
        "PingResponse",
    }
)


@dataclass(slots=True)
class UartSettings:
    """What a client configured on a port (the protobuf's fields)."""

    baudrate: int = 0
    parity: int = 0
    data_size: int = 0
    stop_bits: int = 0
    flow_control: bool = False

    @property
    def is_ekm(self) -> bool:
        """9600 baud, 7 data bits, even parity, 1 stop bit: what an Omnimeter speaks."""
        return (self.baudrate, self.data_size, self.parity, self.stop_bits) == (
            9600,
            7,
            PARITY_EVEN,
            1,
        )


@dataclass(slots=True)
class ProxyStats:
    """Counters the tests read."""

    connections: int = 0
    subscribes: int = 0
    refused_subscribes: int = 0
    configures: int = 0
    writes: int = 0
    bytes_to_uart: int = 0
    bytes_from_uart: int = 0
    data_messages: int = 0
    dropped_bytes: int = 0
    """Bytes written while the port was not set to 9600 7E1: never reach the bus."""
    unknown_messages: list[str] = field(default_factory=list)


class _Port:
    """One serial proxy port: its subscriber, settings and the UART link to the bus."""

    def __init__(self, device: EspHomeProxySimulator, index: int, name: str) -> None:
        self.device = device
        self.index = index
        self.name = name
        self.owner: _ApiConnection | None = None
        self.settings = UartSettings()
        self.line_states = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending = bytearray()
        self._flush_handle: asyncio.TimerHandle | None = None

    async def claim(self, owner: _ApiConnection) -> None:
        """Make ``owner`` the subscriber and connect the UART to the bus."""
        await self.release()
        reader, self._writer = await asyncio.open_connection(
            self.device.bus_host, self.device.bus_port
        )
        self.owner = owner
        self._reader_task = asyncio.create_task(self._read_uart(reader, owner))

    async def release(self) -> None:
        """Drop the subscriber and the UART link."""
        self.owner = None
        self.settings = UartSettings()
        self._pending.clear()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def write(self, data: bytes) -> None:
        """Bytes from the subscriber onto the UART."""
        stats = self.device.stats
        stats.writes += 1
        if not self.settings.is_ekm:
            stats.dropped_bytes += len(data)
            return
        writer = self._writer
        if writer is None:
            return
        stats.bytes_to_uart += len(data)
        writer.write(data)  # the request's latency was spent getting here

    async def _read_uart(self, reader: asyncio.StreamReader, owner: _ApiConnection) -> None:
        while data := await reader.read(4096):
            self.device.stats.bytes_from_uart += len(data)
            self._pending += data
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_later(
                    self.device.flush_interval, self._flush, owner
                )

    def _flush(self, owner: _ApiConnection) -> None:
        self._flush_handle = None
        data, self._pending = bytes(self._pending), bytearray()
        if data and self.owner is owner:
            message = api_pb2.SerialProxyDataReceived(instance=self.index, data=data)
            self.device.stats.data_messages += 1
            self.device.after(self.device.latency, owner.send, message)


class _ApiConnection(asyncio.Protocol):
    """One API client; messages are handled strictly in order."""

    def __init__(self, device: EspHomeProxySimulator) -> None:
        self.device = device
        self.transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder()
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError("a stream transport is needed")
        self.transport = transport
        self.device.connections.add(self)
        self.device.stats.connections += 1
        self._worker = asyncio.create_task(self._work())

    def data_received(self, data: bytes) -> None:
        try:
            for msg_type, body in self._decoder.feed(data):
                proto = MESSAGE_TYPE_TO_PROTO.get(msg_type)
                if proto is None:
                    self.device.stats.unknown_messages.append(f"type {msg_type}")
                    continue
                message = proto()
                message.ParseFromString(body)
                # Requests take the link's latency to arrive.
                self.device.after(self.device.latency, self._inbox.put_nowait, message)
        except FramingError, DecodeError:
            _LOGGER.debug("Not a plaintext API client; closing")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.device.connections.discard(self)
        if self._worker is not None:
            self._worker.cancel()
        for port in self.device.ports:
            if port.owner is self:
                self.device.spawn(port.release())

    def send(self, message: Message) -> None:
        """Frame and send one message (dropped once the connection is gone)."""
        if self.transport is None or self.transport.is_closing():
            return
        body = message.SerializeToString()
        self.transport.write(encode_frame(PROTO_TYPE[type(message)], body))

    def close(self) -> None:
        """Close the connection now."""
        if self.transport is not None:
            self.transport.abort()

    async def _work(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                await self._handle(message)
            except Exception:
                _LOGGER.exception("Simulator failed on %s", type(message).__name__)
                self.close()
                return

    def _respond(self, port: int, kind: int, status: int, error: str = "") -> None:
        self.send(
            api_pb2.SerialProxyRequestResponse(
                instance=port, type=kind, status=status, error_message=error
            )
        )

    def _port(self, index: int, kind: int) -> _Port | None:
        """The port a request names, if it exists and this client is its subscriber."""
        ports = self.device.ports
        if index >= len(ports):
            self._respond(index, kind, STATUS_INVALID_ARGUMENT, f"no serial proxy {index}")
            return None
        port = ports[index]
        if port.owner is not self:
            self._respond(index, kind, STATUS_INVALID_ARGUMENT, "not the subscriber")
            return None
        return port

    async def _handle(self, message: Message) -> None:
        name = type(message).__name__
        device = self.device
        match message:
            case api_pb2.HelloRequest():
                major, minor = API_VERSION
                self.send(
                    api_pb2.HelloResponse(
                        api_version_major=major,
                        api_version_minor=minor,
                        server_info=f"{device.name} (esphome v{ESPHOME_VERSION})",
                        name=device.name,
                    )
                )
            case api_pb2.PingRequest():
                self.send(api_pb2.PingResponse())
            case api_pb2.DisconnectRequest():
                self.send(api_pb2.DisconnectResponse())
                if self.transport is not None:
                    self.transport.close()
            case api_pb2.DisconnectResponse():
                self.close()
            case api_pb2.DeviceInfoRequest():
                self.send(device.device_info())
            case api_pb2.DeviceCapabilitiesRequest():
                self.send(api_pb2.DeviceCapabilitiesResponse(serial_proxies=device.proxy_infos()))
            case api_pb2.ListEntitiesRequest():
                self.send(api_pb2.ListEntitiesDoneResponse())
            case api_pb2.SubscribeSerialProxyIdentityRequest():
                for port in device.ports:
                    # No identity: a UART on pins says nothing about what is wired to it.
                    self.send(
                        api_pb2.SerialProxyIdentity(
                            instance=port.index, source=IDENTITY_SOURCE_NONE
                        )
                    )
            case api_pb2.SerialProxyRequest():
                await self._proxy_request(message)
            case api_pb2.SerialProxyConfigureRequest():
                if (target := self._port(message.instance, REQUEST_CONFIGURE)) is not None:
                    target.settings = UartSettings(
                        baudrate=message.baudrate,
                        parity=message.parity,
                        data_size=message.data_size,
                        stop_bits=message.stop_bits,
                        flow_control=message.flow_control,
                    )
                    device.stats.configures += 1
                    self._respond(target.index, REQUEST_CONFIGURE, STATUS_OK)
            case api_pb2.SerialProxySetModeRequest():
                if (target := self._port(message.instance, REQUEST_SET_MODE)) is not None:
                    status = STATUS_OK if message.mode == MODE_RAW else STATUS_NOT_SUPPORTED
                    self._respond(target.index, REQUEST_SET_MODE, status)
            case api_pb2.SerialProxyWriteRequest():
                ports = device.ports
                if message.instance < len(ports) and ports[message.instance].owner is self:
                    ports[message.instance].write(message.data)
            case api_pb2.SerialProxySetModemPinsRequest():
                if (target := self._port(message.instance, REQUEST_SET_MODEM_PINS)) is not None:
                    target.line_states = message.line_states
                    self._respond(target.index, REQUEST_SET_MODEM_PINS, STATUS_OK)
            case api_pb2.SerialProxyGetModemPinsRequest():
                index = message.instance
                states = device.ports[index].line_states if index < len(device.ports) else 0
                self.send(
                    api_pb2.SerialProxyGetModemPinsResponse(
                        instance=index, line_states=states, status=STATUS_OK
                    )
                )
            case _ if name in _SILENT_REQUESTS:
                pass
            case _:
                device.stats.unknown_messages.append(name)
                _LOGGER.debug("Ignoring %s", name)

    async def _proxy_request(self, message: Any) -> None:
        index, kind = message.instance, message.type
        ports = self.device.ports
        if index >= len(ports):
            self._respond(index, kind, STATUS_INVALID_ARGUMENT, f"no serial proxy {index}")
            return
        port = ports[index]
        if kind == REQUEST_SUBSCRIBE:
            if port.owner is not None and port.owner is not self:
                self.device.stats.refused_subscribes += 1
                self._respond(index, kind, STATUS_PORT_IN_USE, "claimed by another client")
                return
            try:
                await port.claim(self)
            except OSError as err:
                self._respond(index, kind, api_pb2.SERIAL_PROXY_STATUS_ERROR, str(err))
                return
            self.device.stats.subscribes += 1
            self._respond(index, kind, STATUS_OK)
        elif kind == REQUEST_UNSUBSCRIBE:
            if port.owner is self:
                await port.release()
            self._respond(index, kind, STATUS_OK)
        elif kind == REQUEST_FLUSH:
            self._respond(index, kind, STATUS_OK)
        else:
            self._respond(index, kind, STATUS_NOT_SUPPORTED)


class EspHomeProxySimulator:
    """An ESPHome device with serial proxy ports whose UARTs lead to an EKM bus simulator."""

    def __init__(
        self,
        bus_host: str,
        bus_port: int,
        *,
        name: str = "ekm-proxy",
        friendly_name: str = "EKM serial proxy",
        mac: str = "AC:67:B2:00:48:5A",
        proxy_names: tuple[str, ...] = ("ekm_bus",),
        latency: float = 0.0,
        flush_interval: float = 0.0,
    ) -> None:
        """Serve ports named ``proxy_names`` (in order: instance 0, 1, …).

        ``latency`` (seconds) delays each message each way; ``flush_interval`` (seconds)
        batches UART bytes into one data message per period.
        """
        self.bus_host = bus_host
        self.bus_port = bus_port
        self.name = name
        self.friendly_name = friendly_name
        self.mac = mac
        self.latency = latency
        self.flush_interval = flush_interval
        self.stats = ProxyStats()
        self.ports = [_Port(self, index, proxy) for index, proxy in enumerate(proxy_names)]
        self.connections: set[_ApiConnection] = set()
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    @property
    def url(self) -> str:
        """Serialx's URL of the first serial proxy port (without Home Assistant)."""
        return f"esphome://{self.host}:{self.port}/?port_name={self.ports[0].name}"

    @property
    def online(self) -> bool:
        """Whether the device is listening."""
        return self._server is not None

    def settings(self, index: int = 0) -> UartSettings:
        """What the subscriber configured on port ``index``."""
        return self.ports[index].settings

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0: a free port, kept by :meth:`come_back`); return it."""
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _ApiConnection(self), host, port
        )
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def go_offline(self) -> None:
        """Close every connection and stop listening: the device is unreachable."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Whatever was in flight is lost with the device.
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for connection in list(self.connections):
            connection.close()
        for port in self.ports:
            await port.release()
        if server is not None:
            await server.wait_closed()
        await asyncio.sleep(0)  # let the closed connections' callbacks run

    async def come_back(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self.start(self.host, self.port)

    async def stop(self) -> None:
        """Stop everything."""
        await self.go_offline()
        for task in list(self._tasks):
            task.cancel()

    def after(self, delay: float, callback: Any, *args: Any) -> None:
        """Run ``callback(*args)`` after ``delay`` seconds (at once, in order, when 0)."""
        if delay <= 0:
            callback(*args)
            return

        def run() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(handle)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def proxy_infos(self) -> list[Any]:
        """The serial proxy list, as the device info and capabilities carry it."""
        return [
            api_pb2.SerialProxyInfo(name=port.name, port_type=PORT_TYPE_RS485)
            for port in self.ports
        ]

    def device_info(self) -> Message:
        """The DeviceInfoResponse: a plain ESP32 with serial proxies and no entities."""
        return api_pb2.DeviceInfoResponse(
            uses_password=False,
            name=self.name,
            friendly_name=self.friendly_name,
            mac_address=self.mac,
            esphome_version=ESPHOME_VERSION,
            compilation_time="May 20 2026, 12:00:00",
            model="esp32dev",
            manufacturer="Espressif",
            serial_proxies=self.proxy_infos(),
        )

"""The ESPHome serial proxy simulator, driven by aioesphomeapi's own client and raw frames."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aioesphomeapi import APIClient
from aioesphomeapi.model import SerialProxyParity, SerialProxyStatus

from simulators.ekm_bus import EkmBusSimulator
from simulators.esphome_proxy import EspHomeProxySimulator, FrameDecoder, encode_frame
from simulators.esphome_proxy.__main__ import parse_bus
from simulators.esphome_proxy.framing import FramingError, encode_varint

V3 = "000010006388"
V3_READ = b"/?000010006388!\r\n"


@pytest.fixture
async def device(socket_enabled: None) -> AsyncIterator[EspHomeProxySimulator]:
    """The proxy in front of an unpaced bus with one v3 meter."""
    sim = EkmBusSimulator([(V3, 3)], paced=False, seed=1)
    proxy = EspHomeProxySimulator("127.0.0.1", await sim.start_tcp(), proxy_names=("a", "b"))
    await proxy.start()
    yield proxy
    await proxy.stop()
    await sim.stop()


@pytest.fixture
async def client(device: EspHomeProxySimulator) -> AsyncIterator[APIClient]:
    """An API client connected to the device."""
    api = APIClient("127.0.0.1", device.port, None, provide_time=False)
    await api.connect(login=True)
    yield api
    await api.disconnect()


def test_frames_round_trip() -> None:
    assert encode_varint(300) == b"\xac\x02"
    frame = encode_frame(140, b"x" * 200)
    decoder = FrameDecoder()
    # Byte by byte: a frame is only complete once all of it arrived.
    out = [item for byte in frame for item in decoder.feed(bytes([byte]))]
    assert out == [(140, b"x" * 200)]
    with pytest.raises(FramingError, match="preamble"):
        list(FrameDecoder().feed(b"\x01\x00\x00"))  # a Noise client


async def test_device_info_lists_the_serial_proxies(
    device: EspHomeProxySimulator, client: APIClient
) -> None:
    info = await client.device_info()
    assert info.mac_address == device.mac
    assert [proxy.name for proxy in info.serial_proxies] == ["a", "b"]
    assert client.api_version is not None
    assert (client.api_version.major, client.api_version.minor) == (1, 18)
    entities, services = await client.list_entities_services()
    assert entities == []
    assert services == []


async def test_only_the_subscriber_may_configure(
    device: EspHomeProxySimulator, client: APIClient
) -> None:
    refused = await client.serial_proxy_configure_await_response(
        instance=1, baudrate=9600, parity=SerialProxyParity.EVEN, stop_bits=1, data_size=7
    )
    assert refused is not None
    assert refused.status is SerialProxyStatus.INVALID_ARGUMENT
    missing = await client.serial_proxy_subscribe_await_response(7)
    assert missing is not None
    assert missing.status is SerialProxyStatus.INVALID_ARGUMENT


async def test_uart_not_at_7e1_hears_nothing(
    device: EspHomeProxySimulator, client: APIClient
) -> None:
    """Bytes sent at the wrong settings never reach the meters (what a real meter does)."""
    received: list[bytes] = []
    client.subscribe_serial_proxy_data(lambda msg: received.append(msg.data))
    await client.serial_proxy_subscribe_await_response(0)
    await client.serial_proxy_configure_await_response(
        instance=0, baudrate=9600, parity=SerialProxyParity.NONE, stop_bits=1, data_size=8
    )
    client.serial_proxy_write(0, V3_READ)
    await asyncio.sleep(0.2)
    assert received == []
    assert device.stats.dropped_bytes == len(V3_READ)
    await client.serial_proxy_configure_await_response(
        instance=0, baudrate=9600, parity=SerialProxyParity.EVEN, stop_bits=1, data_size=7
    )
    client.serial_proxy_write(0, V3_READ)
    async with asyncio.timeout(5):
        while sum(map(len, received)) < 255:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    reply = b"".join(received)
    assert len(reply) == 255
    assert reply[0] == 0x02
    assert V3.encode() in reply


async def test_protocol_mode_is_not_supported(
    device: EspHomeProxySimulator, client: APIClient
) -> None:
    from aioesphomeapi.model import SerialProxyMode  # noqa: PLC0415

    await client.serial_proxy_subscribe_await_response(0)
    response = await client.serial_proxy_set_mode_await_response(0, SerialProxyMode.PROTOCOL)
    assert response.status is SerialProxyStatus.NOT_SUPPORTED
    raw = await client.serial_proxy_set_mode_await_response(0, SerialProxyMode.RAW)
    assert raw.status is SerialProxyStatus.OK


async def test_a_noise_client_is_closed(device: EspHomeProxySimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", device.port)
    writer.write(b"\x01\x00\x00")
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    writer.close()


async def test_unknown_messages_are_recorded(device: EspHomeProxySimulator) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", device.port)
    writer.write(encode_frame(9999, b"") + encode_frame(33, b""))  # SwitchCommandRequest
    await writer.drain()
    async with asyncio.timeout(2):
        while len(device.stats.unknown_messages) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert device.stats.unknown_messages == ["type 9999", "SwitchCommandRequest"]
    writer.close()


def test_cli_bus_argument() -> None:
    assert parse_bus("socket://127.0.0.1:40485") == ("127.0.0.1", 40485)
    assert parse_bus("127.0.0.1:1") == ("127.0.0.1", 1)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bus("127.0.0.1")

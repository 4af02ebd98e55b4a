"""The bus through an ESPHome serial proxy: serialx's esphome:// transport, the native API, the
proxy simulator's UART wired to the EKM bus simulator over TCP."""

import asyncio
import errno
import time
from collections.abc import AsyncIterator

import pytest

from custom_components.energy_local.ekm import (
    DEFAULT_TIMEOUT,
    REPLY_MARGIN,
    EkmBus,
    EkmFrameError,
    EkmPortError,
    EkmTimeoutError,
    MeterVersion,
    PortKind,
    Relay,
    RelayState,
    port_kind,
)
from custom_components.energy_local.ekm.frames import CLOSE_FRAME
from simulators.ekm_bus import Direction, EkmBusSimulator
from simulators.esphome_proxy import EspHomeProxySimulator

from .bus_helpers import V3, V4, host_frames


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    """A paced bus (real 9600-baud timing)."""
    simulator = EkmBusSimulator([(V4, 4), (V3, 3)], seed=3)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def device(
    sim: EkmBusSimulator, socket_enabled: None
) -> AsyncIterator[EspHomeProxySimulator]:
    """An ESPHome device whose serial proxy's UART is wired to ``sim``."""
    proxy = EspHomeProxySimulator("127.0.0.1", await sim.start_tcp())
    await proxy.start()
    yield proxy
    await proxy.stop()


def meter_frames(sim: EkmBusSimulator) -> list[bytes]:
    """Every reply the meters sent, in order."""
    return [entry.data for entry in sim.transcript if entry.direction is Direction.METER]


async def settle(sim: EkmBusSimulator, frame: bytes) -> None:
    """Wait until the bus simulator has heard ``frame`` (it crosses the proxy first)."""
    async with asyncio.timeout(5):
        while frame not in host_frames(sim):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def test_port_kinds() -> None:
    assert port_kind("/dev/ttyUSB0") is PortKind.LOCAL
    assert port_kind("/dev/serial/by-id/usb-FTDI-if00-port0") is PortKind.LOCAL
    assert port_kind("socket://10.0.0.5:4001") is PortKind.SOCKET
    assert port_kind("tcp://10.0.0.5:4001") is PortKind.SOCKET
    assert port_kind("rfc2217://10.0.0.5:4001") is PortKind.RFC2217
    assert port_kind("esphome://10.0.0.7:6053/?port_name=ekm_bus") is PortKind.ESPHOME
    assert port_kind("esphome-hass://esphome/01JX?port_name=ekm_bus") is PortKind.ESPHOME
    assert EkmBus("/dev/ttyUSB0").timeout == DEFAULT_TIMEOUT == REPLY_MARGIN[PortKind.LOCAL]
    assert EkmBus("esphome://h:6053/?port_name=x").timeout == REPLY_MARGIN[PortKind.ESPHOME]
    assert REPLY_MARGIN[PortKind.ESPHOME] > REPLY_MARGIN[PortKind.SOCKET]
    assert EkmBus("esphome://h:6053/?port_name=x", timeout=0.2).timeout == 0.2


async def test_reads_a_v4_meter_exactly_at_9600_7e1(
    sim: EkmBusSimulator, device: EspHomeProxySimulator
) -> None:
    async with EkmBus(device.url) as bus:
        # serialx set the proxy's UART remotely: an Omnimeter needs 9600 7E1.
        assert device.settings().is_ekm
        assert device.settings().baudrate == 9600
        reading = await bus.read_meter(V4, MeterVersion.V4)
        v3 = await bus.read_meter(V3, MeterVersion.V3)
    # Byte for byte what the meters sent, through the API's data messages.
    assert reading.frames + v3.frames == tuple(meter_frames(sim))
    assert reading.values["Meter_Address"] == V4
    assert reading.values["kWh_Tot"] > 0
    assert device.stats.dropped_bytes == 0
    assert device.stats.data_messages > 0


async def test_relay_command_through_the_proxy(
    sim: EkmBusSimulator, device: EspHomeProxySimulator
) -> None:
    async with EkmBus(device.url) as bus:
        await bus.set_relay(V4, Relay.RELAY_2, RelayState.CLOSED)
        await settle(sim, CLOSE_FRAME)
        assert sim.meters[V4].relay_closed == [False, True]
        reading = await bus.read_meter(V4, 4, include_b=False)
    assert reading.relays_closed == (False, True)


async def test_device_offline_then_back_is_a_vanished_port(
    device: EspHomeProxySimulator,
) -> None:
    async with EkmBus(device.url) as bus:
        await bus.read_meter(V3, 3)
        await device.go_offline()
        # The API connection closed: serialx reports the port lost, like an unplugged adapter.
        async with asyncio.timeout(5):
            while bus.is_open:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        with pytest.raises(EkmPortError, match="cannot open"):
            await bus.read_meter(V3, 3)
        assert bus.stats.port_errors >= 1
        await device.come_back()
        # No reopen by the caller: the next transaction opens the proxy again.
        assert (await bus.read_meter(V3, 3)).values["Meter_Address"] == V3
        assert bus.stats.opens == 2
        assert device.settings().is_ekm  # configured again on the new session


async def test_missing_proxy_port_is_refused(device: EspHomeProxySimulator) -> None:
    bus = EkmBus(f"esphome://127.0.0.1:{device.port}/?port_name=uart_2")
    with pytest.raises(EkmPortError, match="uart_2") as caught:
        await bus.open()
    assert isinstance(caught.value.__cause__, ValueError)
    await bus.close()


async def test_a_claimed_proxy_port_is_busy(device: EspHomeProxySimulator) -> None:
    async with EkmBus(device.url):
        other = EkmBus(device.url)
        with pytest.raises(EkmPortError) as caught:
            await other.open()
        await other.close()
    cause = caught.value.__cause__
    assert isinstance(cause, OSError)
    assert cause.errno == errno.EBUSY
    assert device.stats.refused_subscribes == 1


async def test_offline_device_cannot_be_opened(socket_enabled: None) -> None:
    device = EspHomeProxySimulator("127.0.0.1", 9)
    port = await device.start()
    await device.stop()
    bus = EkmBus(f"esphome://127.0.0.1:{port}/?port_name=ekm_bus")
    with pytest.raises(EkmPortError, match="cannot open"):
        await bus.open()
    await bus.close()


@pytest.mark.parametrize("latency", [0.15, 0.3])
async def test_proxy_latency_is_within_the_proxy_margin(
    device: EspHomeProxySimulator, latency: float
) -> None:
    """150-300 ms each way plus UART batching: the proxy's margin covers it."""
    device.latency = latency
    device.flush_interval = 0.03
    async with EkmBus(device.url) as bus:
        reading = await bus.read_meter(V4, 4)
    assert reading.has_block_b
    assert bus.stats.timeouts == 0


async def test_a_local_margin_would_time_the_proxy_out(device: EspHomeProxySimulator) -> None:
    """What the per-kind margin stops: the local port's deadline misses a 300 ms proxy."""
    device.latency = 0.3
    async with EkmBus(device.url, timeout=REPLY_MARGIN[PortKind.LOCAL]) as bus:
        # The deadline passes with none or only part of the reply in.
        with pytest.raises((EkmTimeoutError, EkmFrameError)):
            await bus.read_meter(V3, 3)


async def test_a_local_port_keeps_its_tight_deadline(sim: EkmBusSimulator) -> None:
    async with EkmBus(await sim.start_pty()) as bus:
        assert bus.timeout == REPLY_MARGIN[PortKind.LOCAL]
        began = time.monotonic()
        with pytest.raises(EkmTimeoutError):
            await bus.read_meter(42, 3)  # nobody answers
        elapsed = time.monotonic() - began
    # Wire time of request and reply (0.29 s) plus the local margin, not the proxy's.
    assert elapsed < 0.29 + REPLY_MARGIN[PortKind.LOCAL] + 0.4
    assert elapsed < 0.29 + REPLY_MARGIN[PortKind.ESPHOME]

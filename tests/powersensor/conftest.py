"""Fixtures: simulated plugs on 127.0.0.1, and a silent UDP peer that records what it gets."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from simulators.powersensor_plug import SimOptions, Simulation

type SimulationFactory = Callable[..., Awaitable[Simulation]]


@pytest.fixture
async def make_simulation(socket_enabled: None) -> AsyncIterator[SimulationFactory]:
    """Start simulations on free ports with fast rates; stop them all afterwards."""
    started: list[Simulation] = []

    async def make(plugs: int = 1, **options: Any) -> Simulation:
        settings: dict[str, Any] = {
            "plug_interval_s": 0.05,
            "sensor_interval_s": 0.1,
            "warn_before_s": 0.0,
        }
        settings.update(options)
        simulation = Simulation(SimOptions(**settings), plug_count=plugs)
        await simulation.start()
        started.append(simulation)
        return simulation

    yield make
    for simulation in started:
        await simulation.stop()


class Recorder(asyncio.DatagramProtocol):
    """A UDP peer that never answers: records (loop time, sender, bytes)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, Any, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append((asyncio.get_running_loop().time(), addr, data))

    @property
    def port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port


@pytest.fixture
async def silent_peer(socket_enabled: None) -> AsyncIterator[Recorder]:
    """A bound UDP socket on 127.0.0.1 that records datagrams and never replies."""
    loop = asyncio.get_running_loop()
    _, recorder = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    yield recorder
    assert recorder.transport is not None
    recorder.transport.close()
    await asyncio.sleep(0)

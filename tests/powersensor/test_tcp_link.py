"""The TCP link against simulated plugs on 127.0.0.1."""

import asyncio
import socket
from typing import Any

from custom_components.energy_local.powersensor import (
    LinkReason,
    LinkState,
    LinkStatus,
    LinkTiming,
    PlugClient,
    PlugEvent,
    Transport,
)
from simulators.powersensor_plug import SimulatedPlug

from .conftest import SimulationFactory
from .helpers import FAST, wait_for


def tcp_client(
    port: int, timing: LinkTiming = FAST
) -> tuple[PlugClient, list[PlugEvent], list[LinkStatus]]:
    client = PlugClient("127.0.0.1", port, transport="tcp", timing=timing)
    events: list[PlugEvent] = []
    statuses: list[LinkStatus] = []
    client.add_event_listener(events.append)
    client.add_status_listener(statuses.append)
    return client, events, statuses


def tcp_commands(plug: SimulatedPlug) -> list[bytes]:
    return [data for transport, _peer, data in plug.commands if transport == "tcp"]


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_subscribe_receive_and_unsubscribe(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client, events, statuses = tcp_client(plug.port)
    assert client.link.transport is Transport.TCP
    client.start()
    await wait_for(
        lambda: {e.mac for e in events} >= {plug.mac, *(s.mac for s in simulation.sensors)}
    )
    await wait_for(lambda: client.stats.renewals >= 1)
    await client.stop()
    await wait_for(lambda: plug.tcp_subscription is None)
    sent = tcp_commands(plug)
    assert sent[0] == b"subscribe(2)\n"
    assert sent[-1] == b"subscribe(0)\n"
    assert [s.state for s in statuses] == [
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.STOPPED,
    ]


async def test_refused_connection_is_retried(socket_enabled: None) -> None:
    port = free_tcp_port()
    client, events, statuses = tcp_client(port)
    client.start()
    await wait_for(lambda: client.stats.errors >= 2)
    assert (statuses[-1].state, statuses[-1].reason) == (LinkState.DISCONNECTED, LinkReason.REFUSED)
    plug = SimulatedPlug("246f280487a4", port=port)
    await plug.start()
    try:
        await wait_for(lambda: plug.tcp_subscription is not None, within=3)
        plug.send_datagram(
            b'{"type": "instant_power", "device": "plug", "mac": "246f280487a4", '
            b'"starttime": 1.0, "duration": 1.0, "unit": "I"}\n'
        )
        await wait_for(lambda: client.state is LinkState.CONNECTED)
        assert client.mac == "246f280487a4"
        assert events == []  # unit I: nothing to report
    finally:
        await client.stop()
        await plug.stop()


async def test_dropped_connection_reconnects(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client, events, statuses = tcp_client(plug.port)
    client.start()
    await wait_for(lambda: client.state is LinkState.CONNECTED)
    await plug.reboot(0.2)  # closes the connection; the port is back 0.2 s later
    await wait_for(lambda: client.state is LinkState.DISCONNECTED)
    assert statuses[-1].reason is LinkReason.CONNECTION_LOST
    count = len(events)
    await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
    await wait_for(lambda: len(events) > count)
    assert client.stats.retries >= 1
    await client.stop()


async def test_the_plug_takes_one_connection(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    first, _, _ = tcp_client(plug.port)
    second, _, second_statuses = tcp_client(plug.port)
    first.start()
    await wait_for(lambda: first.state is LinkState.CONNECTED)
    second.start()
    await wait_for(lambda: plug.rejected_tcp >= 2)
    assert second.state is LinkState.DISCONNECTED
    assert second_statuses[-1].reason is LinkReason.CONNECTION_LOST
    await first.stop()
    await wait_for(lambda: second.state is LinkState.CONNECTED, within=3)
    await second.stop()


async def test_silent_connection_is_dropped_and_remade(make_simulation: SimulationFactory) -> None:
    """A half-open connection sends nothing: drop it after the silence timeout, reconnect."""
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client, _, statuses = tcp_client(plug.port)
    client.start()
    await wait_for(lambda: client.state is LinkState.CONNECTED)
    plug.muted = True
    await wait_for(lambda: client.state is LinkState.DISCONNECTED, within=3)
    assert statuses[-1].reason is LinkReason.SILENCE
    await wait_for(lambda: plug._tcp_writer is None)  # our side closed it
    plug.muted = False
    await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
    await client.stop()


async def test_silent_plug_that_never_answers(socket_enabled: None) -> None:
    """Connected but never a byte: silence, drop, reconnect; stop ends it all."""
    accepted: list[Any] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client, _, statuses = tcp_client(port)
    client.start()
    await wait_for(lambda: len(accepted) >= 2, within=3)
    assert statuses[1].state is LinkState.DISCONNECTED
    assert statuses[1].reason is LinkReason.SILENCE
    await client.stop()
    server.close()
    await server.wait_closed()

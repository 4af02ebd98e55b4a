"""The UDP link against simulated plugs on 127.0.0.1."""

import asyncio
import itertools
import logging
import os
from collections import defaultdict
from typing import Any

import pytest

from custom_components.energy_local.powersensor import (
    Household,
    LinkReason,
    LinkState,
    LinkStatus,
    LinkTiming,
    PlugClient,
    PlugEvent,
    SummationEnergy,
    UdpPlugLink,
)
from simulators.powersensor_plug import SimOptions, Simulation

from .conftest import Recorder, SimulationFactory
from .helpers import FAST, wait_for


def client_for(
    port: int, timing: LinkTiming = FAST, **kwargs: Any
) -> tuple[PlugClient, list[PlugEvent], list[LinkStatus]]:
    client = PlugClient("127.0.0.1", port, timing=timing, **kwargs)
    events: list[PlugEvent] = []
    statuses: list[LinkStatus] = []
    client.add_event_listener(events.append)
    client.add_status_listener(statuses.append)
    return client, events, statuses


def commands(plug: Any) -> list[tuple[Any, bytes]]:
    return [(peer, data) for transport, peer, data in plug.commands if transport == "udp"]


async def test_subscribe_receive_and_unsubscribe(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation(water=True)
    plug = simulation.plugs[0]
    client, events, statuses = client_for(plug.port)
    client.start()
    await wait_for(
        lambda: {e.mac for e in events} >= {plug.mac, *(s.mac for s in simulation.sensors)}
    )
    assert client.state is LinkState.CONNECTED
    assert client.mac == plug.mac  # learnt from the plug's own reading
    assert set(client.relayed_macs) == {s.mac for s in simulation.sensors}
    assert {e.name for e in events} >= {
        "average_power",
        "average_power_components",
        "summation_energy",
        "average_flow",
        "summation_volume",
        "battery_level",
        "radio_signal_quality",
        "now_relaying_for",
    }
    local_port = client.link.local_address[1]  # type: ignore[index]
    await client.stop()
    sent = commands(plug)
    assert sent[0] == (("127.0.0.1", local_port), b"subscribe(2)\n")
    assert sent[-1] == (("127.0.0.1", local_port), b"subscribe(0)\n")
    assert plug.subscriber_count == 0
    assert [(s.state, s.reason) for s in statuses] == [
        (LinkState.CONNECTING, LinkReason.STARTED),
        (LinkState.CONNECTED, LinkReason.DATA),
        (LinkState.STOPPED, LinkReason.STOPPED),
    ]
    await client.stop()  # a second stop is harmless


async def test_lease_is_renewed_before_it_ends(make_simulation: SimulationFactory) -> None:
    """Renewals every 0.5 s of a 2 s lease: the plug never lets the lease run out."""
    simulation = await make_simulation(warn_before_s=0.0)
    plug = simulation.plugs[0]
    client, _, _ = client_for(plug.port)
    client.start()
    await wait_for(lambda: client.stats.renewals >= 3)
    sent = commands(plug)
    assert len({peer for peer, _ in sent}) == 1  # every renewal from the same socket
    assert client.stats.expiries == 0
    assert client.stats.warnings == 0
    assert plug.subscriber_count == 1
    await client.stop()


async def test_warning_triggers_an_immediate_renewal(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation(warn_before_s=1.5)  # warns 0.5 s into a 2 s lease
    plug = simulation.plugs[0]
    slow_renewal = LinkTiming(
        lease_s=2, renew_interval_s=1.9, silence_timeout_s=1, retry_unit_s=0.05
    )
    client, _, _ = client_for(plug.port, slow_renewal)
    client.start()
    await wait_for(lambda: client.stats.warnings >= 1, within=3)
    await wait_for(lambda: len(commands(plug)) >= 2, within=0.5)  # well before the 1.9 s timer
    assert commands(plug)[1][1] == b"subscribe(2)\n"
    assert client.stats.renewals >= 1
    await client.stop()


async def test_expiry_notice_resubscribes(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation(warn_before_s=0.0)
    plug = simulation.plugs[0]
    client, events, _ = client_for(plug.port, LinkTiming(lease_s=1, renew_interval_s=0.5))
    client.link._arm_renew = lambda: None  # type: ignore[method-assign] # no timer renewals
    client.start()
    try:
        # Only the plug's expiry notice renews the lease now: data must keep coming anyway.
        await wait_for(lambda: client.stats.expiries >= 2, within=4)
        seen = len(events)
        await wait_for(lambda: len(events) > seen + 5)
        assert client.state is LinkState.CONNECTED
        assert client.stats.renewals == client.stats.expiries
    finally:
        await client.stop()


async def test_silence_then_recovery(
    make_simulation: SimulationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client, events, statuses = client_for(plug.port)
    caplog.set_level(logging.INFO, logger="custom_components.energy_local.powersensor")
    client.start()
    await wait_for(lambda: client.state is LinkState.CONNECTED)
    plug.muted = True  # the plug (or the network) goes away
    await wait_for(lambda: client.state is LinkState.DISCONNECTED, within=3)
    assert client.link.reason is LinkReason.SILENCE
    retries = client.stats.retries
    await wait_for(lambda: client.stats.retries >= retries + 3, within=3)
    plug.muted = False
    await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
    count = len(events)
    await wait_for(lambda: len(events) > count)
    await client.stop()
    assert [s.state for s in statuses] == [
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
        LinkState.CONNECTED,
        LinkState.STOPPED,
    ]
    gone = [r for r in caplog.records if "stopped answering" in r.getMessage()]
    back = [r for r in caplog.records if "answering again" in r.getMessage()]
    assert len(gone) == 1
    assert gone[0].levelno == logging.WARNING
    assert len(back) == 1


async def test_never_answering_plug_is_retried_from_one_socket(silent_peer: Recorder) -> None:
    """Retries at unit * (0, 4, 10, 20, 38) s, as powersensor-local, all from one port."""
    timing = LinkTiming(lease_s=60, renew_interval_s=20, silence_timeout_s=0.5, retry_unit_s=0.04)
    link = UdpPlugLink("127.0.0.1", silent_peer.port, on_message=lambda _m: None, timing=timing)
    fds_before = len(os.listdir("/proc/self/fd"))
    link.start()
    await wait_for(lambda: len(silent_peer.received) >= 5, within=3)
    fds_during = len(os.listdir("/proc/self/fd"))
    await link.stop()
    times = [at for at, _, _ in silent_peer.received[:5]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Sent at 0, 4, 10, 20, 38 units: gaps of 2**n + 2 units (n = attempts so far).
    for got, want in zip(gaps, [4, 6, 10, 18], strict=True):
        assert got == pytest.approx(want * 0.04, abs=0.03)
    assert {sender for _, sender, _ in silent_peer.received} == {silent_peer.received[0][1]}
    assert {data for _, _, data in silent_peer.received} == {b"subscribe(60)\n", b"subscribe(0)\n"}
    assert fds_during == fds_before + 1
    assert link.state is LinkState.STOPPED
    assert link.stats.retries >= 4


async def test_closed_port_is_refused_and_retried(socket_enabled: None) -> None:
    """ICMP port unreachable: reported as 'refused', never fatal; the plug appears later."""
    placeholder = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    port = placeholder[0].get_extra_info("sockname")[1]
    placeholder[0].close()
    client, events, statuses = client_for(port)
    client.start()
    await wait_for(lambda: client.state is LinkState.DISCONNECTED)
    assert statuses[-1].reason is LinkReason.REFUSED
    assert statuses[-1].detail
    await wait_for(lambda: client.stats.errors >= 2)
    simulation = Simulation(SimOptions(plug_interval_s=0.05, sensor_interval_s=0.1))
    simulation.plugs[0].port = port
    await simulation.start()
    try:
        await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
        await wait_for(lambda: len(events) > 0)
    finally:
        await client.stop()
        await simulation.stop()


async def test_plug_reboot(make_simulation: SimulationFactory) -> None:
    """Reboot: ports closed for a while, subscriptions and the plug's counter lost."""
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client, events, statuses = client_for(plug.port)

    def plug_counters() -> list[float]:
        return [
            e.summation_joules
            for e in events
            if isinstance(e, SummationEnergy) and e.mac == plug.mac
        ]

    client.start()
    await wait_for(lambda: len(plug_counters()) > 0)
    assert min(plug_counters()) > 5_000_000
    local = client.link.local_address
    await plug.reboot(1.0)
    await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
    await wait_for(lambda: min(plug_counters()) < 10_000)  # the counter restarted
    await client.stop()
    states = [(s.state, s.reason) for s in statuses]
    assert states[2][0] is LinkState.DISCONNECTED
    assert states[2][1] in {LinkReason.REFUSED, LinkReason.SILENCE}
    assert states[3] == (LinkState.CONNECTED, LinkReason.DATA)
    assert client.link.local_address is None
    assert local is not None
    assert client.stats.errors >= 1  # the ICMP unreachable of a renewal during the reboot


async def test_bad_duplicate_and_out_of_order_input(
    make_simulation: SimulationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    simulation = await make_simulation(
        malformed_every=3, duplicate_every=4, out_of_order_every=5, reset_every=7
    )
    plug = simulation.plugs[0]
    client, events, _ = client_for(plug.port)
    household = Household()
    derived: list[Any] = []
    client.add_event_listener(lambda event: derived.extend(household.process(event)))
    client.start()
    stats = client.stats
    await wait_for(
        lambda: (
            stats.malformed_lines >= 3
            and stats.duplicates >= 3
            and stats.unknown_types >= 1
            and stats.invalid_messages >= 1
            and stats.joined_lines >= 1
            and household.stats.stale_power >= 1
        ),
        within=8,
    )
    await client.stop()
    keys = [(e.mac, e.starttime_utc, e.name) for e in events if hasattr(e, "starttime_utc")]
    assert len(keys) == len(set(keys))  # every reading delivered once
    # Out-of-order readings come late and are dropped: every counter only grows between resets.
    counters: dict[tuple[str, int], list[float]] = defaultdict(list)
    for event in derived:
        if event.name.endswith("_summation"):
            counters[event.name, event.summation_resettime_utc].append(event.summation_joules)
    assert counters
    for values in counters.values():
        assert values == sorted(values)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # nothing escaped


async def test_five_subscribers_at_most(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    clients = [client_for(plug.port)[0] for _ in range(6)]
    for client in clients[:5]:
        client.start()
    await wait_for(lambda: all(c.state is LinkState.CONNECTED for c in clients[:5]))
    clients[5].start()
    await wait_for(lambda: plug.rejected_subscribers >= 2)
    assert clients[5].state is not LinkState.CONNECTED
    await clients[0].stop()  # frees a slot: the sixth gets in on its next retry
    await wait_for(lambda: clients[5].state is LinkState.CONNECTED, within=3)
    for client in clients:
        await client.stop()
    assert plug.subscriber_count == 0


async def test_no_descriptor_leak_over_many_reconnects(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    fds_before = len(os.listdir("/proc/self/fd"))
    timing = LinkTiming(
        lease_s=2, renew_interval_s=0.5, silence_timeout_s=0.1, retry_unit_s=0.02, retry_cap_s=0.1
    )
    client, _, statuses = client_for(plug.port, timing)
    client.start()
    for _ in range(10):  # silence → retries → back, 10 times
        await wait_for(lambda: client.state is LinkState.CONNECTED, within=3)
        plug.muted = True
        await wait_for(lambda: client.state is LinkState.DISCONNECTED, within=3)
        plug.muted = False
    assert len(os.listdir("/proc/self/fd")) == fds_before + 1
    await client.stop()
    for _ in range(20):  # and 20 whole clients started and stopped
        other, _, _ = client_for(plug.port)
        other.start()
        await wait_for(lambda: other.state is LinkState.CONNECTED)  # noqa: B023
        await other.stop()
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert sum(s.state is LinkState.DISCONNECTED for s in statuses) == 10

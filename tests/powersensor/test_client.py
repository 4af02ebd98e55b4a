"""PlugClient: the recorded powersensor-local session replayed, and the client's own rules."""

import asyncio
import logging
from typing import Any

import pytest

from custom_components.energy_local.powersensor import (
    DuplicateFilter,
    LinkState,
    PlugClient,
    PlugEvent,
)
from custom_components.energy_local.powersensor.dedup import MAX_DEVICES, RECENT_PER_DEVICE

from .conftest import SimulationFactory
from .helpers import FAST, vectors, wait_for

STREAM = vectors("udp_plugapi_stream.json")


class ReplayPlug(asyncio.DatagramProtocol):
    """Sends the recorded datagrams to whoever subscribes first; records what it gets."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)
        if len(self.received) == 1:
            assert self.transport is not None
            for step in STREAM["steps"]:
                if "sent_to_client" in step:
                    self.transport.sendto(bytes.fromhex(step["sent_to_client"]["hex"]), addr)


async def test_recorded_session_gives_the_same_events(socket_enabled: None) -> None:
    loop = asyncio.get_running_loop()
    transport, plug = await loop.create_datagram_endpoint(ReplayPlug, local_addr=("127.0.0.1", 0))
    client = PlugClient(
        "127.0.0.1", transport.get_extra_info("sockname")[1], mac="246f280487a4", timing=FAST
    )
    events: list[PlugEvent] = []
    client.add_event_listener(events.append)
    client.start()
    try:
        await wait_for(lambda: client.stats.duplicates == 2)
    finally:
        await client.stop()
        transport.close()
    log = [entry for entry in STREAM["event_log"] if "event" in entry]
    # Two steps repeat a device's start time, so they are dropped as duplicates: the
    # uncalibrated solar reading (t=2.31, the solar sensor's 1772164915 again) and the last
    # step (t=2.912, the first plug reading again).
    repeated = [entry for entry in log if entry["t"] in (2.31, 2.912)]
    assert [entry["event"] for entry in repeated] == [
        "uncalibrated_average_reading",
        "battery_level",
        "radio_signal_quality",
        "average_power",
        "summation_energy",
        "average_power_components",
    ]
    theirs = [(entry["event"], entry["data"]) for entry in log if entry not in repeated]
    ours = [(event.name, event.payload()) for event in events]
    assert ours == theirs
    stats = client.stats
    assert stats.malformed_lines == 1  # "this is not json"
    assert stats.invalid_messages == 2  # no starttime; no type (it crashed powersensor-local)
    assert stats.warnings == 1
    assert stats.expiries == 1
    assert plug.received[:2] == [b"subscribe(2)\n", b"subscribe(2)\n"]  # renewed on warning
    assert plug.received[-1] == b"subscribe(0)\n"


async def test_listener_errors_are_logged_not_raised(
    make_simulation: SimulationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    simulation = await make_simulation()
    client = PlugClient("127.0.0.1", simulation.plugs[0].port, timing=FAST)
    good: list[PlugEvent] = []

    def broken(_event: object) -> None:
        raise RuntimeError("listener bug")

    client.add_event_listener(broken)
    client.add_status_listener(broken)
    client.add_event_listener(good.append)
    remove = client.add_event_listener(good.append)
    remove()
    client.start()
    await wait_for(lambda: len(good) >= 3)
    await client.stop()
    assert client.state is LinkState.STOPPED
    assert len(good) == len({id(event) for event in good})  # the removed listener got nothing
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("event listener failed" in r.getMessage() for r in failures)
    assert any("status listener failed" in r.getMessage() for r in failures)


async def test_a_shared_filter_reports_a_sensor_heard_by_two_plugs_once(
    make_simulation: SimulationFactory,
) -> None:
    simulation = await make_simulation(plugs=2, relay_all=True)
    shared = DuplicateFilter()
    events: list[PlugEvent] = []
    clients = [
        PlugClient("127.0.0.1", p.port, timing=FAST, duplicate_filter=shared)
        for p in simulation.plugs
    ]
    for client in clients:
        client.add_event_listener(events.append)
        client.start()
    sensor_mac = simulation.sensors[0].mac
    await wait_for(lambda: sum(c.stats.duplicates for c in clients) >= 5)
    for client in clients:
        await client.stop()
    readings = [
        (e.starttime_utc, e.name)
        for e in events
        if e.mac == sensor_mac and e.name != "now_relaying_for"
    ]
    assert readings
    assert len(readings) == len(set(readings))
    assert {client.mac for client in clients} == {plug.mac for plug in simulation.plugs}


def test_duplicate_filter_is_bounded() -> None:
    duplicates = DuplicateFilter()
    assert not duplicates.seen("a", 1.0)
    assert duplicates.seen("a", 1.0)
    for start in range(2, RECENT_PER_DEVICE + 2):
        assert not duplicates.seen("a", float(start))
    assert not duplicates.seen("a", 1.0)  # forgotten: the oldest went first
    for device in range(MAX_DEVICES + 10):
        duplicates.seen(f"d{device}", 0.0)
    assert len(duplicates._recent) == MAX_DEVICES
    duplicates.forget()
    assert not duplicates.seen("a", 1.0)


def test_plug_mac_is_learnt_only_from_its_own_reading() -> None:
    client = PlugClient("127.0.0.1")
    events: list[PlugEvent] = []
    client.add_event_listener(events.append)
    # An announcement of another device, sent with device "plug": not the plug's own reading.
    client._handle_message({"type": "plug_announce", "device": "plug", "mac": "aaaaaaaaaaaa"})
    assert client.mac is None
    client._handle_message(
        {
            "type": "instant_power",
            "device": "plug",
            "mac": "246f280487a4",
            "starttime": 1,
            "unit": "I",
        }
    )
    assert client.mac == "246f280487a4"
    assert [e.payload() for e in events] == [{"mac": "aaaaaaaaaaaa", "device_type": "plug"}]
    client._handle_message({"type": "adc", "device": "plug"})  # no MAC, no events
    client._handle_message({"type": "instant_power", "device": "plug"})
    client._handle_message({"type": "new_thing", "device": "plug"})
    assert (client.stats.invalid_messages, client.stats.unknown_types) == (1, 1)

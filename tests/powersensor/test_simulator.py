"""The plug simulator: message shapes, consistent counters, leases and faults."""

import asyncio
import itertools
import json
import random
import socket
from typing import Any
from unittest.mock import patch

import pytest

from simulators import powersensor_plug as sim
from simulators.powersensor_plug import (
    MAX_UDP_SUBSCRIBERS,
    RESET_BASE_JOULES,
    SimOptions,
    SimulatedPlug,
    Simulation,
)

from .helpers import vectors

RAW = {case["name"]: case["raw"] for case in vectors("translate_raw_message.json")["cases"]}


def readings(simulation: Simulation, ticks: int) -> list[dict[str, Any]]:
    """Sensor messages of ``ticks`` sensor reports, as the relaying plug would send them."""
    sent: list[bytes] = []
    simulation.plugs[0].publish = sent.extend  # type: ignore[method-assign]
    for _ in range(ticks):
        simulation.sensor_tick()
    return [json.loads(line) for line in sent]


def test_messages_have_the_vectors_shapes() -> None:
    simulation = Simulation(SimOptions(water=True))
    plug = simulation.plugs[0]
    assert set(plug.meter.reading(plug.mac)) == set(RAW["plug_instant_power"])
    messages = readings(simulation, 1)
    by_role = {message["role"]: message for message in messages}
    assert set(by_role["house-net"]) == set(RAW["sensor_housenet_import"])
    assert set(by_role["solar"]) == set(RAW["sensor_solar"])
    assert set(by_role["water"]) == set(RAW["sensor_water"])


def test_summations_follow_the_powers() -> None:
    simulation = Simulation(SimOptions(water=True, reset_every=5))
    messages = readings(simulation, 12)
    for role in ("house-net", "solar"):
        series = [m for m in messages if m["role"] == role]
        assert [m["starttime"] % 30 for m in series] == [0] * 12
        for before, after in itertools.pairwise(series):
            assert after["starttime"] - before["starttime"] == 30
            if after["summation_start"] == before["summation_start"]:
                assert after["summation"] - before["summation"] == after["power"] * 30
            else:  # a reset: restarted near the documented non-zero base
                assert after["summation"] == RESET_BASE_JOULES + after["power"] * 30
                assert after["summation_start"] < after["starttime"]
        assert (
            sum(a["summation_start"] != b["summation_start"] for a, b in itertools.pairwise(series))
            == 2
        )
    house = {m["starttime"] for m in messages if m["role"] == "house-net"}
    assert house == {m["starttime"] for m in messages if m["role"] == "solar"}
    solar_powers = [m["power"] for m in messages if m["role"] == "solar"]
    assert all(power <= 10 for power in solar_powers)  # generation is negative
    plug = simulation.plugs[0]
    first, second = plug.meter.reading(plug.mac), plug.meter.reading(plug.mac)
    assert second["starttime"] == pytest.approx(first["starttime"] + first["duration"], abs=1e-5)
    assert second["summation"] - first["summation"] == pytest.approx(
        second["power"] * second["duration"], abs=1e-3
    )


def test_subscriptions_leases_and_limits() -> None:
    plug = SimulatedPlug("246f280487a4", options=SimOptions(warn_before_s=2))
    sent: list[tuple[bytes, Any]] = []
    plug._send_udp = lambda data, peer: sent.append((data, peer))  # type: ignore[method-assign]
    now = [100.0]
    plug._now = lambda: now[0]  # type: ignore[method-assign]
    for index in range(MAX_UDP_SUBSCRIBERS + 1):
        plug.handle_command("udp", ("127.0.0.1", 1000 + index), b"subscribe(10)\n")
    assert len(plug.udp_subscribers) == MAX_UDP_SUBSCRIBERS
    assert plug.rejected_subscribers == 1
    plug.handle_command("udp", ("127.0.0.1", 1000), b"subscribe(0)\n")
    plug.handle_command("udp", ("127.0.0.1", 1001), b"subscribe(20)")  # renewal, no LF
    assert len(plug.udp_subscribers) == MAX_UDP_SUBSCRIBERS - 1
    now[0] = 108.5
    plug.check_leases()
    warned = sorted(peer[1] for data, peer in sent if b"warning" in data)
    assert warned == [1002, 1003, 1004]
    now[0] = 110.0
    plug.check_leases()
    expired = sorted(peer[1] for data, peer in sent if b"expiry" in data)
    assert expired == [1002, 1003, 1004]
    assert list(plug.udp_subscribers) == [("127.0.0.1", 1001)]
    plug.handle_command("udp", ("127.0.0.1", 9), b"discover()\n")
    assert json.loads(sent[-1][0]) == {
        "type": "discovery",
        "ip": "127.0.0.1",
        "mac": "246f280487a4",
    }
    plug.muted = True
    plug.handle_command("udp", ("127.0.0.1", 1001), b"subscribe(0)\n")
    assert plug.subscriber_count == 1  # a muted plug hears nothing


def test_faults_duplicate_reorder_and_malform() -> None:
    options = SimOptions(duplicate_every=2, out_of_order_every=5, malformed_every=4)
    plug = SimulatedPlug("246f280487a4", options=options)
    sent: list[bytes] = []
    plug.send_datagram = sent.append  # type: ignore[method-assign]
    lines = [f'{{"n": {n}}}\n'.encode() for n in range(1, 7)]
    plug.publish(lines)
    numbers = [json.loads(d)["n"] if d.startswith(b'{"n"') else "bad" for d in sent]
    # Even ones twice, a bad line before the 4th, the 5th held back until after the 6th.
    assert numbers == [1, 2, 2, 3, "bad", 4, 4, 6, 6, 5]
    bad = []
    plug.send_datagram = bad.append  # type: ignore[method-assign]
    for index in range(len(sim.MALFORMED_LINES) + 1):
        plug.send_malformed(index)
    assert bad[: len(sim.MALFORMED_LINES)] == list(sim.MALFORMED_LINES)
    split = bad[len(sim.MALFORMED_LINES) :]
    assert len(split) == 2
    assert json.loads(split[0] + split[1])["mac"] == "246f280487a4"  # one line in two halves


def test_bundled_sensor_readings_share_a_datagram() -> None:
    plug = SimulatedPlug("246f280487a4", options=SimOptions(bundle=True))
    sent: list[bytes] = []
    plug.send_datagram = sent.append  # type: ignore[method-assign]
    plug.publish([b"{}\n", b"{}\n"])
    assert sent == [b"{}\n{}\n"]


def test_only_loopback_is_served() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimulatedPlug("246f280487a4", host="192.0.2.1")


async def test_zeroconf_refuses_a_namespace_with_other_interfaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sim, "only_loopback_interfaces", lambda: False)
    with pytest.raises(SystemExit, match="only interface"):
        await sim.advertise([])
    args = sim.build_parser().parse_args(["--zeroconf", "--port", "0"])
    with pytest.raises(SystemExit):
        await sim.run(args)


def test_command_line_options() -> None:
    args = sim.build_parser().parse_args(
        [
            "--plugs",
            "3",
            "--no-solar",
            "--water",
            "--reset-every",
            "4",
            "--reboot-every",
            "9",
            "--bundle",
        ]
    )
    options = sim.options_from_args(args)
    assert (
        options.solar,
        options.water,
        options.reset_every,
        options.reboot_every_s,
        options.bundle,
    ) == (
        False,
        True,
        4,
        9.0,
        True,
    )
    simulation = Simulation(options, plug_count=args.plugs)
    assert [plug.mac for plug in simulation.plugs] == [
        "246f280487a4",
        "246f280487a5",
        "246f280487a6",
    ]
    assert [sensor.role for sensor in simulation.sensors] == ["house-net", "water"]
    assert simulation.model.powers(0)[1] <= 10
    assert random.Random(1).random() == random.Random(options.seed).random()


async def test_a_tcp_port_taken_after_the_udp_bind_is_retried(socket_enabled: None) -> None:
    """Port 0 gives a free UDP port whose TCP twin may be in use: the plug takes another."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    real_start = asyncio.start_server
    calls: list[int] = []

    async def start_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        calls.append(args[2])
        if len(calls) == 1:  # the first free UDP port's TCP twin: pretend it is `busy`
            return await real_start(args[0], args[1], busy, **kwargs)
        return await real_start(*args, **kwargs)

    plug = SimulatedPlug("246f280487a4", host="127.0.0.1", port=0)
    with patch("asyncio.start_server", start_server):
        await plug.start()
    try:
        assert len(calls) == 2
        assert plug.port == calls[1]
    finally:
        await plug.stop()
        taken.close()

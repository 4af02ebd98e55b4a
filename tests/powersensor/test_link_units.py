"""Link edge cases: bad timings, failures while opening, handlers that raise, odd notices."""

import asyncio
import logging
import os
import signal
from typing import Any

import pytest

from custom_components.energy_local.powersensor import (
    LinkReason,
    LinkState,
    LinkStatus,
    LinkTiming,
    PlugStats,
    TcpPlugLink,
    UdpPlugLink,
    cli,
    subscribe_command,
)
from custom_components.energy_local.powersensor.link import _never

from .conftest import Recorder, SimulationFactory
from .helpers import FAST, wait_for


@pytest.mark.parametrize(
    "bad",
    [
        {"lease_s": 0},
        {"lease_s": 10, "renew_interval_s": 10},
        {"renew_interval_s": 0},
        {"silence_timeout_s": 0},
        {"retry_unit_s": -1},
        {"retry_cap_s": 0},
    ],
)
def test_impossible_timings_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LinkTiming(**bad)


def test_retry_schedule_and_commands() -> None:
    timing = LinkTiming()
    assert [timing.retry_delay(n) for n in range(10)] == [3, 4, 6, 10, 18, 34, 66, 130, 258, 300]
    assert subscribe_command(60) == b"subscribe(60)\n"
    assert subscribe_command(0) == b"subscribe(0)\n"
    with pytest.raises(ValueError, match="lease"):
        subscribe_command(-1)
    assert PlugStats(lines=2).as_dict()["lines"] == 2
    assert _never() == 0.0


def test_a_link_needs_starting_first() -> None:
    link = UdpPlugLink("127.0.0.1", 1, on_message=lambda _m: None)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = link._running_loop
    assert link.local_address is None
    assert link.state is LinkState.STOPPED


async def test_failures_while_opening_are_retried(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch, silent_peer: Recorder
) -> None:
    loop = asyncio.get_running_loop()
    real = loop.create_datagram_endpoint
    failures = [RuntimeError("resolver bug"), OSError(101, "Network is unreachable")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return await real(*args, **kwargs)

    monkeypatch.setattr(loop, "create_datagram_endpoint", flaky)
    statuses: list[LinkStatus] = []
    link = UdpPlugLink(
        "127.0.0.1",
        silent_peer.port,
        on_message=lambda _m: None,
        on_status=statuses.append,
        timing=FAST,
    )
    link.start()
    link.start()  # already started: nothing more
    await wait_for(lambda: len(silent_peer.received) >= 1)
    assert (statuses[1].state, statuses[1].reason) == (
        LinkState.DISCONNECTED,
        LinkReason.NETWORK_ERROR,
    )
    assert statuses[1].detail == "resolver bug"
    assert link.stats.errors == 2
    await link.stop()
    link._failed(LinkReason.NETWORK_ERROR, None)  # a late error after stop changes nothing
    link._attempt()
    assert link.state is LinkState.STOPPED
    assert statuses[-1].state is LinkState.STOPPED


async def test_stop_while_still_opening(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    opening = asyncio.Event()

    async def hang(*args: Any, **kwargs: Any) -> Any:
        opening.set()
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "create_datagram_endpoint", hang)
    monkeypatch.setattr(loop, "create_connection", hang)
    for link_class in (UdpPlugLink, TcpPlugLink):
        opening.clear()
        link = link_class("127.0.0.1", 9, on_message=lambda _m: None, timing=FAST)
        link.start()
        await opening.wait()
        await link.stop()  # cancels the open; no socket to unsubscribe from
        assert link.state is LinkState.STOPPED


async def test_tcp_network_error_is_retried(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OSError(113, "No route to host")

    monkeypatch.setattr(loop, "create_connection", unreachable)
    statuses: list[LinkStatus] = []
    link = TcpPlugLink(
        "127.0.0.1", 9, on_message=lambda _m: None, on_status=statuses.append, timing=FAST
    )
    link.start()
    await wait_for(lambda: link.stats.errors >= 2)
    await link.stop()
    assert statuses[1].reason is LinkReason.NETWORK_ERROR
    assert "No route to host" in (statuses[1].detail or "")


async def test_handlers_that_raise_and_odd_notices(
    make_simulation: SimulationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]

    def broken(_arg: object) -> None:
        raise RuntimeError("handler bug")

    link = UdpPlugLink("127.0.0.1", plug.port, on_message=broken, on_status=broken, timing=FAST)
    link.start()
    await wait_for(lambda: link.state is LinkState.CONNECTED)
    link._dispatch({"type": "subscription", "subtype": "something-new"})
    link._dispatch({"type": "discovery", "ip": "127.0.0.1", "mac": plug.mac})
    assert (link.stats.warnings, link.stats.expiries) == (0, 0)
    await link.stop()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("message handler failed" in m for m in messages)
    assert any("status handler failed" in m for m in messages)


async def test_socket_closed_under_the_link_is_reopened(make_simulation: SimulationFactory) -> None:
    """If asyncio closes the socket after a fatal error, the next attempt opens a new one."""
    simulation = await make_simulation()
    link = UdpPlugLink(
        "127.0.0.1", simulation.plugs[0].port, on_message=lambda _m: None, timing=FAST
    )
    link.start()
    await wait_for(lambda: link.state is LinkState.CONNECTED)
    first = link.local_address
    transport = link._transport
    assert transport is not None
    transport.abort()  # as _fatal_error would: connection_lost without our close()
    await wait_for(lambda: link.state is LinkState.DISCONNECTED)
    assert link.reason is LinkReason.NETWORK_ERROR
    await wait_for(lambda: link.state is LinkState.CONNECTED, within=3)
    assert link.local_address != first
    await link.stop()


async def test_run_watch_until_sigint(
    make_simulation: SimulationFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = await make_simulation()
    args = cli.build_parser().parse_args(
        ["watch", "--host", "127.0.0.1", "--port", str(simulation.plugs[0].port)]
    )
    task = asyncio.get_running_loop().create_task(cli._run(args))
    await wait_for(lambda: simulation.plugs[0].subscriber_count == 1)
    os.kill(os.getpid(), signal.SIGINT)  # handled by the loop, not raised
    assert await asyncio.wait_for(task, 5) == 0
    assert simulation.plugs[0].subscriber_count == 0
    assert "stopped 127.0.0.1" in capsys.readouterr().err


async def test_run_discover(
    make_simulation: SimulationFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = await make_simulation()
    argv = [
        "discover",
        "--legacy",
        "127.0.0.1",
        "--port",
        str(simulation.plugs[0].port),
        "--seconds",
        "0.1",
    ]
    assert await cli._run(cli.build_parser().parse_args(argv)) == 0
    assert capsys.readouterr().out.startswith(simulation.plugs[0].mac)


async def test_a_late_datagram_after_stop_changes_nothing(
    make_simulation: SimulationFactory,
) -> None:
    simulation = await make_simulation()
    messages: list[Any] = []
    link = UdpPlugLink(
        "127.0.0.1", simulation.plugs[0].port, on_message=messages.append, timing=FAST
    )
    link.start()
    await wait_for(lambda: link.state is LinkState.CONNECTED)
    await link.stop()
    link.datagram_received(b'{"type": "instant_power"}\n', ("127.0.0.1", simulation.plugs[0].port))
    assert link.state is LinkState.STOPPED
    assert link._renew_handle is None
    assert link._silence_handle is None
    link.start()  # a stopped link can start again, on a new socket
    await wait_for(lambda: link.state is LinkState.CONNECTED)
    await link.stop()

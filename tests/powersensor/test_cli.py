"""The command-line tool: in-process against the simulator, and as real processes."""

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from custom_components.energy_local.powersensor import DiscoveredPlug, Transport, cli

from .conftest import SimulationFactory
from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
TOOL = "custom_components.energy_local.powersensor"


def watch_args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["watch", *argv])


async def watch_until(args: argparse.Namespace, done: Any) -> tuple[list[str], str]:
    """Run ``watch`` in this loop until ``done(lines)``; return (stdout lines, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(cli.run_watch(args, stop, out, err))
    try:
        await wait_for(lambda: done(out.getvalue().splitlines()))
    finally:
        stop.set()
        assert await task == 0
    return out.getvalue().splitlines(), err.getvalue()


async def test_watch_json_with_household(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    args = watch_args("--host", "127.0.0.1", "--port", str(plug.port), "--json", "--household")

    def enough(lines: list[str]) -> bool:
        names = {json.loads(line)["event"] for line in lines}
        return {"average_power", "now_relaying_for", "home_usage", "home_usage_summation"} <= names

    lines, err = await watch_until(args, enough)
    objects = [json.loads(line) for line in lines]
    assert all("event" in obj and "mac" in obj for obj in objects)
    readings = [obj for obj in objects if obj["event"] == "average_power"]
    assert {obj["mac"] for obj in readings} >= {plug.mac, simulation.sensors[0].mac}
    assert all("watts" in obj and "starttime_utc" in obj for obj in readings)
    household = [obj for obj in objects if obj["event"].startswith(("home_usage", "from_grid"))]
    assert household
    assert all(obj["mac"] is None for obj in household)
    assert "connected 127.0.0.1" in err
    assert err.splitlines()[-1].startswith("stopped 127.0.0.1")
    assert [data for _t, _p, data in plug.commands][-1] == b"subscribe(0)\n"


async def test_watch_text_and_raw(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation()
    port = str(simulation.plugs[0].port)
    lines, _ = await watch_until(
        watch_args("--host", "127.0.0.1", "--port", port), lambda lines: len(lines) > 3
    )
    assert lines[0].split()[0] in {"average_power", "now_relaying_for"}
    assert any(line.startswith("average_power mac=") and " watts=" in line for line in lines)
    raw, _ = await watch_until(
        watch_args("--host", "127.0.0.1", "--port", port, "--raw", "--transport", "tcp"),
        lambda lines: len(lines) > 3,
    )
    messages = [json.loads(line) for line in raw]
    assert {message["type"] for message in messages} == {"instant_power"}
    assert "starttime" in messages[0]  # the plug's own field names, untranslated


async def test_discover_commands(
    make_simulation: SimulationFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    out = io.StringIO()
    args = cli.build_parser().parse_args(
        ["discover", "--legacy", "127.0.0.1", "--port", str(plug.port), "--seconds", "0.1"]
    )
    assert await cli.run_discover(args, out) == 0
    assert out.getvalue() == f"{plug.mac} host=127.0.0.1 port={plug.port} transport=udp\n"

    closed: list[bool] = []

    class FakeZeroconf:
        async def async_close(self) -> None:
            closed.append(True)

    async def fake_discover(aiozc: Any, seconds: float) -> list[DiscoveredPlug]:
        assert isinstance(aiozc, FakeZeroconf)
        assert seconds == 5.0
        return [
            DiscoveredPlug(
                "246f280487a4", "192.0.2.7", 49476, Transport.UDP, "Plug._powersensor._udp.local."
            )
        ]

    monkeypatch.setattr(cli, "AsyncZeroconf", FakeZeroconf)
    monkeypatch.setattr(cli, "discover_plugs", fake_discover)
    out = io.StringIO()
    assert await cli.run_discover(cli.build_parser().parse_args(["discover"]), out) == 0
    assert out.getvalue().split() == [
        "246f280487a4",
        "host=192.0.2.7",
        "port=49476",
        "transport=udp",
        "name=Plug._powersensor._udp.local.",
    ]
    assert closed == [True]

    async def nothing(aiozc: Any, seconds: float) -> list[DiscoveredPlug]:
        return []

    monkeypatch.setattr(cli, "discover_plugs", nothing)
    assert (
        await cli.run_discover(
            cli.build_parser().parse_args(["discover", "--seconds", "1"]), io.StringIO()
        )
        == 1
    )


def test_parser_rejects_incomplete_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["watch"], ["watch", "--host", "h", "--transport", "sctp"], ["bogus"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.build_parser().parse_args(argv)
        assert exit_info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_format_helpers() -> None:
    status = SimpleNamespace(
        state=SimpleNamespace(value="disconnected"),
        reason=SimpleNamespace(value="refused"),
        host="::1",
        port=1,
        transport=SimpleNamespace(value="udp"),
        detail="[Errno 111] Connection refused",
    )
    assert cli.format_status(status) == (  # type: ignore[arg-type]
        "disconnected ::1 port=1 transport=udp reason=refused: [Errno 111] Connection refused"
    )
    line = cli.format_event("home_usage", None, {"timestamp_utc": 1, "watts": 2.0}, as_json=True)
    assert json.loads(line) == {
        "event": "home_usage",
        "mac": None,
        "timestamp_utc": 1,
        "watts": 2.0,
    }


# -- as processes -------------------------------------------------------------------------


@asynccontextmanager
async def process(*argv: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    assert line, "process ended early"
    return line.decode().rstrip("\n")


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def watch_a_simulator_process(host: str) -> None:
    sim_argv = ["-m", "simulators.powersensor_plug", "--host", host, "--port", "0"]
    sim_argv += ["--plug-interval", "0.1", "--sensor-interval", "0.2", "--log-commands"]
    async with process(*sim_argv) as simulator:
        ready = (await read_line(simulator)).split()
        assert ready[0] == "plug"
        mac, port = ready[1], ready[2].rsplit(":", 1)[1]
        watch_argv = ["-m", TOOL, "watch", "--host", host, "--port", port, "--json", "--household"]
        async with process(*watch_argv) as watcher:
            seen: set[str] = set()
            while not {"average_power", "home_usage", "from_grid_summation"} <= seen:
                event = json.loads(await read_line(watcher))
                seen.add(event["event"])
                assert "mac" in event
            code, _ = await interrupt(watcher)
            assert code == 0
        commands: list[str] = []
        while not commands or not commands[-1].endswith("subscribe(0)"):
            commands.append(await read_line(simulator))
        first, last = commands[0].split(), commands[-1].split()
        assert first[:3] == ["command", mac, "udp"]
        assert first[4] == "subscribe(60)"  # the real lease: 60 s
        assert last[3] == first[3]  # unsubscribed from the socket that subscribed
        assert last[3].rsplit(":", 1)[0] == host
        code, _ = await interrupt(simulator)
        assert code == 0


async def test_watch_process_until_interrupted() -> None:
    await watch_a_simulator_process("127.0.0.1")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_watch_process_over_ipv6() -> None:
    """::1 in child processes (this process may only connect to 127.0.0.1)."""
    await watch_a_simulator_process("::1")


async def test_discover_process_legacy() -> None:
    async with process("-m", "simulators.powersensor_plug", "--port", "0") as simulator:
        ready = (await read_line(simulator)).split()
        mac, port = ready[1], ready[2].rsplit(":", 1)[1]
        async with process(
            "-m", TOOL, "discover", "--legacy", "127.0.0.1", "--port", port, "--seconds", "0.5"
        ) as finder:
            out, _ = await asyncio.wait_for(finder.communicate(), 10)
            assert finder.returncode == 0
        assert out.decode().split()[:2] == [mac, "host=127.0.0.1"]
        await interrupt(simulator)


def test_module_entry_point_needs_a_command() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", TOOL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert b"usage" in done.stderr

"""Zeroconf end to end, in a network namespace of our own whose only interface is loopback.

The simulator advertises two plugs over mDNS; ``discover`` finds them. No multicast leaves
the namespace. Skipped where namespaces cannot be made (not root, no ``ip``).
"""

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IP = shutil.which("ip")


def _ip(*argv: str) -> subprocess.CompletedProcess[bytes]:
    assert IP is not None
    return subprocess.run([IP, *argv], capture_output=True, timeout=10, check=False)  # noqa: S603


@pytest.fixture
def loopback_namespace() -> Iterator[str]:
    if IP is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"pstest{os.getpid()}"
    if _ip("netns", "add", name).returncode != 0:
        pytest.skip("network namespaces are not available here")
    try:
        for argv in (
            ("link", "set", "lo", "up"),
            ("link", "set", "lo", "multicast", "on"),
            ("route", "add", "224.0.0.0/4", "dev", "lo"),
        ):
            assert _ip("-n", name, *argv).returncode == 0
        yield name
    finally:
        _ip("netns", "del", name)


async def test_discover_finds_advertised_plugs(loopback_namespace: str) -> None:
    assert IP is not None
    exec_in = [IP, "netns", "exec", loopback_namespace, sys.executable, "-m"]
    simulator = await asyncio.create_subprocess_exec(
        *exec_in, "simulators.powersensor_plug", "--zeroconf", "--plugs", "2", "--port", "0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert simulator.stdout is not None
        ready = [
            (await asyncio.wait_for(simulator.stdout.readline(), 15)).decode().split()
            for _ in range(2)
        ]
        advertised = {(line[1], line[2].rsplit(":", 1)[1]) for line in ready}
        finder = await asyncio.create_subprocess_exec(
            *exec_in, "custom_components.energy_local.powersensor", "discover", "--seconds", "2",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(finder.communicate(), 20)
        assert finder.returncode == 0, err.decode()
    finally:
        simulator.terminate()
        await simulator.wait()
    found = [dict(field.split("=", 1) for field in line.split()[1:]) | {"mac": line.split()[0]}
             for line in out.decode().splitlines()]  # fmt: skip
    assert {(plug["mac"], plug["port"]) for plug in found} == advertised
    assert sorted(plug["transport"] for plug in found) == ["tcp", "tcp", "udp", "udp"]
    assert {plug["host"] for plug in found} == {"127.0.0.1"}
    assert all(
        plug["name"].startswith(f"Powersensor-gateway-{plug['mac']}-civet.") for plug in found
    )

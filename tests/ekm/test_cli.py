"""The command-line tool, against the simulator running in a thread of its own."""

import asyncio
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from custom_components.energy_local.ekm.cli import main
from simulators.ekm_bus import EkmBusSimulator

ROOT = Path(__file__).resolve().parents[2]
V4 = "000300001285"
V3 = "000010006388"


class ThreadedSimulator:
    """The simulator on a pty, served by its own event loop (the CLI runs asyncio.run)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = EkmBusSimulator([(V4, 4), (V3, 3)], paced=False, seed=2)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.sim.start_pty(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def threaded() -> Iterator[ThreadedSimulator]:
    sim = ThreadedSimulator()
    yield sim
    sim.close()


def run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(args, out=out)
    return code, out.getvalue()


def test_read_json_detects_the_version(threaded: ThreadedSimulator) -> None:
    code, text = run(["read", "--port", threaded.port, "--address", "300001285", "--json"])
    assert code == 0
    fields = json.loads(text)
    assert fields["Meter_Address"] == V4
    assert fields["CT_Ratio"] == 200
    assert isinstance(fields["Meter_Time"], str)
    assert fields["kWh_Tot"] > 0


def test_read_text_v3(threaded: ThreadedSimulator) -> None:
    code, text = run(["read", "--port", threaded.port, "--address", V3, "--version", "3"])
    assert code == 0
    assert text.startswith(f"# meter {V3} (v3)")
    assert any(line.startswith("kWh_Tot ") for line in text.splitlines())


def test_relay(threaded: ThreadedSimulator) -> None:
    code, text = run(
        ["relay", "--port", threaded.port, "--address", V4, "--relay", "2", "--state", "closed"]
    )
    assert (code, text) == (0, "relay 2 closed\n")
    assert threaded.sim.meters[V4].relay_closed == [False, True]
    code, _ = run(
        ["relay", "--port", threaded.port, "--address", V4, "--relay", "2", "--state", "open",
         "--seconds", "5"]
    )  # fmt: skip
    assert code == 0
    assert threaded.sim.meters[V4].relay_closed == [False, False]


def test_set_time(threaded: ThreadedSimulator) -> None:
    meter = threaded.sim.meters[V3]
    meter.set_meter_time(meter.meter_time().replace(year=2040))
    code, text = run(["set-time", "--port", threaded.port, "--address", V3])
    assert code == 0
    assert text.startswith("meter clock set to ")
    assert meter.meter_time().year < 2040


def test_errors_are_one_line_and_non_zero(
    threaded: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["read", "--port", "/dev/ttyEKM-none", "--address", V4, "--version", "4"])[0] == 1
    assert run(["read", "--port", threaded.port, "--address", "12a"])[0] == 1
    code, _ = run(
        ["relay", "--port", threaded.port, "--address", V4, "--relay", "1", "--state", "closed",
         "--password", "99999999"]
    )  # fmt: skip
    assert code == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith("error: cannot open /dev/ttyEKM-none")
    assert "address" in errors[1]
    assert "password" in errors[2]


def test_python_dash_m_interface(threaded: ThreadedSimulator) -> None:
    done = subprocess.run(  # noqa: S603  (our own module, fixed arguments)
        [sys.executable, "-m", "custom_components.energy_local.ekm", "read",
         "--port", threaded.port, "--address", V4, "--version", "4", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Meter_Address"] == V4
    failed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "custom_components.energy_local.ekm", "read",
         "--port", "/dev/ttyEKM-none", "--address", V4, "--version", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1

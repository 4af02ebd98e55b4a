"""End-to-end tests against a real Home Assistant process, not the in-process test harness.

The stack is the one ``scripts/develop`` runs (``python -m scripts.devenv``), started as a
subprocess in a network namespace of its own, and always stopped (namespace deleted) after.
"""

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from scripts.devenv import netns
from scripts.devenv.stack import HA_PYTHON

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here, so the suite needs no setup.cfg change."""
    config.addinivalue_line("markers", "e2e: starts a real Home Assistant process (slow)")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No in-process Home Assistant here (overrides tests/conftest.py's fixture)."""


# Python hides DeprecationWarning outside __main__; shown, Home Assistant logs each one once
# (py.warnings, WARNING) with the file it is attributed to, so one raised in our code fails the
# log guard (tests/e2e/ha_log.py) like Home Assistant's own deprecation reports do.
DEPRECATIONS_SHOWN = {
    **os.environ,
    "PYTHONWARNINGS": "default::DeprecationWarning,default::PendingDeprecationWarning",
}


def newest_ha_version() -> str:
    """The release requirements_ha_newest.txt pins (the one the proof must run on)."""
    text = (ROOT / "requirements_ha_newest.txt").read_text(encoding="utf-8")
    (version,) = (m[1] for m in re.finditer(r"^homeassistant==(\S+)$", text, re.MULTILINE))
    return str(version)


def ha_venv_problem() -> str | None:
    """Why .venv-ha cannot run the proof (not made, or made for another pin); None if it can."""
    if not HA_PYTHON.exists():
        return f"{HA_PYTHON} does not exist"
    if not (HA_PYTHON.parents[1] / ".develop-stamp").exists():
        return f"{HA_PYTHON.parents[1]} was not fully installed"
    found = subprocess.run(  # noqa: S603 - the venv scripts/develop made, fixed arguments
        [HA_PYTHON, "-c", "import importlib.metadata as m; print(m.version('homeassistant'))"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if (have := found.stdout.strip()) != (want := newest_ha_version()):
        return f"{HA_PYTHON.parents[1]} has Home Assistant {have or 'nothing'}, not {want}"
    return None


@dataclass(slots=True)
class RealStack:
    """What the running stack reports (see ``StackInfo``) plus where it writes."""

    info: dict[str, Any]
    namespace: str
    config_dir: Path
    out: Path

    @property
    def base(self) -> str:
        """Home Assistant as the host reaches it (through the forwarder)."""
        return str(self.info["url"])

    @property
    def ekm_port(self) -> str:
        """The simulated bus's ``socket://`` address (inside the namespace)."""
        return str(self.info["ekm_port"])


@pytest.fixture
async def real_stack(tmp_path: Path, socket_enabled: None) -> AsyncIterator[RealStack]:
    """Simulators and Home Assistant in a fresh namespace; everything stopped afterwards."""
    if not netns.can_isolate():
        _cannot_run("needs root and iproute2: the real Home Assistant only runs in a namespace")
    if problem := ha_venv_problem():
        _cannot_run(f"{problem}: run scripts/develop --setup-only once")
    namespace = f"el-e2e-{os.getpid()}"
    config_dir = tmp_path / "config"
    status = tmp_path / "status.json"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "devenv.out"
    with out.open("wb") as log:
        supervisor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.devenv", "--config", str(config_dir),
            "--netns", namespace, "--port", "0", "--quiet", "--status-file", str(status),
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=log,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True, env=DEPRECATIONS_SHOWN,
        )  # fmt: skip
    pids: dict[str, int] = {}
    problems: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not status.exists():
            if supervisor.returncode is not None or time.monotonic() > deadline:
                pytest.fail(f"the stack did not come up:\n{out.read_text(errors='replace')}")
            await asyncio.sleep(0.25)
        info = json.loads(status.read_text())
        pids = info["pids"]
        yield RealStack(info, namespace, config_dir, out)
    finally:
        # Stop it as Ctrl-C in a terminal does: SIGINT to the whole process group (the
        # supervisor, Home Assistant, the simulators, the forwarder). Everything must stop and
        # the namespace go; SIGKILL only if it hangs (its children then get SIGTERM).
        if supervisor.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(supervisor.pid, signal.SIGINT)
            try:
                await asyncio.wait_for(supervisor.wait(), 90)
            except TimeoutError:
                supervisor.kill()
                await supervisor.wait()
                problems.append("the stack did not stop within 90 s")
        if supervisor.returncode not in (0, None):
            problems.append(f"the stack exited with {supervisor.returncode}")
        if netns.exists(namespace):
            problems.append(f"namespace {namespace} was left behind")
            with contextlib.suppress(netns.NamespaceError):
                netns.delete(namespace)
        problems += [f"{name} (pid {pid}) still runs" for name, pid in pids.items() if _alive(pid)]
        for source in (
            config_dir / "home-assistant.log",
            config_dir / "devenv" / "home-assistant.out",
        ):
            if source.exists():
                (ARTIFACTS / source.name).write_bytes(source.read_bytes())
    if problems:
        pytest.fail("cleanup: " + "; ".join(problems))


def _cannot_run(reason: str) -> NoReturn:
    """Skip, unless the test command requires the proof (then a missing prerequisite fails)."""
    if os.environ.get("ENERGY_LOCAL_E2E_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"

"""The scale benchmark's tools: a throw-away PostgreSQL server, simulator processes, probes.

Nothing here imports Home Assistant: :mod:`bench_scale` drives Home Assistant with these.
"""

import asyncio
import contextlib
import gc
import glob
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Resident memory of this process in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Iterable[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; 0 for none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def machine_load() -> str:
    """The load averages, for the report (the machine is shared)."""
    return Path("/proc/loadavg").read_text().split(" 1/")[0].rsplit(" ", 1)[0]


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def ensure_postgres() -> Path:
    """The directory of initdb/pg_ctl, installing Debian's ``postgresql`` when absent (as root)."""
    if (bindir := _pg_bindir()) is not None:
        return bindir
    if os.geteuid() != 0:
        raise SystemExit("PostgreSQL is not installed: apt-get install -y postgresql (as root)")
    print("installing Debian's postgresql ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    if (bindir := _pg_bindir()) is None:
        raise SystemExit("postgresql installed but no initdb found")
    return bindir


@dataclass
class Postgres:
    """A PostgreSQL server of our own in a temporary directory, on 127.0.0.1."""

    base: Path
    bindir: Path = field(default_factory=ensure_postgres)
    port: int = field(default_factory=free_port)
    database: str = "homeassistant"

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.base / "pgdata"

    @property
    def url(self) -> str:
        """The recorder's ``db_url``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _as_owner(self, *command: str) -> list[str]:
        # PostgreSQL refuses to run as root: the server runs as Debian's postgres user then.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def start(self) -> None:
        """initdb, start and create the database."""
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.base.parent.chmod(0o755)  # the postgres user must reach its directory
            shutil.chown(self.base, "postgres", "postgres")
        quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL}
        subprocess.run(
            self._as_owner(
                str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"
            ),
            check=True,
            **quiet,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}"
        subprocess.run(
            self._as_owner(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.base / "server.log"),
                "-o",
                options,
                "-w",
                "start",
            ),
            check=True,
            **quiet,
        )
        self.sql(f"CREATE DATABASE {self.database}", database="postgres")

    def sql(self, statement: str, database: str | None = None) -> str:
        """Run one statement with psql; its unaligned output."""
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database or self.database,
                "-Atc",
                statement,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def database_bytes(self) -> int:
        """pg_database_size of the recorder's database."""
        return int(self.sql(f"SELECT pg_database_size('{self.database}')"))

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            subprocess.run(
                self._as_owner(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
                ),
                stdout=subprocess.DEVNULL,
                check=True,
            )
        shutil.rmtree(self.base, ignore_errors=True)


# --- simulator processes ---------------------------------------------------------------------


@dataclass
class SimProcess:
    """A simulator in a process of its own (so its pacing does not share our loop or GIL)."""

    process: subprocess.Popen[str]
    lines: list[str]

    @classmethod
    def start(cls, args: list[str], ready: re.Pattern[str], count: int = 1) -> SimProcess:
        """Start ``python -m args`` and wait for ``count`` lines matching ``ready``."""
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while len(lines) < count:
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"simulator {args[0]} did not start: {lines}")
            if ready.search(line):
                lines.append(line.strip())
        return cls(process, lines)

    def stop(self) -> str:
        """Stop it (SIGTERM) and return what it printed at the end."""
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out.strip()


def start_ekm_bus(addresses: list[str], seed: int) -> tuple[SimProcess, str]:
    """A paced EKM bus of v4 meters on its own TCP port: (process, ``socket://`` URL)."""
    meters = ",".join(f"{address}:4" for address in addresses)
    sim = SimProcess.start(
        ["simulators.ekm_bus", "--meters", meters, "--tcp-port", "0", "--seed", str(seed)],
        re.compile(r"^tcp socket://"),
    )
    return sim, sim.lines[0].split()[1]


def start_plugs(count: int) -> tuple[SimProcess, list[tuple[str, int]]]:
    """``count`` plugs at their real rates, each relaying house-net and solar: (process, plugs)."""
    sim = SimProcess.start(
        ["simulators.powersensor_plug", "--plugs", str(count), "--port", "0", "--relay-all"],
        re.compile(r"^plug "),
        count,
    )
    plugs = []
    for line in sim.lines:
        _, mac, udp, _ = line.split()
        plugs.append((mac, int(udp.rsplit(":", 1)[1])))
    return sim, plugs


# --- the event loop's probes -----------------------------------------------------------------


@dataclass
class TimerLag:
    """How late a 50 ms timer fires: what any timed job in Home Assistant sees."""

    period: float = 0.05
    lags: list[float] = field(default_factory=list)
    due: float | None = None

    async def run(self) -> None:
        """Sleep ``period`` again and again, recording each wake-up's lateness."""
        loop = asyncio.get_running_loop()
        while True:
            due = self.due = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.lags.append(loop.time() - due)

    def summary(self) -> str:
        """p50 / p99 / max in ms."""
        return (
            f"p50 {percentile(self.lags, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(self.lags, 0.99) * 1000:.2f} ms, "
            f"max {max(self.lags, default=0) * 1000:.2f} ms ({len(self.lags)} wake-ups)"
        )


def idle_timer_lag(seconds: float) -> TimerLag:
    """The timer probe on an idle event loop of its own: the machine's baseline."""
    probe = TimerLag()

    async def measure() -> None:
        task = asyncio.create_task(probe.run())
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(measure())
    return probe


@dataclass
class HeldCallback:
    """One event-loop callback that ran our code, and how long it held the loop."""

    seconds: float  # wall time, from the callback's start to its end
    first_ours: str
    callback: str
    gc_seconds: float  # garbage collection in the loop thread meanwhile
    cpu_seconds: float  # the loop thread's CPU time (not preemption, not waits for the GIL)


class CallbackClock:
    """Times every event-loop callback, and tells those in which our code ran.

    An ``asyncio.Handle._run`` wrapper times each callback (task steps, timers, I/O
    callbacks); ``sys.monitoring`` PY_START events, set on the code objects of our modules only,
    mark a callback in which any function of ours started. So a callback counts as ours when
    our code ran in it, with whatever Home Assistant did synchronously on our behalf (state
    writes and their listeners) inside the same callback; garbage collection that struck then
    is in it too.
    """

    TOOL = 4

    def __init__(self, package: str) -> None:
        """Prepare to watch the modules of ``package``."""
        self.package = package
        self.ours: list[HeldCallback] = []
        self.all_max = 0.0
        self.callbacks = 0
        self._current: list[str | None] | None = None
        self._gc_started = 0.0
        self._loop_thread = 0
        self.all_cpu_max = 0.0
        self._gc_seconds = 0.0  # in the current callback
        self._original_run = asyncio.events.Handle._run
        self._instrumented: set[CodeType] = set()
        monitoring = sys.monitoring
        monitoring.use_tool_id(self.TOOL, "scale-bench")
        monitoring.register_callback(self.TOOL, monitoring.events.PY_START, self._started)

    def _started(self, code: CodeType, _offset: int) -> None:
        current = self._current
        if current is not None and current[0] is None:
            current[0] = code.co_qualname

    def instrument(self) -> int:
        """Watch every code object of the package's modules loaded now; how many in all."""
        for name, module in list(sys.modules.items()):
            if name.startswith(self.package) and isinstance(module, ModuleType):
                for code in _codes_of(module):
                    if code not in self._instrumented:
                        self._instrumented.add(code)
                        sys.monitoring.set_local_events(
                            self.TOOL, code, sys.monitoring.events.PY_START
                        )
        return len(self._instrumented)

    def _collecting(self, phase: str, _info: dict[str, int]) -> None:
        # Garbage collection strikes whatever callback allocates at the time: told apart.
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc_seconds += time.perf_counter() - self._gc_started

    def install(self) -> None:
        """Start timing callbacks."""
        clock = self
        original = self._original_run
        gc.callbacks.append(self._collecting)
        self._loop_thread = threading.get_ident()

        def timed_run(handle: asyncio.Handle) -> None:  # the Handle._run replacement
            current: list[str | None] = [None]
            outer, clock._current = clock._current, current
            clock._gc_seconds = 0.0
            start, cpu_start = time.perf_counter(), time.thread_time()
            try:
                original(handle)
            finally:
                held = time.perf_counter() - start
                cpu = time.thread_time() - cpu_start
                clock._current = outer
                clock.callbacks += 1
                clock.all_max = max(clock.all_max, held)
                clock.all_cpu_max = max(clock.all_cpu_max, cpu)
                if current[0] is not None and held > 0.0005:
                    clock.ours.append(
                        HeldCallback(held, current[0], _describe(handle), clock._gc_seconds, cpu)
                    )

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        """Forget what was timed so far (start-up apart from steady state)."""
        self.ours.clear()
        self.all_max = 0.0
        self.all_cpu_max = 0.0
        self.callbacks = 0

    def longest(self, count: int = 5, *, cpu: bool = False) -> list[HeldCallback]:
        """The ``count`` longest callbacks that ran our code, by wall or CPU time less GC."""

        def key(held: HeldCallback) -> float:
            return held.cpu_seconds - held.gc_seconds if cpu else held.seconds

        return sorted(self.ours, key=key, reverse=True)[:count]

    def over(self, seconds: float) -> int:
        """How many callbacks that ran our code held the loop longer than ``seconds``."""
        return sum(held.seconds > seconds for held in self.ours)

    def uninstall(self) -> None:
        """Stop timing."""
        asyncio.events.Handle._run = self._original_run  # type: ignore[method-assign]
        gc.callbacks.remove(self._collecting)
        sys.monitoring.register_callback(self.TOOL, sys.monitoring.events.PY_START, None)
        sys.monitoring.free_tool_id(self.TOOL)


def _codes_of(module: ModuleType) -> Iterator[CodeType]:
    """Every code object defined in ``module`` (functions, methods, nested functions)."""
    seen: set[int] = set()
    stack: list[Any] = list(vars(module).values())
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, CodeType):
            yield item
            stack.extend(const for const in item.co_consts if isinstance(const, CodeType))
        elif isinstance(item, (staticmethod, classmethod)):
            stack.append(item.__func__)
        elif isinstance(item, property):
            stack.extend(f for f in (item.fget, item.fset, item.fdel) if f is not None)
        elif isinstance(item, type) and item.__module__ == module.__name__:
            stack.extend(vars(item).values())
        elif callable(item) and getattr(item, "__module__", None) == module.__name__:
            code = getattr(item, "__code__", None)
            if isinstance(code, CodeType):
                stack.append(code)


def _describe(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        names = []
        while coro is not None and hasattr(coro, "cr_code"):
            names.append(coro.cr_code.co_qualname)
            coro = getattr(coro, "cr_await", None)
        return "task " + " > ".join(names[-3:])
    return getattr(callback, "__qualname__", repr(callback))


def mean_or_zero(values: Sequence[float]) -> float:
    """The mean, 0 for none."""
    return statistics.mean(values) if values else 0.0


class StallSampler:
    """Where the loop thread is while the timer probe is overdue: a sampling profiler of stalls.

    A thread of its own looks every 2 ms; once the probe is 20 ms overdue it takes the loop
    thread's innermost frames. A stall spent in ``select`` is the operating system or another
    thread (the GIL), not a callback.
    """

    def __init__(self, probe: TimerLag, loop: asyncio.AbstractEventLoop) -> None:
        """Watch ``probe`` on ``loop`` (call from the loop's thread)."""
        self.probe = probe
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.samples: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            due = self.probe.due
            if due is None or self.loop.time() - due < 0.02:
                continue
            frame = sys._current_frames().get(self.thread_id)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-4:]
            self.samples[
                " < ".join(f"{Path(f.filename).name}:{f.name}" for f in reversed(stack))
            ] += 1

    def top(self, count: int = 6) -> list[tuple[str, int]]:
        """The most sampled stacks (each sample is ~2 ms of stall)."""
        return self.samples.most_common(count)

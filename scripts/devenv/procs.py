"""Child processes: started in their own session, logged to files, stopped in reverse order."""

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class ChildFailedError(RuntimeError):
    """A child exited, or did not get ready in time."""


@dataclass(slots=True)
class Child:
    """One process we started."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    pump: asyncio.Task[None] | None = None
    """Copies the output to the log and our terminal (``echo``)."""

    @property
    def pid(self) -> int:
        """The process id (``ip netns exec`` and ``setpriv`` exec in place: it is the program's)."""
        return self.process.pid

    def tail(self, lines: int = 30) -> str:
        """The end of the child's log, for error messages."""
        if not self.log.exists():
            return ""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _death_signal_prefix() -> list[str]:
    # If we are killed outright (SIGKILL), the kernel sends our children SIGTERM: nothing we
    # started outlives us. setpriv (util-linux) sets it and execs, so no preexec_fn is needed
    # (unsafe with the forwarder's thread).
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM"] if setpriv else []


class Supervisor:
    """Starts children and stops every one of them (and only them) by pid."""

    def __init__(self) -> None:
        """No children yet."""
        self.children: list[Child] = []
        self._files: list[IO[bytes]] = []

    async def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        log: Path,
        echo: bool = False,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start ``argv`` in a session of its own (Ctrl-C reaches only us; we stop it).

        Its output goes to ``log`` (and, with ``echo``, to our stdout as well).
        """
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("wb")
        self._files.append(out)
        process = await asyncio.create_subprocess_exec(
            *_death_signal_prefix(),
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if echo else out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        child = Child(name, process, log)
        if echo:
            assert process.stdout is not None
            child.pump = asyncio.get_running_loop().create_task(_pump(process.stdout, out))
        self.children.append(child)
        return child

    async def wait_for_lines(
        self, child: Child, pattern: str, *, count: int = 1, within: float = 30
    ) -> list[re.Match[str]]:
        """Wait until ``count`` lines of the child's log match ``pattern``."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + within
        while True:
            text = child.log.read_text(encoding="utf-8", errors="replace")
            matches = list(regex.finditer(text))
            if len(matches) >= count:
                return matches[:count]
            if child.process.returncode is not None:
                raise ChildFailedError(
                    f"{child.name} exited with {child.process.returncode}:\n{child.tail()}"
                )
            if time.monotonic() > deadline:
                raise ChildFailedError(f"{child.name} not ready after {within:.0f} s")
            await asyncio.sleep(0.1)

    async def first_exit(self) -> Child:
        """Wait until any child exits; return it."""
        waits = {
            asyncio.ensure_future(child.process.wait()): child
            for child in self.children
            if child.process.returncode is None
        }
        if not waits:
            return self.children[0]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
        return waits[next(iter(done))]

    async def stop_all(self, *, grace: float = 30) -> dict[str, int]:
        """SIGTERM each child, newest first, SIGKILL after ``grace`` seconds; close logs.

        Returns each child's exit status.
        """
        codes: dict[str, int] = {}
        for child in reversed(self.children):
            codes[child.name] = await stop_child(child, grace=grace)
        self.children.clear()
        for out in self._files:
            out.close()
        self._files.clear()
        return codes


async def _pump(stream: asyncio.StreamReader, out: IO[bytes]) -> None:
    terminal = True
    while line := await stream.readline():
        out.write(line)
        out.flush()
        if terminal:
            try:
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
            except OSError:
                terminal = False  # the terminal went away (SIGHUP follows): keep the file


async def stop_child(child: Child, *, grace: float = 30) -> int:
    """Stop one child by its pid: SIGTERM, then SIGKILL if it does not exit in time.

    Returns its exit status (negative: the signal that ended it).
    """
    process = child.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            await process.wait()
    if child.pump is not None:
        await child.pump
    return process.returncode if process.returncode is not None else 0

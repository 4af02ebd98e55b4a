"""Network namespaces whose only interface is loopback (``ip netns``)."""

import os
import shutil
import subprocess
from pathlib import Path

_RUN_DIRS = (Path("/run/netns"), Path("/var/run/netns"))


class NamespaceError(RuntimeError):
    """A namespace could not be made or is in use."""


def ip_binary() -> str | None:
    """The ``ip`` program, if installed."""
    return shutil.which("ip") or next(
        (str(p) for p in (Path("/usr/sbin/ip"), Path("/sbin/ip")) if p.exists()), None
    )


def can_isolate() -> bool:
    """Whether we may make namespaces here: root and iproute2."""
    return os.geteuid() == 0 and ip_binary() is not None


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = ip_binary()
    if ip is None:
        raise NamespaceError("iproute2 (ip) is not installed")
    result = subprocess.run([ip, *argv], capture_output=True, text=True, timeout=20, check=False)
    if check and result.returncode != 0:
        raise NamespaceError(f"ip {' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result


def path_of(name: str) -> Path:
    """The bind-mounted namespace file ``ip netns add`` makes."""
    for base in _RUN_DIRS:
        if (base / name).exists():
            return base / name
    return _RUN_DIRS[0] / name


def exists(name: str) -> bool:
    """Whether the namespace exists."""
    return any((base / name).exists() for base in _RUN_DIRS)


def pids(name: str) -> list[int]:
    """Processes running in the namespace."""
    out = _ip("netns", "pids", name, check=False).stdout
    return [int(word) for word in out.split() if word.isdigit()]


def create(name: str) -> None:
    """Make ``name`` with only loopback up, multicast on it and routed to it.

    A namespace of that name left behind by a run that was killed is deleted first, unless
    processes still run in it (then another run owns it, and we refuse).
    """
    if exists(name):
        if busy := pids(name):
            raise NamespaceError(
                f"network namespace {name} is in use by pids {busy}: is another run active?"
            )
        delete(name)
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        # Loopback has no MULTICAST flag by default; zeroconf needs it and a route for
        # 224.0.0.0/4 (without the route it fails with ENODEV).
        _ip("-n", name, "link", "set", "lo", "multicast", "on")
        _ip("-n", name, "route", "add", "224.0.0.0/4", "dev", "lo")
    except NamespaceError:
        delete(name)
        raise


def delete(name: str) -> None:
    """Remove the namespace (it is gone once its last process has exited)."""
    if exists(name):
        _ip("netns", "del", name, check=False)


def interfaces(name: str) -> list[str]:
    """The interface names inside the namespace (a check that only ``lo`` is there)."""
    out = _ip("-n", name, "-o", "link", "show").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def exec_prefix(name: str | None) -> list[str]:
    """Argv prefix that runs a program inside ``name`` (nothing when not isolated)."""
    if name is None:
        return []
    ip = ip_binary()
    if ip is None:
        raise NamespaceError("iproute2 (ip) is not installed")
    return [ip, "netns", "exec", name]


def enter_in_this_thread(name: str) -> None:
    """Move the calling thread (only it) into the namespace: sockets it makes belong there."""
    fd = os.open(path_of(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.setns(fd, os.CLONE_NEWNET)
    finally:
        os.close(fd)

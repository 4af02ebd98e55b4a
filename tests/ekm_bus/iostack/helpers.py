"""Helpers for ioStack tests: the stand-in ekmdevice on sys.path, and ioStack subentries."""

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from homeassistant.config_entries import ConfigSubentryData

from custom_components.energy_local.ekm_bus.const import (
    CONF_ADDRESS,
    CONF_ANALOG_INPUTS,
    CONF_NAME,
    CONF_PULSE_INPUTS,
    SUBENTRY_IOSTACK,
)
from simulators.ekm_bus import EkmBusSimulator
from tests.ekm_bus.helpers import V4_ADDRESS, MidpointRng, frozen_clock, house_lines

STANDIN = Path(__file__).resolve().parents[2] / "fixtures" / "ekmdevice_standin"
IOSTACK_ADDRESS = "000000000001"


def forget_ekmdevice() -> None:
    """Drop every imported ekmdevice module, so the next import looks on sys.path again."""
    for name in [n for n in sys.modules if n == "ekmdevice" or n.startswith("ekmdevice.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def put_standin_on_path() -> None:
    """Make the stand-in importable as ``ekmdevice`` (what an install would do)."""
    if str(STANDIN) not in sys.path:
        sys.path.insert(0, str(STANDIN))
    importlib.invalidate_caches()


@contextlib.contextmanager
def standin_installed() -> Iterator[ModuleType]:
    """The stand-in on sys.path with one ioStack (EKM's example) at address 1; its controls."""
    forget_ekmdevice()
    put_standin_on_path()
    try:
        controls = importlib.import_module("ekmdevice._standin")
        controls.reset()
        controls.devices[IOSTACK_ADDRESS] = controls.Device()
        yield controls
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(STANDIN))
        forget_ekmdevice()


def iostack_subentry(
    address: str = IOSTACK_ADDRESS,
    *,
    name: str | None = None,
    pulses: list[dict[str, object]] | None = None,
    analog: list[dict[str, object]] | None = None,
) -> ConfigSubentryData:
    """An ioStack subentry as the subentry flow stores it."""
    data: dict[str, object] = {
        CONF_ADDRESS: address,
        CONF_PULSE_INPUTS: pulses or [],
        CONF_ANALOG_INPUTS: analog or [],
    }
    if name:
        data[CONF_NAME] = name
    return ConfigSubentryData(
        data=data,
        subentry_type=SUBENTRY_IOSTACK,
        title=name or f"ioStack {address.lstrip('0')}",
        unique_id=f"iostack_{address}",
    )


async def start_tcp_bus() -> tuple[EkmBusSimulator, str]:
    """A simulated bus (one v4 meter) behind a serial-over-TCP converter, and its socket:// URL."""
    sim = EkmBusSimulator(paced=False, seed=1)
    sim.clock = frozen_clock()
    sim.add_meter(V4_ADDRESS, 4, jitter=0.0, rng=MidpointRng(), lines=house_lines())
    return sim, f"socket://127.0.0.1:{await sim.start_tcp()}"

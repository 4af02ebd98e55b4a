"""Shared helpers: vector loading, event building, fast timings, polling."""

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from custom_components.energy_local.powersensor import (
    AveragePower,
    LinkTiming,
    SummationEnergy,
)
from tests.conftest import load_fixture

FAST = LinkTiming(
    lease_s=2,
    renew_interval_s=0.5,
    silence_timeout_s=0.6,
    retry_unit_s=0.05,
    retry_cap_s=0.5,
)
"""A link timing 100x faster than the real one, for tests against the simulator."""


def vectors(name: str) -> Any:
    """Load a copied powersensor-local vector file."""
    return load_fixture(f"powersensor/{name}")


def household_input(event: str, data: dict[str, Any]) -> AveragePower | SummationEnergy:
    """Build our event from a vector's translated ``average_power``/``summation_energy``."""
    fields = dict(data)
    common = {
        "mac": fields.pop("mac"),
        "role": fields.pop("role", None),
        "starttime_utc": fields.pop("starttime_utc"),
        "via": fields.pop("via", None),
    }
    if event == "average_power":
        return AveragePower(**common, **fields)
    assert event == "summation_energy"
    return SummationEnergy(**common, **fields)


def run_sync[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (powersensor-local's handlers) without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the coroutine suspended")


async def wait_for(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)

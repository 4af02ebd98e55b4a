"""Fixtures of the bus tests: an unpaced simulator with a v4 and a v3 meter, a bus on its pty."""

from collections.abc import AsyncIterator

import pytest

from custom_components.energy_local.ekm import EkmBus
from simulators.ekm_bus import EkmBusSimulator

from .bus_helpers import V3, V4


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    """The simulated bus."""
    simulator = EkmBusSimulator([(V4, 4), (V3, 3)], paced=False, seed=3)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def bus(sim: EkmBusSimulator) -> AsyncIterator[EkmBus]:
    """Our bus on the simulator's pty."""
    ekm = EkmBus(await sim.start_pty(), timeout=0.1)
    ekm.char_time = 0.0  # the unpaced simulator answers at once
    yield ekm
    await ekm.close()

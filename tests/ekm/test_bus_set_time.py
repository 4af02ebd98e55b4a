"""set_time ends within 0.2 s of the requested clock, on a paced (real 9600 baud) simulator."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from custom_components.energy_local.ekm import EkmBus
from simulators.ekm_bus import EkmBusSimulator

from .bus_helpers import V3, V4


@pytest.fixture
async def paced() -> AsyncIterator[EkmBusSimulator]:
    """A simulator with real wire timing (9600 baud, 20 ms turnaround)."""
    async with EkmBusSimulator([(V4, 4), (V3, 3)], paced=True, seed=2) as sim:
        yield sim


@pytest.mark.parametrize(("address", "version"), [(V4, 4), (V3, 3)])
@pytest.mark.parametrize("fraction", [0.0, 0.37, 0.93])
async def test_set_time_lands_on_the_requested_clock(
    paced: EkmBusSimulator, address: str, version: int, fraction: float
) -> None:
    """The meter's clock offset equals the requested one, whatever the sub-second phase.

    Sending ``when`` as it was at the call left the meter 0.39-1.32 s behind here.
    """
    async with EkmBus(await paced.start_pty(), timeout=0.3) as bus:
        requested = datetime(2031, 5, 6, 7, 8, 9) + timedelta(seconds=fraction)
        # The requested clock runs on from `requested` as of this moment.
        wanted_offset = requested - paced.clock.wall()
        await bus.set_time(address, version, requested)
        error = (paced.meters[address].clock_offset - wanted_offset).total_seconds()
        assert abs(error) < 0.2, error
        shown = (await bus.read_meter(address, version)).values["Meter_Time"]
        assert isinstance(shown, datetime)
        expected = paced.clock.wall() + wanted_offset
        assert abs((shown - expected).total_seconds()) < 1.2

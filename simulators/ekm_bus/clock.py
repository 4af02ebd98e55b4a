"""Simulated time: how far the meters' world has moved, possibly faster than real time."""

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """Seconds of simulated time since the simulator was created.

    Simulated time runs ``speed`` times faster than the monotonic clock, and tests may jump it
    forward with :meth:`advance` (energy, relay timers and the meters' clocks follow it). Wire
    timing never uses this clock: the bus always runs at the real 9600 baud.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = datetime.now,
    ) -> None:
        """Start the clock now; ``speed`` must be positive."""
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._start = monotonic()
        self._start_wall = wall()
        self._skipped = 0.0

    def now(self) -> float:
        """Simulated seconds since start."""
        return (self._monotonic() - self._start) * self.speed + self._skipped

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (never backward)."""
        if seconds < 0:
            raise ValueError("simulated time cannot go backward")
        self._skipped += seconds

    def wall(self) -> datetime:
        """Naive local wall-clock time in the simulated world (start time + simulated time)."""
        return self._start_wall + timedelta(seconds=self.now())

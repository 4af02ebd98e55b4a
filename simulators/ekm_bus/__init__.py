"""Simulated RS-485 bus of EKM Omnimeter v3/v4 meters speaking the real byte protocol.

Served on 127.0.0.1 over TCP (``socket://127.0.0.1:PORT``, like ser2net) and/or on a
pseudo-terminal, with real 9600-baud wire timing (or none, for fast tests), evolving meter
values, command sessions and fault injection::

    async with EkmBusSimulator([("300001285", 4), ("10006388", 3)], paced=False) as sim:
        port = await sim.start_tcp()
        ...
"""

from .clock import SimClock
from .config import MeterSpec, SimulatorConfig, load_config
from .faults import FaultKind, FaultPlan
from .meter import LineConfig, SimMeter
from .simulator import Direction, EkmBusSimulator, SimStats, TranscriptEntry, settings_reply
from .wire import CHAR_TIME, DEFAULT_TURNAROUND, WireStats

__all__ = [
    "CHAR_TIME",
    "DEFAULT_TURNAROUND",
    "Direction",
    "EkmBusSimulator",
    "FaultKind",
    "FaultPlan",
    "LineConfig",
    "MeterSpec",
    "SimClock",
    "SimMeter",
    "SimStats",
    "SimulatorConfig",
    "TranscriptEntry",
    "WireStats",
    "load_config",
    "settings_reply",
]

"""EKM Metering protocol library: Omnimeter v3/v4 frames, CRC, parsing, commands and the bus.

No Home Assistant imports: usable on its own, and by the command-line tool
``python -m custom_components.energy_local.ekm``.
"""

from .address import normalize_address, printed_address
from .bus import CHAR_TIME, DEFAULT_GAP, DEFAULT_TIMEOUT, BusStats, EkmBus
from .errors import (
    EkmAddressMismatchError,
    EkmCommandError,
    EkmCrcError,
    EkmError,
    EkmFrameError,
    EkmPasswordError,
    EkmPortError,
    EkmRequestTypeError,
    EkmTimeoutError,
    InvalidAddressError,
)
from .frames import DEFAULT_PASSWORD, ReadBlock, Relay, RelayState
from .models import (
    CosTheta,
    MeterReading,
    MeterValues,
    MeterVersion,
    PowerFactorKind,
    Value,
    decode_cos_theta,
)
from .ports import REPLY_MARGIN, PortKind, port_kind
from .readloop import Readloop, ReadloopError, ReadloopIoStack, ReadloopMeter, read_readloop

__all__ = [
    "CHAR_TIME",
    "DEFAULT_GAP",
    "DEFAULT_PASSWORD",
    "DEFAULT_TIMEOUT",
    "REPLY_MARGIN",
    "BusStats",
    "CosTheta",
    "EkmAddressMismatchError",
    "EkmBus",
    "EkmCommandError",
    "EkmCrcError",
    "EkmError",
    "EkmFrameError",
    "EkmPasswordError",
    "EkmPortError",
    "EkmRequestTypeError",
    "EkmTimeoutError",
    "InvalidAddressError",
    "MeterReading",
    "MeterValues",
    "MeterVersion",
    "PortKind",
    "PowerFactorKind",
    "ReadBlock",
    "Readloop",
    "ReadloopError",
    "ReadloopIoStack",
    "ReadloopMeter",
    "Relay",
    "RelayState",
    "Value",
    "decode_cos_theta",
    "normalize_address",
    "port_kind",
    "printed_address",
    "read_readloop",
]

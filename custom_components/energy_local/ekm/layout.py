"""Where each field sits in a 255-byte Omnimeter reply, and how it is encoded (§7 of the notes).

Offsets count from the leading STX. Names are EKM's own (ekmdevice / ekmmeters HEAD naming).
"""

from dataclasses import dataclass
from enum import Enum, auto

FRAME_LENGTH = 255


class Encoding(Enum):
    """How a field's characters become a value."""

    HEX = auto()  # raw bytes, shown as hex (Model, Firmware, status codes)
    TEXT = auto()  # ASCII text kept as is (the echoed address)
    INT = auto()  # decimal digits
    SIGNED_INT = auto()  # decimal digits, optionally signed (reactive power: sign undocumented)
    DECIMAL = auto()  # decimal digits divided by a fixed power of ten
    KWH = auto()  # decimal digits divided by 10**kWh_Scale
    COS_THETA = auto()  # 'L'/'C'/' ' + 3 digits of PF x 100
    TIME = auto()  # YYMMDDWWHHMMSS


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a reply block."""

    name: str
    offset: int
    size: int
    encoding: Encoding
    decimals: int = 0  # for DECIMAL


def _seq(
    names: tuple[str, ...], start: int, size: int, encoding: Encoding, decimals: int = 0
) -> tuple[Field, ...]:
    return tuple(
        Field(name, start + i * size, size, encoding, decimals) for i, name in enumerate(names)
    )


def _lines(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem}_Ln_{n}" for n in (1, 2, 3))


def _tariffs(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem}_Tariff_{n}" for n in (1, 2, 3, 4))


H, T, I, S, D, K, C, TM = (  # noqa: E741  (short aliases keep the tables readable)
    Encoding.HEX,
    Encoding.TEXT,
    Encoding.INT,
    Encoding.SIGNED_INT,
    Encoding.DECIMAL,
    Encoding.KWH,
    Encoding.COS_THETA,
    Encoding.TIME,
)

_HEADER = (Field("Model", 1, 2, H), Field("Firmware", 3, 1, H), Field("Meter_Address", 4, 12, T))

V3_FIELDS: tuple[Field, ...] = (
    *_HEADER,
    # v3 has no scale byte: its kWh registers are always tenths.
    Field("kWh_Tot", 16, 8, D, 1),
    *_seq(_tariffs("kWh"), 24, 8, D, 1),
    Field("Rev_kWh_Tot", 56, 8, D, 1),
    *_seq(_tariffs("Rev_kWh"), 64, 8, D, 1),
    *_seq(_lines("RMS_Volts"), 96, 4, D, 1),
    *_seq(_lines("Amps"), 108, 5, D, 1),
    *_seq(_lines("RMS_Watts"), 123, 7, I),
    Field("RMS_Watts_Tot", 144, 7, I),
    *_seq(_lines("Cos_Theta"), 151, 4, C),
    Field("RMS_Watts_Max_Demand", 163, 8, D, 1),
    Field("Max_Demand_Period", 171, 1, I),
    Field("Meter_Time", 172, 14, TM),
    Field("CT_Ratio", 186, 4, I),
    *_seq(("Pulse_Cnt_1", "Pulse_Cnt_2", "Pulse_Cnt_3"), 190, 8, I),
    *_seq(("Pulse_Ratio_1", "Pulse_Ratio_2", "Pulse_Ratio_3"), 214, 4, I),
    Field("State_Inputs", 226, 3, I),
    Field("Meter_Status_Code", 248, 1, H),
)

KWH_SCALE_OFFSET = 230
REQUEST_TYPE_OFFSET = 247

V4_A_FIELDS: tuple[Field, ...] = (
    *_HEADER,
    Field("kWh_Tot", 16, 8, K),
    Field("Reactive_Energy_Tot", 24, 8, K),
    Field("Rev_kWh_Tot", 32, 8, K),
    *_seq(_lines("kWh"), 40, 8, K),
    *_seq(_lines("Rev_kWh"), 64, 8, K),
    Field("kWh_Rst", 88, 8, K),
    Field("Rev_kWh_Rst", 96, 8, K),
    *_seq(_lines("RMS_Volts"), 104, 4, D, 1),
    *_seq(_lines("Amps"), 116, 5, D, 1),
    *_seq(_lines("RMS_Watts"), 131, 7, I),
    Field("RMS_Watts_Tot", 152, 7, I),
    *_seq(_lines("Cos_Theta"), 159, 4, C),
    *_seq(_lines("Reactive_Pwr"), 171, 7, S),
    Field("Reactive_Pwr_Tot", 192, 7, S),
    Field("Line_Freq", 199, 4, D, 2),
    *_seq(("Pulse_Cnt_1", "Pulse_Cnt_2", "Pulse_Cnt_3"), 203, 8, I),
    Field("State_Inputs", 227, 1, I),
    Field("State_Watts_Dir", 228, 1, I),
    Field("State_Out", 229, 1, I),
    Field("kWh_Scale", KWH_SCALE_OFFSET, 1, I),
    Field("Meter_Time", 233, 14, TM),
    Field("Request_Type", REQUEST_TYPE_OFFSET, 2, H),
)

V4_B_FIELDS: tuple[Field, ...] = (
    *_HEADER,
    # B carries no scale byte of its own: its kWh registers use the scale of the last A read.
    *_seq(_tariffs("kWh"), 16, 8, K),
    *_seq(_tariffs("Rev_kWh"), 48, 8, K),
    *_seq(_lines("RMS_Volts"), 80, 4, D, 1),
    *_seq(_lines("Amps"), 92, 5, D, 1),
    *_seq((*_lines("RMS_Watts"), "RMS_Watts_Tot"), 107, 7, I),
    *_seq(_lines("Cos_Theta"), 135, 4, C),
    # Always tenths, never kWh-scaled (ekmmeters agrees in both versions).
    Field("RMS_Watts_Max_Demand", 147, 8, D, 1),
    Field("Max_Demand_Period", 155, 1, I),
    *_seq(("Pulse_Ratio_1", "Pulse_Ratio_2", "Pulse_Ratio_3"), 156, 4, I),
    Field("CT_Ratio", 168, 4, I),
    Field("Max_Demand_Rst", 172, 1, I),
    Field("CF_Ratio", 173, 4, I),
    *_seq(("Meter_Status_Code_A", "Meter_Status_Code_B", "Meter_Status_Code_C"), 230, 1, H),
    Field("Meter_Time", 233, 14, TM),
    Field("Request_Type", REQUEST_TYPE_OFFSET, 2, H),
)

V4_B_ONLY_FIELDS = frozenset(f.name for f in V4_B_FIELDS) - frozenset(f.name for f in V4_A_FIELDS)
"""Fields only block B carries; where A and B overlap, A's (newer) values are used."""

"""Typed results of reading an Omnimeter: EKM's field names mapped to decoded values."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import TypedDict

type Value = int | float | str | datetime | None


class MeterVersion(IntEnum):
    """Omnimeter protocol generation."""

    V3 = 3
    V4 = 4


class PowerFactorKind(StrEnum):
    """Whether the current leads or lags the voltage (the Cos_Theta prefix)."""

    LEADING = "leading"  # 'C', capacitive
    LAGGING = "lagging"  # 'L', inductive
    UNITY = "unity"  # ' ', neither


class MeterValues(TypedDict, total=False):
    """Every field a reading can carry, by EKM's name (ekmdevice / ekmmeters HEAD naming).

    v3 readings carry the v3 fields; v4 readings carry block A's and, when B was read, B's.
    ``Power_Factor_Ln_N`` and ``Net_Calc_Watts_*`` are calculated the way EKM's libraries do.
    """

    Model: str
    Firmware: str
    Meter_Address: str
    kWh_Tot: float
    Rev_kWh_Tot: float
    Reactive_Energy_Tot: float
    kWh_Tariff_1: float
    kWh_Tariff_2: float
    kWh_Tariff_3: float
    kWh_Tariff_4: float
    Rev_kWh_Tariff_1: float
    Rev_kWh_Tariff_2: float
    Rev_kWh_Tariff_3: float
    Rev_kWh_Tariff_4: float
    kWh_Ln_1: float
    kWh_Ln_2: float
    kWh_Ln_3: float
    Rev_kWh_Ln_1: float
    Rev_kWh_Ln_2: float
    Rev_kWh_Ln_3: float
    kWh_Rst: float
    Rev_kWh_Rst: float
    RMS_Volts_Ln_1: float
    RMS_Volts_Ln_2: float
    RMS_Volts_Ln_3: float
    Amps_Ln_1: float
    Amps_Ln_2: float
    Amps_Ln_3: float
    RMS_Watts_Ln_1: int
    RMS_Watts_Ln_2: int
    RMS_Watts_Ln_3: int
    RMS_Watts_Tot: int
    Net_Calc_Watts_Ln_1: int
    Net_Calc_Watts_Ln_2: int
    Net_Calc_Watts_Ln_3: int
    Net_Calc_Watts_Tot: int
    Cos_Theta_Ln_1: str
    Cos_Theta_Ln_2: str
    Cos_Theta_Ln_3: str
    Power_Factor_Ln_1: int
    Power_Factor_Ln_2: int
    Power_Factor_Ln_3: int
    Reactive_Pwr_Ln_1: int
    Reactive_Pwr_Ln_2: int
    Reactive_Pwr_Ln_3: int
    Reactive_Pwr_Tot: int
    Line_Freq: float
    Pulse_Cnt_1: int
    Pulse_Cnt_2: int
    Pulse_Cnt_3: int
    Pulse_Ratio_1: int
    Pulse_Ratio_2: int
    Pulse_Ratio_3: int
    State_Inputs: int
    State_Watts_Dir: int
    State_Out: int
    kWh_Scale: int
    Meter_Time: datetime | None
    RMS_Watts_Max_Demand: float
    Max_Demand_Period: int
    Max_Demand_Rst: int
    CT_Ratio: int
    CF_Ratio: int
    Meter_Status_Code: str
    Meter_Status_Code_A: str
    Meter_Status_Code_B: str
    Meter_Status_Code_C: str
    Request_Type: str


@dataclass(frozen=True, slots=True)
class CosTheta:
    """A decoded Cos_Theta field: the power factor (0-1) and whether it leads or lags."""

    value: float
    kind: PowerFactorKind

    @property
    def signed(self) -> float:
        """Power factor with a sign: negative when leading (the IEEE convention HA users see)."""
        return -self.value if self.kind is PowerFactorKind.LEADING else self.value


def decode_cos_theta(text: str) -> CosTheta:
    """Decode ``"C087"`` → 0.87 leading, ``"L095"`` → 0.95 lagging, ``" 100"`` → 1.00."""
    kind = {"C": PowerFactorKind.LEADING, "L": PowerFactorKind.LAGGING, " ": PowerFactorKind.UNITY}
    if len(text) != 4 or text[0] not in kind or not text[1:].isdigit() or not text.isascii():
        raise ValueError(f"not a Cos_Theta field: {text!r}")
    return CosTheta(int(text[1:]) / 100, kind[text[0]])


# State_Out: 1 OffOff, 2 OffOn, 3 OnOff, 4 OnOn; the first word is output (relay) 1.
_RELAYS_BY_STATE_OUT = {1: (False, False), 2: (False, True), 3: (True, False), 4: (True, True)}


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One meter read: its address and version, the decoded values, and the raw frames."""

    address: str
    version: MeterVersion
    values: MeterValues
    frames: tuple[bytes, ...] = field(repr=False)

    @property
    def has_block_b(self) -> bool:
        """Whether a v4 reading includes block B (tariffs, ratios, max demand)."""
        return self.version is MeterVersion.V3 or "CT_Ratio" in self.values

    @property
    def relays_closed(self) -> tuple[bool, bool] | None:
        """(relay 1, relay 2) closed, from State_Out; None for v3 or an unknown code."""
        state = self.values.get("State_Out")
        return _RELAYS_BY_STATE_OUT.get(state) if isinstance(state, int) else None

    @property
    def inputs_low(self) -> tuple[bool, bool, bool] | None:
        """v4 pulse-input levels (True = low/closed) from State_Inputs 0-7; None otherwise."""
        state = self.values.get("State_Inputs")
        if self.version is not MeterVersion.V4 or not isinstance(state, int) or not 0 <= state <= 7:
            return None
        return (bool(state & 4), bool(state & 2), bool(state & 1))

    def cos_theta(self, line: int) -> CosTheta | None:
        """Return the decoded power factor of ``line`` (1-3)."""
        text = self.values.get(f"Cos_Theta_Ln_{line}")
        return decode_cos_theta(text) if isinstance(text, str) else None

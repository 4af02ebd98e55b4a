"""One simulated Omnimeter: its registers, how they evolve with time, and its reply frames."""

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from custom_components.energy_local.ekm.address import normalize_address
from custom_components.energy_local.ekm.frames import DEFAULT_PASSWORD, ReadBlock
from custom_components.energy_local.ekm.models import MeterVersion, Value, decode_cos_theta
from custom_components.energy_local.ekm.parse import build_reply

from .clock import SimClock

V4_MODEL = b"\x10\x24"
V4_FIRMWARE = b"\x45"
V3_MODEL = b"\x10\x17"
V3_FIRMWARE = b"\x15"

# State_Watts_Dir codes: lines 1, 2, 3 forward (F) or reverse (R).
_DIRECTION_CODES = ("FFF", "FFR", "FRF", "RFF", "FRR", "RFR", "RRF", "RRR")
_PULSE_COUNT_WRAP = 10**8  # the register holds 8 digits
_LINE_FREQ = 60.0
_MAX_LINE_WATTS = 1_000_000
_MAX_VOLTS = 900.0
_MAX_AMPS = 9999.9  # 5 characters in tenths
_MAX_VAR = 999_999  # 7 characters with a sign
_KWH_DIGITS = 8


@dataclass(slots=True)
class LineConfig:
    """One measured line (phase): how much power flows, which way, at what voltage and PF."""

    watts: float = 1000.0
    """Mean power magnitude in W (each update jitters around it)."""
    exporting: bool = False
    """True when power flows back to the grid (solar): reverse registers rise."""
    power_factor: str = "L095"
    """Cos_Theta text: 'L' lagging, 'C' leading or ' ' unity, then PF x 100 (e.g. 'C087')."""
    volts: float = 120.0
    """Nominal RMS voltage."""

    def __post_init__(self) -> None:
        """Reject values the meter could not report."""
        decode_cos_theta(self.power_factor)  # raises ValueError for a malformed string
        # The registers hold at most 7 digits of watts and 999.9 V.
        if not 0 <= self.watts <= _MAX_LINE_WATTS or not 0 < self.volts <= _MAX_VOLTS:
            raise ValueError(f"line needs 0-1e6 W and 0-900 V, got {self}")


def default_lines(rng: random.Random) -> list[LineConfig]:
    """Plausible split-phase house: two loaded 120 V legs and a lightly loaded third line."""
    return [
        LineConfig(watts=round(1200 * rng.uniform(0.8, 1.2)), power_factor="L095"),
        LineConfig(watts=round(800 * rng.uniform(0.8, 1.2)), power_factor="L098"),
        LineConfig(watts=round(300 * rng.uniform(0.8, 1.2)), power_factor=" 100"),
    ]


class SimMeter:
    """A simulated Omnimeter v3 or v4.

    Energy, pulse counts and max demand move with simulated time whenever the meter is read
    (or :meth:`update` is called). Forward and reverse energy are integrated per line; EKM's
    ``kWh_Tot``, ``kWh_Ln_N``, ``kWh_Tariff_1`` and ``kWh_Rst`` count both directions
    (total = forward + reverse), the ``Rev_*`` registers count reverse only.
    """

    def __init__(
        self,
        address: int | str,
        version: MeterVersion | int,
        clock: SimClock,
        *,
        lines: list[LineConfig] | None = None,
        kwh_scale: int = 1,
        password: str = DEFAULT_PASSWORD,
        clock_offset: timedelta = timedelta(0),
        pulse_rates: tuple[float, float, float] = (0.5, 0.1, 0.0),
        initial_kwh: float = 1234.5,
        jitter: float = 0.03,
        ct_ratio: int = 200,
        rng: random.Random | None = None,
    ) -> None:
        """Create a meter; ``pulse_rates`` are input closures per simulated second."""
        self.address = normalize_address(address)
        self.version = MeterVersion(version)
        if not 0 <= kwh_scale <= 9:
            raise ValueError(f"kWh_Scale is one digit, got {kwh_scale}")
        if self.version is MeterVersion.V3 and kwh_scale != 1:
            raise ValueError("v3 meters have no kWh_Scale (their registers are always tenths)")
        if len(password) != 8 or not password.isdigit():
            raise ValueError(f"meter password must be 8 digits, got {password!r}")
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(self.address)
        self.lines = lines if lines is not None else default_lines(self.rng)
        if len(self.lines) != 3:
            raise ValueError("an Omnimeter reports exactly 3 lines")
        self.kwh_scale = kwh_scale
        self.password = password
        self.clock_offset = clock_offset
        self.pulse_rates = list(pulse_rates)
        self.jitter = jitter
        self.silent = False
        """An unplugged meter hears nothing and answers nothing."""

        # Settable registers (W1 commands).
        self.ct_ratio = ct_ratio
        self.pulse_ratios = [1, 1, 1]
        self.cf_ratio = 800
        self.max_demand_period = 1
        self.max_demand_reset_interval = 0
        self.stored_settings: dict[str, str] = {}
        """Raw data of writes that are only stored (schedules, seasons, holidays, LCD…)."""

        # Relays (v4): closed or open, and when a timed state reverts (simulated seconds).
        self.relay_closed = [False, False]
        self.relay_revert_at: list[float | None] = [None, None]

        # Energy accumulators in kWh; per line, forward and reverse separately.
        share = initial_kwh / 3
        self.forward_kwh = [share, share, share]
        self.reverse_kwh = [initial_kwh / 10 if line.exporting else 0.0 for line in self.lines]
        total = sum(self.forward_kwh) + sum(self.reverse_kwh)
        # Tariffs 2-4 hold what accrued before the simulation; new energy goes to tariff 1.
        self.tariff_base = [0.2 * total, 0.1 * total, 0.05 * total]
        reverse = sum(self.reverse_kwh)
        self.rev_tariff_base = [0.2 * reverse, 0.1 * reverse, 0.05 * reverse]
        self.resettable_kwh = total / 2
        self.resettable_rev_kwh = reverse / 2
        self.reactive_kvarh = initial_kwh / 5
        self.pulse_counts = [1000.0, 200.0, 0.0]
        self.max_demand_w = 0.0

        # Instantaneous readings, refreshed on every update.
        self.watts = [float(line.watts) for line in self.lines]
        self.volts = [line.volts for line in self.lines]
        self.line_freq = _LINE_FREQ
        self._last_update = clock.now()
        self.update()

    # --- time evolution --------------------------------------------------------------------

    def update(self) -> None:
        """Integrate energy and pulses up to now and draw new instantaneous readings."""
        now = self.clock.now()
        hours = max(0.0, now - self._last_update) / 3600
        self._last_update = now
        for line, watts in enumerate(self.watts):
            kwh = watts * hours / 1000
            if self.lines[line].exporting:
                self.reverse_kwh[line] += kwh
                self.resettable_rev_kwh += kwh
            else:
                self.forward_kwh[line] += kwh
            self.resettable_kwh += kwh  # both directions, like kWh_Tot
            self.reactive_kvarh += abs(self._reactive(line)) * hours / 1000
        for pulse_input, rate in enumerate(self.pulse_rates):
            seconds = hours * 3600
            self.pulse_counts[pulse_input] += rate * seconds / self.pulse_ratios[pulse_input]
        self._settle_relays(now)
        jitter = self.jitter
        self.watts = [
            max(0.0, line.watts * (1 + jitter * self.rng.uniform(-1, 1))) for line in self.lines
        ]
        self.volts = [line.volts * (1 + 0.005 * self.rng.uniform(-1, 1)) for line in self.lines]
        self.line_freq = _LINE_FREQ + self.rng.uniform(-0.02, 0.02)
        self.max_demand_w = max(self.max_demand_w, sum(self.watts))

    def _settle_relays(self, now: float) -> None:
        for relay, revert_at in enumerate(self.relay_revert_at):
            if revert_at is not None and now >= revert_at:
                self.relay_closed[relay] = not self.relay_closed[relay]
                self.relay_revert_at[relay] = None

    def _pf(self, line: int) -> float:
        return decode_cos_theta(self.lines[line].power_factor).value

    def _reactive(self, line: int) -> float:
        """VAR of a line: positive lagging, negative leading (EKM's sign is undocumented)."""
        text = self.lines[line].power_factor
        pf = self._pf(line)
        if text[0] == " " or pf <= 0 or pf >= 1:
            return 0.0
        var = self.watts[line] * math.tan(math.acos(pf))
        return -var if text[0] == "C" else var

    # --- commands --------------------------------------------------------------------------

    def set_relay(self, relay: int, closed: bool, seconds: int) -> None:
        """Switch relay 1 or 2; ``seconds`` > 0 holds the state that long, then reverts."""
        index = relay - 1
        self.relay_closed[index] = closed
        self.relay_revert_at[index] = self.clock.now() + seconds if seconds else None

    def relays(self) -> tuple[bool, bool]:
        """(relay 1 closed, relay 2 closed) now, timed states already reverted."""
        self._settle_relays(self.clock.now())
        return (self.relay_closed[0], self.relay_closed[1])

    def meter_time(self) -> datetime:
        """The meter's clock: simulated wall-clock time plus this meter's offset."""
        return self.clock.wall() + self.clock_offset

    def set_meter_time(self, when: datetime, *, lead: float = 0.0) -> None:
        """Set the meter clock to ``when`` as of ``lead`` simulated seconds from now.

        The clock then runs on from ``when`` (its display shows whole seconds).
        """
        self.clock_offset = when - (self.clock.wall() + timedelta(seconds=lead))

    def zero_resettable(self) -> None:
        """Zero kWh_Rst and Rev_kWh_Rst (after accruing energy up to now)."""
        self.update()
        self.resettable_kwh = 0.0
        self.resettable_rev_kwh = 0.0

    def reset_max_demand(self) -> None:
        """Restart the max-demand register from zero."""
        self.max_demand_w = 0.0

    # --- values and frames -----------------------------------------------------------------

    @property
    def state_out(self) -> int:
        """State_Out: 1 OffOff, 2 OffOn, 3 OnOff, 4 OnOn (relay 1 is the first word)."""
        relay_1, relay_2 = self.relays()
        return 1 + (2 if relay_1 else 0) + (1 if relay_2 else 0)

    @property
    def state_watts_dir(self) -> int:
        """State_Watts_Dir 1-8 from which lines export."""
        pattern = "".join("R" if line.exporting else "F" for line in self.lines)
        return _DIRECTION_CODES.index(pattern) + 1

    def _decimals(self) -> int:
        if self.version is MeterVersion.V3:
            return 1
        return {0: 0, 1: 1, 2: 2}.get(self.kwh_scale, 0)  # other codes read as ÷1

    def _counted(self, kwh: float) -> float:
        """Energy in whole register steps (0.1 kWh at scale 1), as the meter counts it.

        Forward and reverse are counted in steps before they are added, so kWh_Tot always
        moves with Rev_kWh_Tot and kWh_Tot - Rev_kWh_Tot never dips by a rounding step.
        """
        steps: int = 10 ** self._decimals()
        return math.floor(kwh * steps + 1e-9) / steps

    def _energy(self, kwh: float) -> float:
        """An energy register's value: like the meter's, it rolls over when its digits fill."""
        return kwh % float(10 ** (_KWH_DIGITS - self._decimals()))

    def _var(self, line: int) -> int:
        return max(-_MAX_VAR, min(_MAX_VAR, round(self._reactive(line))))

    def values(self) -> dict[str, Value]:
        """Every register as EKM names it, at the last :meth:`update` (no time passes here)."""
        counted = self._counted
        total_per_line = [
            counted(f) + counted(r) for f, r in zip(self.forward_kwh, self.reverse_kwh, strict=True)
        ]
        rev_tot = counted(sum(self.reverse_kwh))
        kwh_tot = counted(sum(self.forward_kwh)) + rev_tot
        energy = self._energy
        values: dict[str, Value] = {
            "kWh_Tot": energy(kwh_tot),
            "Rev_kWh_Tot": energy(rev_tot),
            "kWh_Tariff_1": energy(kwh_tot - sum(self.tariff_base)),
            "Rev_kWh_Tariff_1": energy(rev_tot - sum(self.rev_tariff_base)),
            "Reactive_Energy_Tot": energy(self.reactive_kvarh),
            "kWh_Rst": energy(self.resettable_kwh),
            "Rev_kWh_Rst": energy(self.resettable_rev_kwh),
            "RMS_Watts_Tot": sum(round(w) for w in self.watts),
            "Reactive_Pwr_Tot": max(-_MAX_VAR, min(_MAX_VAR, sum(self._var(n) for n in range(3)))),
            "Line_Freq": round(self.line_freq, 2),
            "State_Inputs": 0,
            "State_Watts_Dir": self.state_watts_dir,
            "State_Out": self.state_out,
            "Meter_Time": self.meter_time(),
            "RMS_Watts_Max_Demand": round(self.max_demand_w, 1),
            "Max_Demand_Period": self.max_demand_period,
            "Max_Demand_Rst": self.max_demand_reset_interval,
            "CT_Ratio": self.ct_ratio,
            "CF_Ratio": self.cf_ratio,
        }
        for tariff in (2, 3, 4):
            values[f"kWh_Tariff_{tariff}"] = energy(self.tariff_base[tariff - 2])
            values[f"Rev_kWh_Tariff_{tariff}"] = energy(self.rev_tariff_base[tariff - 2])
        for n in (1, 2, 3):
            line = n - 1
            pf = self._pf(line)
            volts = self.volts[line]
            amps = self.watts[line] / (volts * pf) if pf else 0.0
            values[f"kWh_Ln_{n}"] = energy(total_per_line[line])
            values[f"Rev_kWh_Ln_{n}"] = energy(counted(self.reverse_kwh[line]))
            values[f"RMS_Volts_Ln_{n}"] = round(volts, 1)
            values[f"Amps_Ln_{n}"] = round(min(amps, _MAX_AMPS), 1)
            values[f"RMS_Watts_Ln_{n}"] = round(self.watts[line])
            values[f"Cos_Theta_Ln_{n}"] = self.lines[line].power_factor
            values[f"Reactive_Pwr_Ln_{n}"] = self._var(line)
            values[f"Pulse_Cnt_{n}"] = int(self.pulse_counts[line]) % _PULSE_COUNT_WRAP
            values[f"Pulse_Ratio_{n}"] = self.pulse_ratios[line]
        return values

    def reply(self, block: ReadBlock | None) -> bytes:
        """Update, then build the 255-byte reply to a read (``None`` = v3 read)."""
        return self.reply_as(block, self.address)

    def reply_as(self, block: ReadBlock | None, address: str) -> bytes:
        """Like :meth:`reply` but echoing ``address`` (for the wrong-address fault)."""
        self.update()
        if self.version is MeterVersion.V3:
            return build_reply(self.values(), address, None, model=V3_MODEL, firmware=V3_FIRMWARE)
        return build_reply(
            self.values(),
            address,
            block if block is not None else ReadBlock.A,
            model=V4_MODEL,
            firmware=V4_FIRMWARE,
            kwh_scale=self.kwh_scale,
        )

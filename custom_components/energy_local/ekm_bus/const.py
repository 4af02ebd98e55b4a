"""Constants of the EKM bus family: bus options, meter and ioStack subentries, actions."""

from datetime import timedelta
from enum import StrEnum
from typing import Final

# EKM bus entry
CONF_PORT: Final = "port"  # the usb integration's serial-port consumer view looks for "port"
CONF_POLL_INTERVAL: Final = "poll_interval"
CONF_BLOCK_B_EVERY: Final = "block_b_every"
DEFAULT_POLL_INTERVAL: Final = 10  # seconds: 8 v4 meters take ~5 s of wire time
MIN_POLL_INTERVAL: Final = 2
MAX_POLL_INTERVAL: Final = 3600
DEFAULT_BLOCK_B_EVERY: Final = 1  # read block B every cycle
# A device (or the whole port) is shown unavailable only after this many failed polls in a row:
# on a noisy line one lost reply is normal, and the last values are still the meter's.
CONF_UNAVAILABLE_AFTER: Final = "unavailable_after"
DEFAULT_UNAVAILABLE_AFTER: Final = 3
MAX_UNAVAILABLE_AFTER: Final = 100
# While the port is missing it is tried this often (capped by the poll interval).
PORT_RETRY: Final = timedelta(seconds=1)
# The least time between the end of one cycle and the start of the next.
MIN_POLL_GAP: Final = timedelta(seconds=0.5)
# Meters that failed a cycle are tried again while the cycle stays within this share of the
# poll interval; one more v4 A+B read costs about this much bus time. A meter that was
# answering gets up to RETRY_ROUNDS more tries (after an outage every meter's values must be
# back within the interval), one that has been silent for a while only one.
RETRY_BUDGET: Final = 0.85
RETRY_COST: Final = timedelta(seconds=0.7)
RETRY_ROUNDS: Final = 8
# A timed relay reverts on its own: read the meter back this long after it should have.
RELAY_REVERT_MARGIN: Final = timedelta(seconds=0.5)

# EKM meter subentry
SUBENTRY_METER: Final = "meter"
CONF_ADDRESS: Final = "address"
CONF_VERSION: Final = "version"
CONF_PASSWORD: Final = "password"  # noqa: S105  (a key name, not a password)
CONF_PULSE_INPUTS: Final = "pulse_inputs"
CONF_PULSE_KIND: Final = "kind"
CONF_PULSE_FACTOR: Final = "factor"


class PulseKind(StrEnum):
    """What a meter pulse input counts."""

    NONE = "none"
    WATER = "water"
    GAS = "gas"
    ENERGY = "energy"


# EKM ioStack subentry (address as for meters; pulse inputs as for meters, 4 of them)
SUBENTRY_IOSTACK: Final = "iostack"
CONF_NAME: Final = "name"
CONF_ANALOG_INPUTS: Final = "analog_inputs"
CONF_SCALE: Final = "scale"
CONF_OFFSET: Final = "offset"
CONF_UNIT: Final = "unit"

# Units a pulse stands for, per kind (the factor is "how much one pulse is" in this unit).
PULSE_UNITS: Final = {PulseKind.WATER: "L", PulseKind.GAS: "m³", PulseKind.ENERGY: "kWh"}

# Actions
SERVICE_CLOSE_RELAY_FOR: Final = "close_relay_for"
SERVICE_SET_METER_TIME: Final = "set_meter_time"
SERVICE_RESET_RESETTABLE_ENERGY: Final = "reset_resettable_energy"
SERVICE_RESET_MAX_DEMAND: Final = "reset_max_demand"
ATTR_RELAY: Final = "relay"
ATTR_SECONDS: Final = "seconds"

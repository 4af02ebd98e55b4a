"""Constants of the integration as a whole: its domain and the kinds of config entry."""

from enum import StrEnum
from typing import Final

DOMAIN: Final = "energy_local"

# Config entry kinds: one entry per EKM bus (serial port); one per Powersensor home.
# Only families.py reads it back (the one table from entry type to device family).
CONF_ENTRY_TYPE: Final = "entry_type"


class EntryType(StrEnum):
    """What a config entry stands for."""

    EKM_BUS = "ekm_bus"
    POWERSENSOR = "powersensor"

"""Constants of the Powersensor home family: entry data and options keys, timings."""

from typing import Final

CONF_PLUGS: Final = "plugs"
CONF_HOST: Final = "host"
CONF_PS_PORT: Final = "port"
CONF_ROLES: Final = "roles"
CONF_POWER_INTERVAL: Final = "power_interval"
DEFAULT_POWER_INTERVAL: Final = 10  # seconds between power writes unless it changes a lot
POWERSENSOR_HOME_ID: Final = "powersensor_home"
ROLE_AUTO: Final = "auto"
ROLE_CHOICES: Final = (ROLE_AUTO, "house-net", "solar", "water", "appliance")
PROBE_SECONDS: Final = 5.0  # plugs push their own reading about once a second
MAX_ROLE_FIELDS: Final = 12  # sensors whose role the options form offers (a home has a few)

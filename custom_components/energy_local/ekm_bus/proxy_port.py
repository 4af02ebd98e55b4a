"""ESPHome serial proxy ports in the bus flow: which error a proxy port that would not open is.

Home Assistant's ESPHome integration lists a device's serial proxies in the port selector as
``esphome-hass://esphome/<entry id>?port_name=<proxy>``; serialx opens them through that
entry's API connection. A bare ``esphome://host:port/?port_name=<proxy>`` (serialx's own
transport, its own API connection) works too.
"""

import errno
import importlib.util

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from yarl import URL

from ..ekm import EkmPortError

ESPHOME_DOMAIN = "esphome"
HASS_SCHEME = "esphome-hass"
SERIALX_SCHEME = "esphome"


def esphome_api_installed() -> bool:
    """Whether aioesphomeapi is there (Home Assistant installs it with its ESPHome integration).

    Without it serialx registers no ``esphome://`` transport and would take the URL for a
    device path.
    """
    return importlib.util.find_spec("aioesphomeapi") is not None


def esphome_entry_error(hass: HomeAssistant, port: str) -> str | None:
    """For an ESPHome proxy port: why it cannot work as it is, or None to try opening it.

    Checked before opening: without a loaded ESPHome entry serialx has no API connection to
    use for ``esphome-hass://`` (and without the ESPHome integration not even the URL scheme).
    """
    url = URL(port)
    if url.scheme == SERIALX_SCHEME and not esphome_api_installed():
        return "esphome_unavailable"
    if url.scheme != HASS_SCHEME:
        return None
    entry = hass.config_entries.async_get_entry(url.path.lstrip("/"))
    if entry is None or entry.domain != ESPHOME_DOMAIN:
        return "esphome_proxy_not_found"
    if entry.state is not ConfigEntryState.LOADED:
        return "esphome_offline"
    return None


def proxy_open_error(err: EkmPortError) -> str:
    """The error key for a serial proxy port that would not open."""
    cause = err.__cause__
    if isinstance(cause, OSError) and cause.errno == errno.EBUSY:
        return "port_busy"  # another client (or bus) subscribed to the proxy
    if type(cause) is ValueError:
        return "esphome_proxy_not_found"  # serialx: the device has no proxy of that name
    # The device does not answer, refused the connection or dropped it while we set up.
    return "esphome_offline"

"""The plugs of a Powersensor home: one client per plug, zeroconf, entry updates, leases.

A plug serves five subscribers and keeps sending to one that vanished until its lease ends, so
every client unsubscribes (``subscribe(0)``) when the entry unloads and when Home Assistant
stops, once. A plug that zeroconf announces again (it rebooted, or its address changed) is
resubscribed at once instead of at the next lease renewal.
"""

import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from homeassistant.components import zeroconf
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback

from ..powersensor import (
    DiscoveredPlug,
    DuplicateFilter,
    EventListener,
    LinkStatus,
    LinkTiming,
    PlugBrowser,
    PlugClient,
)
from .const import CONF_HOST, CONF_PLUGS, CONF_PS_PORT

_LOGGER = logging.getLogger(__name__)

RAW_KEPT: Final = 25  # recent raw lines per plug, for diagnostics
LINK_TIMING: LinkTiming | None = None  # the library's defaults; tests make them faster


class PlugFleet:
    """Every plug client of one home entry, for the entry's life."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        on_event: EventListener,
        on_status: Callable[[str, LinkStatus], None],
    ) -> None:
        """Prepare; :meth:`async_start` subscribes. ``on_status`` gets (plug MAC, status)."""
        self._hass = hass
        self._entry = entry
        self._on_event = on_event
        self._on_status = on_status
        # One filter for all plugs: a sensor heard by two plugs counts once.
        self.duplicates = DuplicateFilter()
        self.clients: dict[str, PlugClient] = {}
        self.addresses: dict[str, tuple[str, int]] = {}
        self.raw_lines: dict[str, deque[str]] = {}
        self._browser: PlugBrowser | None = None
        self._unsub_stop: CALLBACK_TYPE | None = None
        self._stopped = False

    async def async_start(self) -> None:
        """Subscribe to every plug of the entry; watch zeroconf and Home Assistant's stop."""
        for mac, address in self._entry.data.get(CONF_PLUGS, {}).items():
            self._start_client(mac, address[CONF_HOST], int(address[CONF_PS_PORT]))
        self._unsub_stop = self._hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_hass_stopping
        )
        aiozc = await zeroconf.async_get_async_instance(self._hass)
        self._browser = PlugBrowser(aiozc, on_found=self._on_plug_found)
        await self._browser.start()

    async def _async_hass_stopping(self, _event: Event) -> None:
        self._unsub_stop = None  # a listen_once listener is gone once called
        await self.async_stop()

    async def async_stop(self) -> None:
        """Unsubscribe from every plug and close every socket (once: stop, then unload)."""
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        if self._stopped:
            return
        self._stopped = True
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None
        for client in self.clients.values():
            await client.stop()
        self.clients.clear()

    def _start_client(self, mac: str, host: str, port: int) -> None:
        client = PlugClient(
            host,
            port,
            mac=mac,
            timing=LINK_TIMING,
            duplicate_filter=self.duplicates,
            on_raw_line=partial(self._raw_line, mac),
        )
        client.add_event_listener(self._on_event)
        client.add_status_listener(partial(self._on_status, mac))
        self.clients[mac] = client
        self.addresses[mac] = (host, port)
        client.start()

    async def async_sync(self) -> list[str]:
        """Follow the entry's plug list: start new plugs, move plugs whose address changed.

        Returns the MACs of the plugs (re)started.
        """
        started: list[str] = []
        if self._stopped:
            return started
        for mac, address in self._entry.data.get(CONF_PLUGS, {}).items():
            wanted = (address[CONF_HOST], int(address[CONF_PS_PORT]))
            if self.addresses.get(mac) == wanted:
                continue
            if (old := self.clients.pop(mac, None)) is not None:
                await old.stop()
            _LOGGER.info("Powersensor plug %s at %s:%s", mac, *wanted)
            self._start_client(mac, *wanted)
            started.append(mac)
        return started

    async def async_forget(self, mac: str) -> None:
        """Stop and forget plug ``mac`` (the user removed it)."""
        if (client := self.clients.pop(mac, None)) is not None:
            await client.stop()
        self.addresses.pop(mac, None)
        self.raw_lines.pop(mac, None)

    @callback
    def _on_plug_found(self, plug: DiscoveredPlug) -> None:
        """Zeroconf saw a plug: a known one is resubscribed now, a new or moved one stored."""
        plugs = dict(self._entry.data.get(CONF_PLUGS, {}))
        stored = {CONF_HOST: plug.host, CONF_PS_PORT: plug.port}
        if plugs.get(plug.mac) == stored:
            if (client := self.clients.get(plug.mac)) is not None:
                client.plug_announced()
            return
        plugs[plug.mac] = stored
        self._hass.config_entries.async_update_entry(
            self._entry, data={**self._entry.data, CONF_PLUGS: plugs}
        )

    @callback
    def _raw_line(self, plug: str, line: bytes) -> None:
        self.raw_lines.setdefault(plug, deque(maxlen=RAW_KEPT)).append(
            line.decode("utf-8", "replace")
        )

    def diagnostics(self) -> dict[str, Any]:
        """Per plug: address, link state, statistics, recent raw messages."""
        return {
            mac: {
                "address": f"{host}:{port}",
                "state": self.clients[mac].state.value if mac in self.clients else None,
                "statistics": self.clients[mac].stats.as_dict() if mac in self.clients else {},
                "recent_raw_messages": list(self.raw_lines.get(mac, ())),
            }
            for mac, (host, port) in self.addresses.items()
        }

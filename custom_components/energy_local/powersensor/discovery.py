"""Finding plugs by zeroconf: browsing ``_powersensor._udp.local.`` and ``_tcp``.

Zeroconf works on a caller's :class:`~zeroconf.asyncio.AsyncZeroconf` (Home Assistant passes
its shared one), which is never closed here. A plug is known by its TXT ``id``: its MAC, 12
lowercase hex digits, the same MAC its own readings carry.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Final

from zeroconf import BadTypeInNameException, ServiceInfo, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from .const import SERVICE_TYPE_TCP, SERVICE_TYPE_UDP
from .discovered import DiscoveredPlug, normalize_mac
from .link import Transport

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS: Final = 3000
"""How long to wait for a plug's records when they are not cached."""


def transport_of(service_type: str) -> Transport:
    """Return the transport a zeroconf service type advertises."""
    return Transport.TCP if service_type.lower() == SERVICE_TYPE_TCP else Transport.UDP


def plug_from_service_info(info: ServiceInfo) -> DiscoveredPlug | None:
    """Return the plug a resolved zeroconf record describes, or ``None`` if it is unusable.

    Needs an address, a port and a TXT ``id`` that is a MAC; anything else is logged (once
    per lookup, at debug level: other devices may use the service type) and ignored.
    """
    addresses = info.parsed_addresses()  # IPv4 first
    raw_id = info.properties.get(b"id")
    mac = None
    if raw_id is not None:
        with contextlib.suppress(UnicodeDecodeError):
            mac = normalize_mac(raw_id.decode("utf-8"))
    if not addresses or info.port is None or mac is None:
        _LOGGER.debug(
            "Ignoring zeroconf record %s: addresses=%s port=%s id=%r",
            info.name,
            addresses,
            info.port,
            raw_id,
        )
        return None
    return DiscoveredPlug(
        mac=mac,
        host=addresses[0],
        port=info.port,
        transport=transport_of(info.type),
        name=info.name,
        addresses=tuple(addresses),
    )


type PlugHandler = Callable[[DiscoveredPlug], None]


class PlugBrowser:
    """Keeps browsing for plugs; reports each new or moved plug, and each plug that left."""

    def __init__(
        self,
        aiozc: AsyncZeroconf,
        *,
        on_found: PlugHandler,
        on_lost: PlugHandler | None = None,
        service_types: Iterable[str] = (SERVICE_TYPE_UDP, SERVICE_TYPE_TCP),
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
    ) -> None:
        """Prepare a browser on the caller's zeroconf instance (not closed by :meth:`stop`)."""
        self._aiozc = aiozc
        self._on_found = on_found
        self._on_lost = on_lost
        self._service_types = list(service_types)
        self._request_timeout_ms = request_timeout_ms
        self._browser: AsyncServiceBrowser | None = None
        self._plugs: dict[str, DiscoveredPlug] = {}
        self._lookups: dict[str, asyncio.Task[None]] = {}

    @property
    def plugs(self) -> list[DiscoveredPlug]:
        """Plugs currently advertised."""
        return list(self._plugs.values())

    async def start(self) -> None:
        """Start browsing."""
        if self._browser is None:
            self._browser = AsyncServiceBrowser(
                self._aiozc.zeroconf, self._service_types, handlers=[self.on_service_state_change]
            )

    async def stop(self) -> None:
        """Stop browsing and cancel pending lookups."""
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        lookups = list(self._lookups.values())
        self._lookups.clear()
        for task in lookups:
            task.cancel()
        await asyncio.gather(*lookups, return_exceptions=True)

    def on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        """Browser callback (on the event loop). Must not raise: the instance may be shared."""
        if state_change is ServiceStateChange.Removed:
            lookup = self._lookups.pop(name, None)
            if lookup is not None:
                lookup.cancel()
            plug = self._plugs.pop(name, None)
            if plug is not None and self._on_lost is not None:
                self._call(self._on_lost, plug)
            return
        if name in self._lookups:
            return  # a lookup is already waiting for this plug's records
        task = asyncio.get_running_loop().create_task(self._lookup(zeroconf, service_type, name))
        self._lookups[name] = task
        task.add_done_callback(lambda done: self._forget_lookup(name, done))

    def _forget_lookup(self, name: str, task: asyncio.Task[None]) -> None:
        if self._lookups.get(name) is task:
            del self._lookups[name]

    async def _lookup(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        info = await self.resolve(zeroconf, service_type, name)
        if info is None:
            return
        plug = plug_from_service_info(info)
        if plug is None:
            return
        if self._plugs.get(name) != plug:
            self._plugs[name] = plug
            self._call(self._on_found, plug)

    async def resolve(
        self, zeroconf: Zeroconf, service_type: str, name: str
    ) -> AsyncServiceInfo | None:
        """Return the service's records, from the cache or by asking the plug."""
        try:
            info = AsyncServiceInfo(service_type, name)
        except BadTypeInNameException:
            _LOGGER.debug("Ignoring zeroconf name %s: not a valid service name", name)
            return None
        if info.load_from_cache(zeroconf):
            return info
        if await info.async_request(zeroconf, self._request_timeout_ms):
            return info
        _LOGGER.debug("No zeroconf answer from %s", name)
        return None

    @staticmethod
    def _call(handler: PlugHandler, plug: DiscoveredPlug) -> None:
        try:
            handler(plug)
        except Exception:
            _LOGGER.exception("Powersensor discovery handler failed for %s", plug.mac)


async def discover_plugs(
    aiozc: AsyncZeroconf,
    seconds: float = 5.0,
    service_types: Iterable[str] = (SERVICE_TYPE_UDP, SERVICE_TYPE_TCP),
) -> list[DiscoveredPlug]:
    """Browse for ``seconds`` and return the plugs found, one entry per MAC and transport."""
    browser = PlugBrowser(aiozc, on_found=lambda _plug: None, service_types=service_types)
    await browser.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await browser.stop()
    found: dict[tuple[str, Transport], DiscoveredPlug] = {}
    for plug in browser.plugs:
        found.setdefault((plug.mac, plug.transport), plug)
    return sorted(found.values(), key=lambda plug: (plug.mac, plug.transport))

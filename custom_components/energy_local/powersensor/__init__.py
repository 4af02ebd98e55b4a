"""Powersensor local protocol: plug subscription over UDP/TCP, typed events, household view.

No Home Assistant imports: usable on its own, and by the command-line tool
``python -m custom_components.energy_local.powersensor``. Built from the documented behaviour of
powersensor-local 2.4.0 (same events, same household algorithm) without its defects.

Typical use::

    client = PlugClient("192.168.1.23", mac="246f280487a4")
    household = Household(with_solar=stored_flag)
    energy = MonotonicTotal.for_plug()  # one guard per published total
    client.add_event_listener(lambda event: handle(event, household.process(event)))
    client.start()
    ...
    client.plug_announced()  # zeroconf saw the plug (again): subscribe now
    ...
    await client.stop()  # subscribe(0): on unload and when the host stops
"""

from .client import EventListener, PlugClient, StatusListener
from .const import (
    DEFAULT_PORT,
    MAX_UDP_SUBSCRIBERS,
    SERVICE_TYPE_TCP,
    SERVICE_TYPE_UDP,
    subscribe_command,
)
from .dedup import DuplicateFilter
from .discovered import DiscoveredPlug, normalize_mac
from .discovery import PlugBrowser, discover_plugs, plug_from_service_info
from .events import (
    AverageFlow,
    AveragePower,
    AveragePowerComponents,
    BatteryLevel,
    EventKind,
    HouseholdEnergy,
    HouseholdEvent,
    HouseholdFlow,
    HouseholdPower,
    NowRelayingFor,
    PlugEvent,
    RadioSignalQuality,
    Reading,
    Role,
    SummationEnergy,
    SummationVolume,
    UncalibratedAverageReading,
)
from .household import Household, HouseholdStats
from .legacy_discovery import legacy_discover
from .link import LinkReason, LinkState, LinkStatus, LinkTiming, PlugLink, Transport
from .listener import UdpPlugLink
from .stats import PlugStats
from .tcp import TcpPlugLink
from .totals import (
    MAINS_MAX_WATTS,
    PLUG_MAX_WATTS,
    WATER_MAX_LITRES_PER_S,
    MonotonicTotal,
    TotalOutcome,
    TotalStats,
)
from .translate import InvalidMessageError, MessageError, UnknownMessageTypeError, translate_message

__all__ = [
    "DEFAULT_PORT",
    "MAINS_MAX_WATTS",
    "MAX_UDP_SUBSCRIBERS",
    "PLUG_MAX_WATTS",
    "SERVICE_TYPE_TCP",
    "SERVICE_TYPE_UDP",
    "WATER_MAX_LITRES_PER_S",
    "AverageFlow",
    "AveragePower",
    "AveragePowerComponents",
    "BatteryLevel",
    "DiscoveredPlug",
    "DuplicateFilter",
    "EventKind",
    "EventListener",
    "Household",
    "HouseholdEnergy",
    "HouseholdEvent",
    "HouseholdFlow",
    "HouseholdPower",
    "HouseholdStats",
    "InvalidMessageError",
    "LinkReason",
    "LinkState",
    "LinkStatus",
    "LinkTiming",
    "MessageError",
    "MonotonicTotal",
    "NowRelayingFor",
    "PlugBrowser",
    "PlugClient",
    "PlugEvent",
    "PlugLink",
    "PlugStats",
    "RadioSignalQuality",
    "Reading",
    "Role",
    "StatusListener",
    "SummationEnergy",
    "SummationVolume",
    "TcpPlugLink",
    "TotalOutcome",
    "TotalStats",
    "Transport",
    "UdpPlugLink",
    "UncalibratedAverageReading",
    "UnknownMessageTypeError",
    "discover_plugs",
    "legacy_discover",
    "normalize_mac",
    "plug_from_service_info",
    "subscribe_command",
    "translate_message",
]

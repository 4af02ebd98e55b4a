"""The Powersensor home: all plugs of a home, the sensors they relay, and the household view.

One object per Powersensor config entry. It owns one client (and one socket) per plug for the
entry's life, a duplicate filter shared by all plugs (a sensor heard by two plugs counts once),
the household view, and the persisted state that lets totals and roles survive restarts:
household counters, continuous device totals, each device's last reported role.
"""

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Final

from homeassistant.components import zeroconf
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from ..const import DOMAIN
from ..powersensor import (
    AverageFlow,
    AveragePower,
    AveragePowerComponents,
    BatteryLevel,
    DiscoveredPlug,
    DuplicateFilter,
    Household,
    HouseholdEnergy,
    HouseholdEvent,
    HouseholdFlow,
    HouseholdPower,
    LinkState,
    LinkStatus,
    LinkTiming,
    NowRelayingFor,
    PlugBrowser,
    PlugClient,
    PlugEvent,
    RadioSignalQuality,
    Role,
    SummationEnergy,
    SummationVolume,
)
from .const import CONF_HOST, CONF_PLUGS, CONF_PS_PORT, CONF_ROLES
from .totals import ContinuousTotal

_LOGGER = logging.getLogger(__name__)

PLUG: Final = "plug"
SENSOR: Final = "sensor"
HOUSEHOLD: Final = "household"
# A plug pushes its own reading about once a second, a sensor about every 30 s: silence beyond
# a few missed readings means the device is gone (flat battery, unplugged, out of range).
SILENCE: Final = {PLUG: 10.0, SENSOR: 100.0}
CHECK_EVERY: Final = timedelta(seconds=5)
SAVE_DELAY: Final = 30.0  # seconds: persisted totals lag the live ones by at most this
RAW_KEPT: Final = 25  # recent raw lines per plug, for diagnostics
JOULES_PER_KWH: Final = 3.6e6
STORE_VERSION: Final = 1
LINK_TIMING: LinkTiming | None = None  # the library's defaults; tests make them faster


def battery_percent(volts: float) -> int:
    """Sensor battery level from its voltage: 3.30 V empty, 4.15 V full (Powersensor's scale)."""
    return round(min(100.0, max(0.0, (volts - 3.3) / 0.85 * 100)))


@dataclass(slots=True)
class Device:
    """A plug or a relayed sensor, as far as it is known."""

    mac: str
    kind: str
    via: str | None = None
    reported_role: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    last_seen: float | None = None
    available: bool = False


type Listener = Callable[[], None]
type PowersensorConfigEntry = ConfigEntry[PowersensorHome]


class PowersensorHome:
    """Live state of one Powersensor home."""

    def __init__(self, hass: HomeAssistant, entry: PowersensorConfigEntry) -> None:
        """Prepare; :meth:`async_start` loads the stored state and subscribes to the plugs."""
        self.hass = hass
        self.entry = entry
        self.duplicates = DuplicateFilter()
        self.clients: dict[str, PlugClient] = {}
        self.addresses: dict[str, tuple[str, int]] = {}
        self.devices: dict[str, Device] = {}
        self.household = Household()
        self.household_power: dict[HouseholdFlow, float] = {}
        self.totals: dict[str, ContinuousTotal] = {}
        self.raw_lines: dict[str, deque[str]] = {}
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.powersensor.{entry.entry_id}"
        )
        self._listeners: dict[str, list[Listener]] = {}
        self._new_device_listeners: list[Callable[[str], None]] = []
        self._unsubs: list[CALLBACK_TYPE] = []
        self._browser: PlugBrowser | None = None

    # --- roles ---------------------------------------------------------------------------

    def role(self, mac: str) -> str | None:
        """A device's role: the user's choice, else the last role it reported."""
        chosen = self.entry.options.get(CONF_ROLES, {}).get(mac)
        if chosen:
            return str(chosen)
        device = self.devices.get(mac)
        return device.reported_role if device else None

    def sensor_macs(self) -> list[str]:
        """Every relayed sensor known so far."""
        return [mac for mac, dev in self.devices.items() if dev.kind == SENSOR]

    @property
    def has_solar(self) -> bool:
        """Whether the home has a solar sensor (its household solar entities exist)."""
        return self.household.with_solar or any(
            self.role(mac) == Role.SOLAR for mac in self.sensor_macs()
        )

    # --- lifecycle -----------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore stored state, subscribe to every plug, watch for more plugs and silence."""
        self._restore(await self._store.async_load() or {})
        for mac, address in self.entry.data.get(CONF_PLUGS, {}).items():
            self._start_client(mac, address[CONF_HOST], int(address[CONF_PS_PORT]))
        self._unsubs.append(async_track_time_interval(self.hass, self._check_silence, CHECK_EVERY))
        aiozc = await zeroconf.async_get_async_instance(self.hass)
        self._browser = PlugBrowser(aiozc, on_found=self._on_plug_found)
        await self._browser.start()

    async def async_stop(self) -> None:
        """Unsubscribe from every plug, close every socket, and save the totals now."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None
        for client in self.clients.values():
            await client.stop()
        self.clients.clear()
        await self._store.async_save(self._export())

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
        self._device(mac, PLUG, None)
        client.start()

    async def async_sync_plugs(self) -> None:
        """Follow the entry's plug list: start new plugs, move plugs whose address changed."""
        for mac, address in self.entry.data.get(CONF_PLUGS, {}).items():
            wanted = (address[CONF_HOST], int(address[CONF_PS_PORT]))
            if self.addresses.get(mac) == wanted:
                continue
            if (old := self.clients.pop(mac, None)) is not None:
                await old.stop()
            _LOGGER.info("Powersensor plug %s at %s:%s", mac, *wanted)
            self._start_client(mac, *wanted)

    async def async_forget(self, macs: set[str]) -> bool:
        """Forget devices the user removed; refuse a plug that is still sending."""
        if any(mac in self.devices and self.devices[mac].available for mac in macs):
            return False
        plugs = dict(self.entry.data.get(CONF_PLUGS, {}))
        for mac in macs:
            if (client := self.clients.pop(mac, None)) is not None:
                await client.stop()
            self.addresses.pop(mac, None)
            plugs.pop(mac, None)
            self.devices.pop(mac, None)
            for key in [k for k in self.totals if k.startswith(f"{mac}:")]:
                del self.totals[key]
        if plugs != self.entry.data.get(CONF_PLUGS, {}):
            self.hass.config_entries.async_update_entry(
                self.entry, data={**self.entry.data, CONF_PLUGS: plugs}
            )
        self._schedule_save()
        return True

    @callback
    def _on_plug_found(self, plug: DiscoveredPlug) -> None:
        """A plug advertised by zeroconf joins the home (or updates its address)."""
        plugs = dict(self.entry.data.get(CONF_PLUGS, {}))
        stored = {CONF_HOST: plug.host, CONF_PS_PORT: plug.port}
        if plugs.get(plug.mac) == stored:
            return
        plugs[plug.mac] = stored
        self.hass.config_entries.async_update_entry(
            self.entry, data={**self.entry.data, CONF_PLUGS: plugs}
        )

    # --- events --------------------------------------------------------------------------

    def _device(self, mac: str, kind: str, via: str | None, role: str | None = None) -> Device:
        device = self.devices.get(mac)
        if device is None:
            reported = role if role and role != Role.UNKNOWN else None
            device = self.devices[mac] = Device(mac, kind, via, reported)
            for listener in self._new_device_listeners:
                listener(mac)
        elif via is not None and device.via is None and device.kind == SENSOR:
            device.via = via
        return device

    @callback
    def _raw_line(self, plug: str, line: bytes) -> None:
        self.raw_lines.setdefault(plug, deque(maxlen=RAW_KEPT)).append(
            line.decode("utf-8", "replace")
        )

    @callback
    def _on_status(self, plug: str, status: LinkStatus) -> None:
        device = self.devices.get(plug)
        if status.state is LinkState.DISCONNECTED and device is not None and device.available:
            self._set_available(device, available=False, why=status.reason.value)

    @callback
    def _on_event(self, event: PlugEvent) -> None:
        if isinstance(event, NowRelayingFor):
            return  # a new sensor is announced; its data (with the relaying plug) follows
        mac, via = event.mac, event.via
        device = self._device(mac, SENSOR if via is not None else PLUG, via, event.role)
        device.last_seen = time.monotonic()
        if not device.available:
            self._set_available(device, available=True, why="data")
        role = event.role
        if role and role not in (Role.UNKNOWN, device.reported_role):
            device.reported_role = role
            self._schedule_save()
        self._apply(device, event)
        self._notify(mac)
        if isinstance(event, AveragePower | SummationEnergy):
            self._feed_household(event)

    def _apply(self, device: Device, event: PlugEvent) -> None:
        values = device.values
        if isinstance(event, AveragePower):
            values["power"] = event.watts
        elif isinstance(event, AveragePowerComponents):
            values["voltage"] = event.volts
            values["apparent_current"] = event.apparent_current
            values["active_current"] = event.active_current
            values["reactive_current"] = event.reactive_current
        elif isinstance(event, SummationEnergy):
            total = self.totals.setdefault(f"{device.mac}:energy", ContinuousTotal())
            joules = total.update(event.summation_joules, event.summation_resettime_utc)
            values["energy"] = joules / JOULES_PER_KWH
            self._schedule_save()
        elif isinstance(event, AverageFlow):
            values["flow"] = event.litres_per_minute
        elif isinstance(event, SummationVolume):
            total = self.totals.setdefault(f"{device.mac}:volume", ContinuousTotal())
            values["volume"] = total.update(event.summation_litres, event.summation_resettime_utc)
            self._schedule_save()
        elif isinstance(event, BatteryLevel):
            values["battery"] = battery_percent(event.volts)
        elif isinstance(event, RadioSignalQuality):
            values["rssi"] = event.average_rssi

    def _feed_household(self, event: AveragePower | SummationEnergy) -> None:
        role = self.role(event.mac)
        if role not in (Role.HOUSE_NET, Role.SOLAR):
            return
        if event.role != role:
            event = dataclasses.replace(event, role=role)
        for household_event in self.household.process(event):
            self._apply_household(household_event)
        self._notify(HOUSEHOLD)

    def _apply_household(self, event: HouseholdEvent) -> None:
        if isinstance(event, HouseholdPower):
            self.household_power[event.flow] = event.watts
        elif isinstance(event, HouseholdEnergy):
            total = self.totals.setdefault(f"{HOUSEHOLD}:{event.flow.value}", ContinuousTotal())
            total.update(event.summation_joules, event.summation_resettime_utc)
            self._schedule_save()

    def household_energy_kwh(self, flow: HouseholdFlow) -> float | None:
        """A household energy total in kWh (continuous across resets and restarts)."""
        total = self.totals.get(f"{HOUSEHOLD}:{flow.value}")
        value = total.value if total else None
        return None if value is None else value / JOULES_PER_KWH

    # --- availability --------------------------------------------------------------------

    @callback
    def _check_silence(self, _now: object = None) -> None:
        now = time.monotonic()
        for device in self.devices.values():
            limit = SILENCE[device.kind]
            if device.available and (device.last_seen is None or now - device.last_seen > limit):
                self._set_available(device, available=False, why=f"silent for {limit:.0f} s")

    def _set_available(self, device: Device, *, available: bool, why: str) -> None:
        device.available = available
        if available:
            _LOGGER.info("Powersensor %s %s is back", device.kind, device.mac)
        else:
            _LOGGER.warning("Powersensor %s %s is unavailable (%s)", device.kind, device.mac, why)
        self._notify(device.mac)
        if device.kind == SENSOR and self.role(device.mac) in (Role.HOUSE_NET, Role.SOLAR):
            self._notify(HOUSEHOLD)

    @property
    def household_seen(self) -> bool:
        """Whether the home has a mains sensor (its household entities exist)."""
        return (
            bool(self.household_power)
            or any(key.startswith(f"{HOUSEHOLD}:") for key in self.totals)
            or any(self.role(mac) == Role.HOUSE_NET for mac in self.sensor_macs())
        )

    def household_available(self) -> bool:
        """Household power is live while its mains sensor is."""
        return any(
            self.devices[mac].available
            for mac in self.sensor_macs()
            if self.role(mac) == Role.HOUSE_NET
        )

    def options_changed(self) -> None:
        """Roles or write rate changed: every entity re-reads (roles move household inputs)."""
        for key in list(self._listeners):
            self._notify(key)

    # --- listeners -----------------------------------------------------------------------

    def add_listener(self, key: str, listener: Listener) -> CALLBACK_TYPE:
        """Call ``listener`` when device ``key`` (a MAC, or "household") changes."""
        self._listeners.setdefault(key, []).append(listener)
        return lambda: self._listeners[key].remove(listener)

    def add_new_device_listener(self, listener: Callable[[str], None]) -> CALLBACK_TYPE:
        """Call ``listener`` with the MAC of each device seen for the first time."""
        self._new_device_listeners.append(listener)
        return lambda: self._new_device_listeners.remove(listener)

    def _notify(self, key: str) -> None:
        for listener in list(self._listeners.get(key, ())):
            listener()

    # --- persistence ---------------------------------------------------------------------

    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._export, SAVE_DELAY)

    def _export(self) -> dict[str, Any]:
        return {
            "household": self.household.export_state(),
            "totals": {key: total.export() for key, total in self.totals.items()},
            "devices": {
                mac: {"kind": dev.kind, "via": dev.via, "role": dev.reported_role}
                for mac, dev in self.devices.items()
            },
        }

    def _restore(self, data: dict[str, Any]) -> None:
        if "household" in data:
            try:
                self.household = Household.from_state(data["household"])
            except TypeError, ValueError, KeyError:
                _LOGGER.warning("Stored Powersensor household state unreadable; starting afresh")
        for key, total in data.get("totals", {}).items():
            self.totals[key] = ContinuousTotal.restore(total)
        for mac, info in data.get("devices", {}).items():
            if isinstance(info, dict) and info.get("kind") in (PLUG, SENSOR):
                device = Device(mac, info["kind"], info.get("via"), info.get("role"))
                if (energy := self.totals.get(f"{mac}:energy")) and energy.value is not None:
                    device.values["energy"] = energy.value / JOULES_PER_KWH
                if (volume := self.totals.get(f"{mac}:volume")) and volume.value is not None:
                    device.values["volume"] = volume.value
                self.devices[mac] = device

    def diagnostics(self) -> dict[str, Any]:
        """Plugs, devices, counters and recent raw messages, for the diagnostics download."""
        return {
            "plugs": {
                mac: {
                    "address": f"{host}:{port}",
                    "state": self.clients[mac].state.value if mac in self.clients else None,
                    "statistics": self.clients[mac].stats.as_dict() if mac in self.clients else {},
                    "recent_raw_messages": list(self.raw_lines.get(mac, ())),
                }
                for mac, (host, port) in self.addresses.items()
            },
            "devices": {
                mac: {
                    "kind": dev.kind,
                    "via": dev.via,
                    "role": self.role(mac),
                    "available": dev.available,
                    "values": dev.values,
                }
                for mac, dev in self.devices.items()
            },
            "household": {
                "with_solar": self.has_solar,
                "power": {flow.value: watts for flow, watts in self.household_power.items()},
                "stale_readings": dataclasses.asdict(self.household.stats),
            },
            "totals": {key: total.export() for key, total in self.totals.items()},
        }

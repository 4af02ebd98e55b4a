"""The Powersensor home's push coordinator: plug events in, one typed snapshot out.

One coordinator per Powersensor config entry. It never polls: each event a plug pushes is
mapped onto the device it came from (every total through its :class:`MonotonicTotal` guard),
the household view is fed, and a new :class:`HomeSnapshot` is published with
``async_set_updated_data``. Only the entities of the device that changed are called (the
listener context is the device's MAC, or "household"), so one datagram reaches its entities
through one registry. Restart state lives in :mod:`.store`, the plug clients in :mod:`.plugs`.
"""

import dataclasses
import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from ..powersensor import (
    AverageFlow,
    AveragePower,
    AveragePowerComponents,
    BatteryLevel,
    Household,
    HouseholdEnergy,
    HouseholdEvent,
    HouseholdFlow,
    HouseholdPower,
    LinkState,
    LinkStatus,
    MonotonicTotal,
    PlugClient,
    PlugEvent,
    RadioSignalQuality,
    Role,
    SummationEnergy,
    SummationVolume,
)
from ..powersensor.totals import DROPPED, TotalOutcome
from .const import CONF_PLUGS, CONF_ROLES
from .plugs import PlugFleet
from .snapshot import DeviceSnapshot, HomeSnapshot, HouseholdSnapshot
from .store import HOUSEHOLD, DeviceKind, HomeStore, StoredDevice, StoredHome, new_total, total_key
from .store import export as export_state

_LOGGER = logging.getLogger(__name__)

PLUG: Final = DeviceKind.PLUG
SENSOR: Final = DeviceKind.SENSOR
NEW_ENTITIES: Final = "new_entities"
"""Listener context called when a device or a device's first value of a kind appears."""
# A plug pushes its own reading about once a second, a sensor about every 30 s: silence beyond
# a few missed readings means the device is gone (flat battery, unplugged, out of range).
SILENCE: Final = {PLUG: 10.0, SENSOR: 100.0}
CHECK_EVERY: Final = timedelta(seconds=5)
JOULES_PER_KWH: Final = 3.6e6
MAX_SENSORS: Final = 64
"""Relayed sensors a home gets devices and entities for (a home has a few; a plug relaying
garbage MACs must not fill the registries). Beyond: ignored, logged once, counted."""
HOUSEHOLD_ROLES: Final = (Role.HOUSE_NET, Role.SOLAR)


def battery_percent(volts: float) -> int:
    """Sensor battery level from its voltage: 3.30 V empty, 4.15 V full (Powersensor's scale)."""
    return round(min(100.0, max(0.0, (volts - 3.3) / 0.85 * 100)))


def _kwh(total: MonotonicTotal | None) -> float | None:
    value = None if total is None else total.value
    return None if value is None else value / JOULES_PER_KWH


type PowersensorConfigEntry = ConfigEntry[PowersensorHome]


class PowersensorHome(DataUpdateCoordinator[HomeSnapshot]):
    """Live state of one Powersensor home, pushed by its plugs."""

    config_entry: PowersensorConfigEntry

    def __init__(self, hass: HomeAssistant, entry: PowersensorConfigEntry) -> None:
        """Prepare; :meth:`async_start` loads the stored state and subscribes to the plugs."""
        super().__init__(hass, _LOGGER, config_entry=entry, name="Powersensor home")
        self.entry = entry
        self.data = HomeSnapshot()
        self._store = HomeStore(hass, entry.entry_id)
        self._state = StoredHome()
        self._devices: dict[str, DeviceSnapshot] = {}
        self._last_seen: dict[str, float] = {}
        self._household_power: dict[HouseholdFlow, float] = {}
        self._household = HouseholdSnapshot()
        self._changed: frozenset[str] | None = None
        self._bounded_logged: set[str] = set()
        self._ignored_logged = False
        self.ignored_sensor_readings = 0
        """Readings of sensors beyond :data:`MAX_SENSORS` (not shown), for diagnostics."""
        self.plugs = PlugFleet(hass, entry, on_event=self._on_event, on_status=self._on_status)

    # --- what others read ----------------------------------------------------------------

    @property
    def clients(self) -> dict[str, PlugClient]:
        """The plug clients by MAC."""
        return self.plugs.clients

    @property
    def totals(self) -> dict[str, MonotonicTotal]:
        """Every guarded total by store key (``<mac>:energy``, ``household:<flow>``...)."""
        return self._state.totals

    @property
    def household(self) -> Household:
        """The household view."""
        return self._state.household

    def role(self, mac: str) -> str | None:
        """A device's role: the user's choice, else the last role it reported."""
        chosen = self.entry.options.get(CONF_ROLES, {}).get(mac)
        if chosen:
            return str(chosen)
        stored = self._state.devices.get(mac)
        return stored.reported_role if stored else None

    def sensor_macs(self) -> list[str]:
        """Every relayed sensor known so far."""
        return [mac for mac, dev in self._devices.items() if dev.kind is SENSOR]

    # --- lifecycle -----------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore stored state, subscribe to every plug, watch for more plugs and silence."""
        self._state = await self._store.async_load()
        self._restore_devices()
        for mac in self.entry.data.get(CONF_PLUGS, {}):
            self._device(mac, PLUG, None)
        self._publish(None)
        self.entry.async_on_unload(
            async_track_time_interval(self.hass, self._check_silence, CHECK_EVERY)
        )
        await self.plugs.async_start()

    async def async_stop(self) -> None:
        """Unsubscribe from every plug, close every socket, and save the totals now."""
        await self.plugs.async_stop()
        await self._store.async_save(self._export())

    async def async_entry_updated(self) -> None:
        """Plugs added or moved: follow them. Options changed: roles and entities re-read."""
        for mac in self.entry.data.get(CONF_PLUGS, {}):
            self._device(mac, PLUG, None)
        await self.plugs.async_sync()
        self._devices = {
            mac: dataclasses.replace(dev, role=self.role(mac)) for mac, dev in self._devices.items()
        }
        self._publish(None)

    async def async_forget(self, macs: set[str]) -> bool:
        """Forget devices the user removed; refuse a plug that is still sending."""
        if any(mac in self._devices and self._devices[mac].available for mac in macs):
            return False
        plugs = dict(self.entry.data.get(CONF_PLUGS, {}))
        for mac in macs:
            await self.plugs.async_forget(mac)
            plugs.pop(mac, None)
            self._devices.pop(mac, None)
            self._state.devices.pop(mac, None)
            self._last_seen.pop(mac, None)
            for key in [k for k in self._state.totals if k.startswith(f"{mac}:")]:
                del self._state.totals[key]
        if plugs != self.entry.data.get(CONF_PLUGS, {}):
            self.hass.config_entries.async_update_entry(
                self.entry, data={**self.entry.data, CONF_PLUGS: plugs}
            )
        self._schedule_save()
        self._publish(None)
        return True

    # --- publishing ----------------------------------------------------------------------

    async def _async_update_data(self) -> HomeSnapshot:
        """Nothing to poll: a refresh (``homeassistant.update_entity``) gives the snapshot."""
        return self.data

    def _publish(self, changed: Iterable[str] | None, *, household: bool = False) -> None:
        """Publish a new snapshot; call the listeners of ``changed`` (None: everyone)."""
        if household or changed is None:
            self._household = self._household_snapshot()
        self._changed = None if changed is None else frozenset(changed)
        try:
            self.async_set_updated_data(
                HomeSnapshot(
                    devices=MappingProxyType(dict(self._devices)), household=self._household
                )
            )
        finally:
            self._changed = None

    @callback
    def async_update_listeners(self) -> None:
        """Call only the listeners whose context changed (and those without a context)."""
        changed = self._changed
        for update_callback, context in list(self._listeners.values()):
            if changed is not None and context is not None and context not in changed:
                continue
            try:
                update_callback()
            except Exception:
                _LOGGER.exception("Powersensor home: listener %s failed", update_callback)

    def _household_snapshot(self) -> HouseholdSnapshot:
        energy = {
            flow: kwh
            for flow in HouseholdFlow
            if (kwh := _kwh(self._state.totals.get(total_key(HOUSEHOLD, flow.value)))) is not None
        }
        roles = [(dev.role, dev.available) for dev in self._devices.values() if dev.kind is SENSOR]
        return HouseholdSnapshot(
            seen=bool(self._household_power)
            or any(key.startswith(f"{HOUSEHOLD}:") for key in self._state.totals)
            or any(role == Role.HOUSE_NET for role, _ in roles),
            with_solar=self._state.household.with_solar
            or any(role == Role.SOLAR for role, _ in roles),
            available=any(role == Role.HOUSE_NET and up for role, up in roles),
            power=MappingProxyType(dict(self._household_power)),
            energy=MappingProxyType(energy),
        )

    # --- devices -------------------------------------------------------------------------

    def _restore_devices(self) -> None:
        sensors = 0
        for mac, stored in list(self._state.devices.items()):
            if stored.kind is SENSOR:
                sensors += 1
                if sensors > MAX_SENSORS:
                    del self._state.devices[mac]
                    continue
            energy = self._state.totals.get(total_key(mac, "energy"))
            volume = self._state.totals.get(total_key(mac, "volume"))
            self._devices[mac] = DeviceSnapshot(
                mac=mac,
                kind=stored.kind,
                via=stored.via,
                role=self.role(mac),
                energy=None
                if energy is None or energy.value is None
                else energy.value / JOULES_PER_KWH,
                volume=None if volume is None else volume.value,
            )

    def _device(self, mac: str, kind: DeviceKind, via: str | None) -> DeviceSnapshot | None:
        """The device ``mac``, added if new; None for a sensor beyond the cap."""
        if (device := self._devices.get(mac)) is not None:
            return device
        if kind is SENSOR and len(self.sensor_macs()) >= MAX_SENSORS:
            self.ignored_sensor_readings += 1
            if not self._ignored_logged:
                self._ignored_logged = True
                _LOGGER.warning(
                    "Powersensor home: more than %s sensors relayed; sensor %s and any further "
                    "ones are ignored",
                    MAX_SENSORS,
                    mac,
                )
            return None
        self._state.devices.setdefault(mac, StoredDevice(kind, via))
        device = self._devices[mac] = DeviceSnapshot(
            mac=mac, kind=kind, via=via, role=self.role(mac)
        )
        self._schedule_save()
        return device

    # --- events --------------------------------------------------------------------------

    @callback
    def _on_status(self, plug: str, status: LinkStatus) -> None:
        device = self._devices.get(plug)
        if status.state is LinkState.DISCONNECTED and device is not None and device.available:
            self._set_available(device, available=False, why=status.reason.value)

    @callback
    def _on_event(self, event: PlugEvent) -> None:
        if not isinstance(
            event,
            AveragePower
            | AveragePowerComponents
            | SummationEnergy
            | AverageFlow
            | SummationVolume
            | BatteryLevel
            | RadioSignalQuality,
        ):
            return  # announcements and uncalibrated readings show nothing
        mac, via = event.mac, event.via
        device = self._device(mac, SENSOR if via is not None else PLUG, via)
        if device is None:
            return
        self._last_seen[mac] = time.monotonic()
        changes = self._readings(device, event)
        household = False
        if not device.available:
            _LOGGER.info("Powersensor %s %s is back", device.kind, mac)
            changes["available"] = True
            household = device.kind is SENSOR
        if device.via is None and via is not None:
            changes["via"] = via
        if self._learn_role(mac, event.role):
            changes["role"] = self.role(mac)
            household = True
        new_shape = mac not in self.data.devices or any(
            getattr(device, name) is None for name in changes
        )
        if changes:
            self._devices[mac] = dataclasses.replace(device, **changes)
        changed = [mac]
        if isinstance(event, AveragePower | SummationEnergy) and self._feed_household(event):
            changed.append(HOUSEHOLD)
            household = True
        elif household:
            changed.append(HOUSEHOLD)
        if new_shape or household:
            changed.append(NEW_ENTITIES)
        if changes or household:
            self._publish(changed, household=household)

    def _readings(  # noqa: PLR0911 - one return per kind of reading
        self, device: DeviceSnapshot, event: PlugEvent
    ) -> dict[str, Any]:
        """The snapshot fields ``event`` sets (a total only when its guard took the reading)."""
        if isinstance(event, AveragePower):
            return {"power": event.watts}
        if isinstance(event, AveragePowerComponents):
            return {
                "voltage": event.volts,
                "apparent_current": event.apparent_current,
                "active_current": event.active_current,
                "reactive_current": event.reactive_current,
            }
        if isinstance(event, SummationEnergy):
            key = total_key(device.mac, "energy")
            joules = self._count(
                key,
                device.kind,
                event.summation_joules,
                event.summation_resettime_utc,
                event.starttime_utc,
            )
            return {} if joules is None else {"energy": joules / JOULES_PER_KWH}
        if isinstance(event, AverageFlow):
            return {"flow": event.litres_per_minute}
        if isinstance(event, SummationVolume):
            key = total_key(device.mac, "volume")
            litres = self._count(
                key,
                device.kind,
                event.summation_litres,
                event.summation_resettime_utc,
                event.starttime_utc,
            )
            return {} if litres is None else {"volume": litres}
        if isinstance(event, BatteryLevel):
            return {"battery": battery_percent(event.volts), "battery_voltage": event.volts}
        if isinstance(event, RadioSignalQuality):
            return {"rssi": event.average_rssi}
        return {}

    def _count(
        self,
        key: str,
        kind: DeviceKind | None,
        raw: float,
        reset_time: float,
        reading_time: float,
    ) -> float | None:
        """Pass one counter reading through the total's guard; the total (None: none yet)."""
        total = self._state.totals.get(key)
        if total is None:
            total = self._state.totals[key] = new_total(key, kind)
        outcome = total.update(raw, reset_time, reading_time, time.time())
        if outcome is TotalOutcome.BOUNDED and key not in self._bounded_logged:
            self._bounded_logged.add(key)
            _LOGGER.warning(
                "Powersensor total %s: a step beyond what the device can physically do was not "
                "added (further ones are only counted, see the diagnostics)",
                key,
            )
        if outcome not in DROPPED:
            self._schedule_save()
        return total.value

    def _learn_role(self, mac: str, role: str | None) -> bool:
        """Remember a newly reported role; whether the shown role changed."""
        stored = self._state.devices.get(mac)
        if not role or role == Role.UNKNOWN or stored is None or role == stored.reported_role:
            return False
        before = self.role(mac)
        self._state.devices[mac] = dataclasses.replace(stored, reported_role=role)
        self._schedule_save()
        return self.role(mac) != before

    def _feed_household(self, event: AveragePower | SummationEnergy) -> bool:
        """Give a mains or solar reading to the household; whether it changed."""
        role = self.role(event.mac)
        if role not in HOUSEHOLD_ROLES:
            return False
        if event.role != role:
            event = dataclasses.replace(event, role=role)
        produced = self._state.household.process(event)
        for household_event in produced:
            self._apply_household(household_event)
        return bool(produced)

    def _apply_household(self, event: HouseholdEvent) -> None:
        if isinstance(event, HouseholdPower):
            self._household_power[event.flow] = event.watts
        elif isinstance(event, HouseholdEnergy):
            self._count(
                total_key(HOUSEHOLD, event.flow.value),
                None,
                event.summation_joules,
                event.summation_resettime_utc,
                event.timestamp_utc,
            )

    # --- availability --------------------------------------------------------------------

    @callback
    def _check_silence(self, _now: object = None) -> None:
        now = time.monotonic()
        for mac, device in list(self._devices.items()):
            limit = SILENCE[device.kind]
            seen = self._last_seen.get(mac)
            if device.available and (seen is None or now - seen > limit):
                self._set_available(device, available=False, why=f"silent for {limit:.0f} s")

    def _set_available(self, device: DeviceSnapshot, *, available: bool, why: str) -> None:
        if not available:
            _LOGGER.warning("Powersensor %s %s is unavailable (%s)", device.kind, device.mac, why)
        self._devices[device.mac] = dataclasses.replace(device, available=available)
        household = device.kind is SENSOR and device.role in HOUSEHOLD_ROLES
        self._publish([device.mac, HOUSEHOLD] if household else [device.mac], household=household)

    # --- persistence ---------------------------------------------------------------------

    def _schedule_save(self) -> None:
        self._store.schedule_save(self._export)

    def _export(self) -> dict[str, Any]:
        return export_state(self._state)

    def diagnostics(self) -> dict[str, Any]:
        """Plugs, devices, household, totals (with the guards' counters), from the snapshot."""
        snapshot = self.data
        household = snapshot.household
        return {
            "plugs": self.plugs.diagnostics(),
            "devices": {mac: dataclasses.asdict(dev) for mac, dev in snapshot.devices.items()},
            "ignored_sensor_readings": self.ignored_sensor_readings,
            "max_sensors": MAX_SENSORS,
            "household": {
                "with_solar": household.with_solar,
                "available": household.available,
                "power": {flow.value: watts for flow, watts in household.power.items()},
                "energy_kwh": {flow.value: kwh for flow, kwh in household.energy.items()},
                "stale_readings": dataclasses.asdict(self._state.household.stats),
            },
            "totals": {key: total.export() for key, total in self._state.totals.items()},
        }

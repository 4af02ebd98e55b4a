"""The Powersensor family's flows: the home found by zeroconf or added by address, its options."""

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any

import probatio as vol
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from ..const import CONF_ENTRY_TYPE, DOMAIN, EntryType
from ..powersensor import LinkReason, LinkState, LinkStatus, PlugClient, PlugEvent, normalize_mac
from ..powersensor.const import DEFAULT_PORT as PS_DEFAULT_PORT
from .const import (
    CONF_HOST,
    CONF_PLUGS,
    CONF_POWER_INTERVAL,
    CONF_PS_PORT,
    CONF_ROLES,
    DEFAULT_POWER_INTERVAL,
    MAX_ROLE_FIELDS,
    POWERSENSOR_HOME_ID,
    PROBE_SECONDS,
    ROLE_AUTO,
    ROLE_CHOICES,
)


@dataclass(frozen=True, slots=True)
class PlugAddress:
    """Where a plug's push service listens."""

    mac: str
    host: str
    port: int

    def as_data(self) -> dict[str, Any]:
        """The form stored in the home entry."""
        return {CONF_HOST: self.host, CONF_PS_PORT: self.port}


class PlugProbeError(Exception):
    """A plug did not answer; ``reason`` is the form's error key."""

    def __init__(self, reason: str) -> None:
        """Say why (``host_not_found``, ``plug_refused``, ``cannot_reach_plug``, …)."""
        super().__init__(reason)
        self.reason = reason


async def _resolve(host: str, port: int) -> None:
    """Look the host up (a name that does not resolve is the user's typo, not a dead plug)."""
    await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)


async def probe_plug(host: str, port: int, seconds: float = PROBE_SECONDS) -> str:
    """Subscribe to ``host:port`` and return the plug's MAC from its own reading.

    Raises :class:`PlugProbeError` saying what went wrong: the host does not resolve, nothing
    listens on that port (refused), the network cannot reach it, or no reading came.
    """
    try:
        await _resolve(host, port)
    except (OSError, UnicodeError) as err:
        raise PlugProbeError("host_not_found") from err
    client = PlugClient(host, port)
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_event(_event: PlugEvent) -> None:
        if client.mac is not None and not found.done():
            found.set_result(client.mac)

    def on_status(status: LinkStatus) -> None:
        if status.state is LinkState.DISCONNECTED and not found.done():
            refused = status.reason is LinkReason.REFUSED
            found.set_exception(PlugProbeError("plug_refused" if refused else "cannot_reach_plug"))

    client.add_event_listener(on_event)
    client.add_status_listener(on_status)
    try:
        client.start()
    except OSError as err:
        raise PlugProbeError("cannot_reach_plug") from err
    try:
        async with asyncio.timeout(seconds):
            return await found
    except TimeoutError as err:
        raise PlugProbeError("plug_not_answering") from err
    finally:
        with contextlib.suppress(OSError):
            await client.stop()


class PowersensorSteps(ConfigFlow):
    """The config flow's Powersensor steps: one home entry, its plugs found or added by address."""

    _plug: PlugAddress | None = None

    def _home_entry(self) -> ConfigEntry | None:
        """The home entry, if it exists (there is at most one: its unique id is fixed)."""
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, POWERSENSOR_HOME_ID
        )
        return None if entry is None or entry.source == SOURCE_IGNORE else entry

    def _add_plug_to_home(self, home: ConfigEntry, plug: PlugAddress) -> bool:
        """Store a plug's address in the home entry; True when something changed."""
        plugs = dict(home.data.get(CONF_PLUGS, {}))
        if plugs.get(plug.mac) == plug.as_data():
            return False
        plugs[plug.mac] = plug.as_data()
        self.hass.config_entries.async_update_entry(home, data={**home.data, CONF_PLUGS: plugs})
        return True

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A plug announced itself: its MAC (TXT ``id``) is its identity."""
        raw_id = discovery_info.properties.get("id")
        mac = normalize_mac(raw_id) if isinstance(raw_id, str) else None
        if mac is None:
            return self.async_abort(reason="no_plug_id")
        plug = PlugAddress(mac, discovery_info.host, discovery_info.port or PS_DEFAULT_PORT)
        if (home := self._home_entry()) is not None:
            # A new plug joins the home; a known one that moved gets its new address.
            self._add_plug_to_home(home, plug)
            return self.async_abort(reason="already_configured")
        await self.async_set_unique_id(POWERSENSOR_HOME_ID)
        self._abort_if_unique_id_configured()
        self._plug = plug
        self.context["title_placeholders"] = {"mac": mac}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding the home with the discovered plug."""
        plug = self._plug
        assert plug is not None  # noqa: S101  (only reached from the zeroconf step)
        if user_input is not None:
            return self._create_home(plug)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={"mac": plug.mac, "host": plug.host},
        )

    def _create_home(self, plug: PlugAddress) -> ConfigFlowResult:
        return self.async_create_entry(
            title="Powersensor home",
            data={CONF_ENTRY_TYPE: EntryType.POWERSENSOR, CONF_PLUGS: {plug.mac: plug.as_data()}},
        )

    async def async_step_powersensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a plug by its address (networks without multicast): it must answer first."""
        errors: dict[str, str] = {}
        placeholders = {"host": "", "port": str(PS_DEFAULT_PORT)}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            port = int(user_input.get(CONF_PS_PORT, PS_DEFAULT_PORT))
            try:
                mac = await probe_plug(host, port)
            except PlugProbeError as err:
                errors["base"] = err.reason
                placeholders = {"host": host, "port": str(port)}
            else:
                plug = PlugAddress(mac, host, port)
                if (home := self._home_entry()) is not None:
                    if home.data.get(CONF_PLUGS, {}).get(mac) == plug.as_data():
                        return self.async_abort(reason="already_configured")
                    self._add_plug_to_home(home, plug)
                    return self.async_abort(reason="plug_added")
                await self.async_set_unique_id(POWERSENSOR_HOME_ID)
                self._abort_if_unique_id_configured()
                return self._create_home(plug)
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): TextSelector(),
                vol.Optional(CONF_PS_PORT, default=PS_DEFAULT_PORT): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(
            step_id="powersensor",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_reconfigure_home(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reconfiguring the home adds a plug by its address (all else is in the options)."""
        return await self.async_step_powersensor(user_input)


class PowersensorOptionsFlow(OptionsFlow):
    """Roles of relayed sensors that do not report one, and how often power is written."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show one role choice per known sensor, and the power write interval."""
        options = self.config_entry.options
        roles: dict[str, str] = dict(options.get(CONF_ROLES, {}))
        home = getattr(self.config_entry, "runtime_data", None)
        sensors = sorted(set(home.sensor_macs() if home is not None else ()) | set(roles))
        sensors = sensors[:MAX_ROLE_FIELDS]
        if user_input is not None:
            chosen = {
                mac: user_input[f"role_{index}"]
                for index, mac in enumerate(sensors, 1)
                if user_input.get(f"role_{index}", ROLE_AUTO) != ROLE_AUTO
            }
            return self.async_create_entry(
                data={
                    CONF_ROLES: chosen,
                    CONF_POWER_INTERVAL: int(user_input[CONF_POWER_INTERVAL]),
                }
            )
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_POWER_INTERVAL,
                default=options.get(CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL),
            ): NumberSelector(
                NumberSelectorConfig(
                    min=0, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
                )
            )
        }
        # Fields are numbered (their labels are translated: "Role of {sensor_1}", …).
        for index, mac in enumerate(sensors, 1):
            fields[vol.Required(f"role_{index}", default=roles.get(mac, ROLE_AUTO))] = (
                SelectSelector(
                    SelectSelectorConfig(
                        options=list(ROLE_CHOICES),
                        translation_key="sensor_role",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                )
            )
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(fields),
            description_placeholders={
                "sensors": ", ".join(sensors) or "none yet",
                **{
                    f"sensor_{index}": _sensor_label(home, mac)
                    for index, mac in enumerate(sensors, 1)
                },
            },
        )


def _sensor_label(home: Any, mac: str) -> str:
    """How a sensor is named in the options: its reported role and the end of its MAC."""
    role = home.role(mac) if home is not None else None
    return f"sensor {mac[-6:]}" + (f" ({role})" if role else "")

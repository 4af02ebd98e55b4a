"""The EKM family's flows: a bus per port, its options, its meters and ioStacks as subentries."""

import asyncio
import errno
import re
import socket
import time
from typing import Any, Final

import probatio as vol
from homeassistant.components import usb
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from ..const import CONF_ENTRY_TYPE, EntryType
from ..ekm import (
    DEFAULT_PASSWORD,
    EkmBus,
    EkmError,
    EkmPortError,
    InvalidAddressError,
    MeterVersion,
    PortKind,
    normalize_address,
)
from .const import (
    CONF_ADDRESS,
    CONF_BLOCK_B_EVERY,
    CONF_PASSWORD,
    CONF_POLL_INTERVAL,
    CONF_PORT,
    CONF_PULSE_FACTOR,
    CONF_PULSE_INPUTS,
    CONF_PULSE_KIND,
    CONF_UNAVAILABLE_AFTER,
    CONF_VERSION,
    DEFAULT_BLOCK_B_EVERY,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_UNAVAILABLE_AFTER,
    MAX_POLL_INTERVAL,
    MAX_UNAVAILABLE_AFTER,
    MIN_POLL_INTERVAL,
    SUBENTRY_METER,
    PulseKind,
)
from .coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .models import meter_title
from .proxy_port import esphome_entry_error, proxy_open_error

VERSION_AUTO = "auto"

# Adding a meter or ioStack reloads the bus entry (about a second); a subentry flow that wants
# to read from the bus meanwhile waits for the new coordinator instead of failing.
BUS_RELOAD_WAIT: Final = 15.0
_RELOADING = (
    ConfigEntryState.NOT_LOADED,
    ConfigEntryState.SETUP_IN_PROGRESS,
    ConfigEntryState.UNLOAD_IN_PROGRESS,
)


def new_address(
    entry: ConfigEntry,
    raw: str,
    subentry_type: str,
    errors: dict[str, str],
    *,
    duplicate: str = "already_configured",
) -> str | None:
    """``raw`` as a normalized address not yet on the bus; else None and the field's error."""
    try:
        address = normalize_address(raw)
    except InvalidAddressError:
        errors[CONF_ADDRESS] = "invalid_address"
        return None
    if any(
        sub.data[CONF_ADDRESS] == address for sub in entry.get_subentries_of_type(subentry_type)
    ):
        errors[CONF_ADDRESS] = duplicate
        return None
    return address


async def async_bus_coordinator(
    entry: EkmBusConfigEntry, *, replacing: EkmBusCoordinator | None = None
) -> EkmBusCoordinator | None:
    """The coordinator of the loaded bus entry, waiting while it reloads; None if it fails.

    With ``replacing``, wait for a coordinator other than that one (it was just unloaded).
    """
    deadline = time.monotonic() + BUS_RELOAD_WAIT
    while True:
        if entry.state is ConfigEntryState.LOADED:
            coordinator: EkmBusCoordinator = entry.runtime_data
            if coordinator is not replacing:
                return coordinator
        elif entry.state not in _RELOADING:
            return None  # setup failed (port gone, …): nothing to wait for
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.1)


def port_error_key(bus: EkmBus, err: EkmPortError) -> str:
    """The translated error key for a port that would not open."""
    if bus.kind is PortKind.ESPHOME:
        return proxy_open_error(err)
    cause = err.__cause__
    if isinstance(cause, socket.gaierror):
        return "host_not_found"
    code = getattr(cause, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return "port_not_found"
    if code in (errno.EACCES, errno.EPERM):
        return "permission_denied"
    if code in (errno.EBUSY, errno.EAGAIN):
        return "port_busy"
    return "cannot_connect"


async def _validate_port(hass: HomeAssistant, port: str) -> str | None:
    """Open and release the port; return an error key, or None when it works."""
    if (error := esphome_entry_error(hass, port)) is not None:
        return error
    bus = EkmBus(port)
    try:
        await bus.open()
    except EkmPortError as err:
        return port_error_key(bus, err)
    finally:
        await bus.close()
    return None


class EkmBusSteps(ConfigFlow):
    """The config flow's EKM steps: add a bus by its port, move a bus to another port."""

    async def _async_resolve_port(self, port: str) -> str:
        """Store local ports by their stable /dev/serial/by-id name (ttyUSB0 renumbers)."""
        port = port.strip()
        if "://" in port:
            return port
        return await self.hass.async_add_executor_job(usb.get_serial_by_id, port)

    async def async_step_ekm_bus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the serial port (local, socket://, rfc2217:// or an ESPHome proxy) of a bus."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = await self._async_resolve_port(user_input[CONF_PORT])
            self._async_abort_entries_match({CONF_PORT: port})
            if (error := await _validate_port(self.hass, port)) is None:
                return self.async_create_entry(
                    title=f"EKM bus {port}",
                    data={CONF_ENTRY_TYPE: EntryType.EKM_BUS, CONF_PORT: port},
                )
            errors[CONF_PORT] = error
        return self.async_show_form(
            step_id="ekm_bus",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()}), user_input
            ),
            errors=errors,
        )

    async def async_reconfigure_bus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move a bus to another port; meters, entities and history stay."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            port = await self._async_resolve_port(user_input[CONF_PORT])
            if port != entry.data[CONF_PORT]:
                self._async_abort_entries_match({CONF_PORT: port})
            # The bus itself holds the old port while loaded; only a new port can be tested.
            if (
                port == entry.data[CONF_PORT]
                or (error := await _validate_port(self.hass, port)) is None
            ):
                return self.async_update_reload_and_abort(
                    entry, title=f"EKM bus {port}", data_updates={CONF_PORT: port}
                )
            errors[CONF_PORT] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()}),
                user_input or {CONF_PORT: entry.data[CONF_PORT]},
            ),
            errors=errors,
        )


class EkmBusOptionsFlow(OptionsFlow):
    """Poll interval and how often block B (tariffs, ratios, max demand) is read."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_POLL_INTERVAL: int(user_input[CONF_POLL_INTERVAL]),
                    CONF_BLOCK_B_EVERY: int(user_input[CONF_BLOCK_B_EVERY]),
                    CONF_UNAVAILABLE_AFTER: int(user_input[CONF_UNAVAILABLE_AFTER]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_POLL_INTERVAL,
                    default=options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_POLL_INTERVAL,
                        max=MAX_POLL_INTERVAL,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_BLOCK_B_EVERY,
                    default=options.get(CONF_BLOCK_B_EVERY, DEFAULT_BLOCK_B_EVERY),
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=100, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Required(
                    CONF_UNAVAILABLE_AFTER,
                    default=options.get(CONF_UNAVAILABLE_AFTER, DEFAULT_UNAVAILABLE_AFTER),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=1, max=MAX_UNAVAILABLE_AFTER, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)


def _pulse_fields(defaults: list[dict[str, Any]]) -> dict[Any, Any]:
    fields: dict[Any, Any] = {}
    for index in range(3):
        current = defaults[index] if index < len(defaults) else {}
        fields[
            vol.Required(f"pulse_{index + 1}_kind", default=current.get(CONF_PULSE_KIND, "none"))
        ] = SelectSelector(
            SelectSelectorConfig(
                options=[kind.value for kind in PulseKind],
                translation_key="pulse_kind",
                mode=SelectSelectorMode.DROPDOWN,
            )
        )
        fields[
            vol.Required(f"pulse_{index + 1}_factor", default=current.get(CONF_PULSE_FACTOR, 1.0))
        ] = NumberSelector(
            NumberSelectorConfig(
                min=0.000001, max=1_000_000, step="any", mode=NumberSelectorMode.BOX
            )
        )
    return fields


def _pulse_inputs(user_input: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            CONF_PULSE_KIND: user_input[f"pulse_{i}_kind"],
            CONF_PULSE_FACTOR: float(user_input[f"pulse_{i}_factor"]),
        }
        for i in (1, 2, 3)
    ]


_VERSION_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[VERSION_AUTO, "3", "4"],
        translation_key="meter_version",
        mode=SelectSelectorMode.LIST,
    )
)
_PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_PASSWORD = re.compile(r"[0-9]{8}")


def _password(user_input: dict[str, Any], current: str, errors: dict[str, str]) -> str | None:
    """The entered password (empty: ``current``) if a meter would take it, else a field error.

    An Omnimeter password is exactly 8 digits; anything else would fail at the next relay
    switch instead of here.
    """
    password = (user_input.get(CONF_PASSWORD) or "").strip() or current
    if _PASSWORD.fullmatch(password) is None:
        errors[CONF_PASSWORD] = "invalid_password"
        return None
    return password


class MeterSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one meter on a bus: read it first, refuse what does not answer."""

    async def _probe(self, address: str, version: str) -> MeterVersion | str:
        """Read the meter (detecting its version when asked); return it, or an error key."""
        entry: EkmBusConfigEntry = self._get_entry()
        coordinator: EkmBusCoordinator | None = None
        for _attempt in range(2):
            coordinator = await async_bus_coordinator(entry, replacing=coordinator)
            if coordinator is None:
                break
            try:
                return await self._read(coordinator.bus, address, version)
            except EkmPortError:
                # Unless the entry began reloading under us (closing our bus), the port failed.
                if entry.state is ConfigEntryState.LOADED and entry.runtime_data is coordinator:
                    break
            except EkmError:
                return "meter_not_responding"
        return "bus_not_ready"

    @staticmethod
    async def _read(bus: EkmBus, address: str, version: str) -> MeterVersion:
        if version == VERSION_AUTO:
            return await bus.identify(address)
        found = MeterVersion(int(version))
        await bus.read_meter(address, found, include_b=False)
        return found

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the address (and optionally version, password, pulse inputs)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            address = new_address(
                self._get_entry(), user_input[CONF_ADDRESS], SUBENTRY_METER, errors
            )
            password = _password(user_input, DEFAULT_PASSWORD, errors)
            if address is not None and password is not None:
                version = await self._probe(address, user_input[CONF_VERSION])
                if isinstance(version, str):
                    errors["base"] = version
                else:
                    return self.async_create_entry(
                        title=meter_title(address),
                        data={
                            CONF_ADDRESS: address,
                            CONF_VERSION: version.value,
                            CONF_PASSWORD: password,
                            CONF_PULSE_INPUTS: _pulse_inputs(user_input),
                        },
                        unique_id=address,
                    )
        schema = vol.Schema(
            {
                vol.Required(CONF_ADDRESS): TextSelector(),
                vol.Required(CONF_VERSION, default=VERSION_AUTO): _VERSION_SELECTOR,
                vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
                **_pulse_fields([]),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a meter's version, password or pulse inputs (its address stays)."""
        subentry = self._get_reconfigure_subentry()
        data = subentry.data
        errors: dict[str, str] = {}
        password = None
        if user_input is not None:
            password = _password(user_input, data[CONF_PASSWORD], errors)
        if user_input is not None and password is not None:
            version = await self._probe(data[CONF_ADDRESS], user_input[CONF_VERSION])
            if isinstance(version, str):
                errors["base"] = version
            else:
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    data_updates={
                        CONF_VERSION: version.value,
                        CONF_PASSWORD: password,
                        CONF_PULSE_INPUTS: _pulse_inputs(user_input),
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_VERSION, default=str(data[CONF_VERSION])): _VERSION_SELECTOR,
                vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
                **_pulse_fields(list(data.get(CONF_PULSE_INPUTS, []))),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"address": data[CONF_ADDRESS]},
        )

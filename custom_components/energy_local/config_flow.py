"""The config flow: add an EKM bus or the Powersensor home; each family brings its own steps."""

from typing import Any

from homeassistant.config_entries import (
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback

from .const import DOMAIN
from .ekm_bus.config_flow import EkmBusSteps
from .ekm_bus.readloop_flow import ReadloopSteps
from .families import EnergyLocalConfigEntry, family_of
from .powersensor_home.config_flow import PowersensorSteps


class EnergyLocalConfigFlow(ReadloopSteps, EkmBusSteps, PowersensorSteps, domain=DOMAIN):
    """Add an EKM bus, or the Powersensor home (discovered by zeroconf or by address)."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EnergyLocalConfigEntry) -> OptionsFlow:
        """Options: an EKM bus's polling, or the Powersensor home's roles and write rate."""
        return family_of(config_entry).options_flow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: EnergyLocalConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Meters and ioStacks are subentries of a bus; the home has none."""
        return dict(family_of(config_entry).subentry_flows)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what to add: an EKM bus (or one from a readloop.toml), or a Powersensor plug."""
        return self.async_show_menu(
            step_id="user", menu_options=["ekm_bus", "ekm_readloop", "powersensor"]
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A bus moves to another port; the home gets a plug by address."""
        family = family_of(self._get_reconfigure_entry())
        return await family.async_reconfigure(self, user_input)

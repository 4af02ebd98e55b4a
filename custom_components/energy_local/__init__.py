"""Energy Local: EKM Omnimeters on RS-485 and Powersensor plugs on the LAN, with no cloud.

Home Assistant's entry points live in :mod:`.integration` and are imported on first use, so the
protocol libraries (``ekm/``, ``powersensor/``) and their command-line tools import and start
without loading Home Assistant.
"""

from __future__ import annotations

from typing import Any

DOMAIN = "energy_local"

_ENTRY_POINTS = frozenset(
    {
        "CONFIG_SCHEMA",
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
        "async_remove_config_entry_device",
    }
)


def __getattr__(name: str) -> Any:
    """Resolve Home Assistant's entry points lazily (PEP 562)."""
    if name in _ENTRY_POINTS:
        from . import integration  # noqa: PLC0415

        return getattr(integration, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

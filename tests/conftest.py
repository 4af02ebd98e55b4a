"""Fixtures shared by every test."""

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Bind the custom_components namespace to this repository before Home Assistant's test
# fixtures look for integrations (a test module run alone may not import it itself).
import custom_components.energy_local  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"


@contextmanager
def only_platform(entry_type: Any, platform: Any) -> Iterator[None]:
    """Set entries of ``entry_type`` up with one platform only (snapshots per platform)."""
    from custom_components.energy_local.families import FAMILIES  # noqa: PLC0415

    family = FAMILIES[entry_type]
    narrowed = dataclasses.replace(family, platforms={platform: family.platforms[platform]})
    with patch.dict(FAMILIES, {entry_type: narrowed}):  # type: ignore[arg-type]
        yield


def load_fixture(relative: str) -> Any:
    """Load a JSON fixture below tests/fixtures."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    enable_custom_integrations: None, mock_async_zeroconf: Any, fake_plug_browser: Any
) -> None:
    """Let HA load custom_components/energy_local; HA's zeroconf is mocked (no multicast)."""


class FakePlugBrowser:
    """Stands in for the library's zeroconf PlugBrowser inside Home Assistant tests."""

    instances: ClassVar[list[FakePlugBrowser]] = []

    def __init__(self, aiozc: Any, *, on_found: Any, on_lost: Any = None, **_: Any) -> None:
        self.on_found = on_found
        self.started = False
        FakePlugBrowser.instances.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False


@pytest.fixture
def fake_plug_browser() -> Iterator[type[FakePlugBrowser]]:
    """Replace the zeroconf browser of the Powersensor home; tests call ``on_found``."""
    FakePlugBrowser.instances = []
    with patch(
        "custom_components.energy_local.powersensor_home.plugs.PlugBrowser", FakePlugBrowser
    ):
        yield FakePlugBrowser


@pytest.fixture
async def ekm_bus() -> Any:
    """A simulated EKM bus on a pseudo-terminal: one v4 and one v3 meter, time frozen."""
    from tests.ekm_bus.helpers import V3_ADDRESS, V4_ADDRESS, start_sim_bus  # noqa: PLC0415

    bus = await start_sim_bus([(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
    yield bus
    await bus.sim.stop()


@pytest.fixture
def ekmdevice_standin() -> Iterator[Any]:
    """EKM's ekmdevice replaced by the documented-API stand-in (tests/fixtures/ekmdevice_standin).

    Yields its controls (``ekmdevice._standin``): one ioStack at address 1 with EKM's example
    values; tests change values, add errors and read the calls.
    """
    from tests.ekm_bus.iostack.helpers import standin_installed  # noqa: PLC0415

    with standin_installed() as controls:
        yield controls


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (stable: no ids or timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)

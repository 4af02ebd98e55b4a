"""Fixtures shared by every test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(relative: str) -> Any:
    """Load a JSON fixture below tests/fixtures."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/energy_local in every test."""


@pytest.fixture
async def ekm_bus() -> Any:
    """A simulated EKM bus on a pseudo-terminal: one v4 and one v3 meter, time frozen."""
    from tests.ekm_ha_helpers import V3_ADDRESS, V4_ADDRESS, start_sim_bus  # noqa: PLC0415

    bus = await start_sim_bus([(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
    yield bus
    await bus.sim.stop()


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (stable: no ids or timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)

"""Fixtures shared by every test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(relative: str) -> Any:
    """Load a JSON fixture below tests/fixtures."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/energy_local in every test."""

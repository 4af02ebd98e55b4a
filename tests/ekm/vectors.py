"""Access to the EKM vectors copied from EKM's ekmmeters library runs (tests/fixtures/ekm)."""

from typing import Any

from tests.conftest import load_fixture

HEAD = "ekm/ekmmeters-git3933c34"


def scenario(name: str) -> dict[str, Any]:
    """One ekmmeters HEAD scenario file (transcript, result, parsed values)."""
    data: dict[str, Any] = load_fixture(f"{HEAD}/{name}.json")
    return data


def tx_frames(name: str) -> list[bytes]:
    """Every frame the library wrote, in order."""
    return [bytes.fromhex(t["hex"]) for t in scenario(name)["transcript"] if t["dir"] == "tx"]


def rx_frames(name: str) -> list[bytes]:
    """Every reply the fake meter delivered, in order."""
    return [bytes.fromhex(t["hex"]) for t in scenario(name)["transcript"] if t["dir"] == "rx"]


def natives(name: str, key: str = "parsed") -> dict[str, Any]:
    """ekmmeters' decoded ("native") value of every field."""
    return {k: v["native"] for k, v in scenario(name)[key].items()}

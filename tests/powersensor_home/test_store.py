"""The Powersensor home's restart state: what loads, what is dropped, the guards' kinds."""

import pytest

from custom_components.energy_local.powersensor import (
    MAINS_MAX_WATTS,
    PLUG_MAX_WATTS,
    WATER_MAX_LITRES_PER_S,
)
from custom_components.energy_local.powersensor_home.store import (
    DeviceKind,
    StoredDevice,
    export,
    new_total,
    parse,
)

PLUG = "246f280487a4"
MAINS = "bcddc247d1f5"
WATER = "bcddc247d338"
OLD_FORMAT = {
    "totals": {
        f"{PLUG}:energy": {"base": 7.2e6, "last_raw": 3.6e6, "last_reset": 1_700_000_000},
        f"{MAINS}:energy": {"base": -3.6e6, "last_raw": 1.8e6, "last_reset": 1_700_000_000},
        f"{WATER}:volume": {"base": 100.0, "last_raw": 20.5, "last_reset": 1_700_000_000},
        "household:from_grid": {"base": 36e6, "last_raw": 0.0, "last_reset": 1_700_000_000},
    },
    "devices": {
        PLUG: {"kind": "plug", "via": None, "role": "appliance"},
        MAINS: {"kind": "sensor", "via": PLUG, "role": "house-net"},
        WATER: {"kind": "sensor", "via": PLUG, "role": "water"},
    },
}


def test_the_former_continuous_total_format_loads_with_each_kinds_bound() -> None:
    home = parse(OLD_FORMAT)
    totals = home.totals
    assert totals[f"{PLUG}:energy"].value == 10.8e6
    assert totals[f"{MAINS}:energy"].value == pytest.approx(-1.8e6)  # a net base may be < 0
    assert totals[f"{WATER}:volume"].value == pytest.approx(120.5)
    assert totals["household:from_grid"].value == 36e6
    assert totals[f"{PLUG}:energy"].max_rate == PLUG_MAX_WATTS
    assert totals[f"{MAINS}:energy"].signed
    assert totals[f"{WATER}:volume"].max_rate == WATER_MAX_LITRES_PER_S
    assert totals["household:from_grid"].max_rate == MAINS_MAX_WATTS
    assert home.devices[MAINS] == StoredDevice(DeviceKind.SENSOR, PLUG, "house-net")


def test_export_and_parse_round_trip() -> None:
    home = parse(OLD_FORMAT)
    home.totals[f"{PLUG}:energy"].update(1000.0, 1_770_000_000, 1_770_000_100, 1_770_000_200)
    again = parse(export(home))
    assert {k: t.value for k, t in again.totals.items()} == {
        k: t.value for k, t in home.totals.items()
    }
    assert again.devices == home.devices


@pytest.mark.parametrize(
    "garbage",
    [
        {"household": {"version": 999}},
        {"household": "nonsense", "totals": [], "devices": 3},
        {"totals": {f"{PLUG}:energy": {"base": float("inf"), "last_raw": 1.0}}},
        {"devices": {PLUG: {"kind": "toaster"}}},
    ],
)
def test_garbage_is_dropped_not_raised(garbage: dict[str, object]) -> None:
    home = parse(garbage)
    assert all(t.value is None for t in home.totals.values())
    assert PLUG not in home.devices or home.devices[PLUG].kind is DeviceKind.PLUG


def test_a_total_of_an_unknown_device_is_dropped() -> None:
    home = parse({"totals": {f"{PLUG}:energy": {"base": 1.0, "last_raw": 2.0, "last_reset": 3}}})
    assert home.totals == {}


def test_new_totals_get_their_kinds_bound() -> None:
    assert new_total(f"{PLUG}:energy", DeviceKind.PLUG).max_rate == PLUG_MAX_WATTS
    assert new_total(f"{MAINS}:energy", DeviceKind.SENSOR).signed
    assert not new_total("household:to_grid", None).signed
    assert new_total(f"{WATER}:volume", DeviceKind.SENSOR).max_rate == WATER_MAX_LITRES_PER_S

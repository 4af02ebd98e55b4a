"""What scripts/develop installs beside the newest Home Assistant (devenv/ha_requirements.py).

A made-up release's components directory: what it pins wins over requirements_develop.txt's
(the oldest release's) pins and over our manifest's range.
"""

import json
from pathlib import Path

from scripts.devenv.ha_requirements import (
    dependency_requirements,
    kept_packages,
    manifest_requirements,
    startup_requirements,
)


def release(tmp_path: Path) -> Path:
    manifests = {
        "default_config": {"dependencies": ["backup", "frontend"]},
        "backup": {"requirements": ["securetar==2026.10.0"], "after_dependencies": ["hassio"]},
        "hassio": {"requirements": ["aiohasupervisor==0.8.1"]},
        "frontend": {"requirements": ["home-assistant-frontend==20261028.4"]},
        "usb": {"requirements": ["aiousbwatcher==1.1.2", "serialx==1.15.1"]},
        "radio_browser": {"requirements": ["radios==2.0.1"]},
    }
    for domain, manifest in manifests.items():
        (tmp_path / domain).mkdir()
        (tmp_path / domain / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_the_walk_follows_dependencies_and_after_dependencies(tmp_path: Path) -> None:
    walked = dependency_requirements(release(tmp_path), ["default_config", "usb", "missing"])
    assert walked == [
        "securetar==2026.10.0",
        "aiohasupervisor==0.8.1",
        "home-assistant-frontend==20261028.4",
        "aiousbwatcher==1.1.2",
        "serialx==1.15.1",
    ]


def test_the_release_pins_win_and_each_package_comes_once(tmp_path: Path) -> None:
    components = release(tmp_path)
    develop = "# comment\npyotp==2.10.0\nhome-assistant-frontend\nradios==1.0.0  # as asked\n"
    lines = startup_requirements(
        dependency_requirements(components, ["usb"]),
        develop,
        manifest_requirements(components),
        ["serialx>=1.11,<2"],
    )
    assert lines == [
        "aiousbwatcher==1.1.2",
        "serialx==1.15.1",
        "pyotp==2.10.0",
        "home-assistant-frontend==20261028.4",
        "radios==2.0.1",
    ]


def test_a_kept_pin_beats_the_release_and_is_skipped_by_home_assistant(tmp_path: Path) -> None:
    components = release(tmp_path)
    develop = "radios==1.0.0  # keep\nhome-assistant-frontend\n"
    lines = startup_requirements(
        dependency_requirements(components, ["default_config"]),
        develop + "# radios==9  # keep\n",
        manifest_requirements(components),
        [],
    )
    assert "radios==1.0.0" in lines
    assert "home-assistant-frontend==20261028.4" in lines
    assert kept_packages(develop) == ["radios"]
    assert kept_packages("radios==1.0.0  # as asked\n") == []

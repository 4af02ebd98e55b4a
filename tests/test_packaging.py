"""What HACS and hassfest would check, checked offline (neither can run here).

hacs.json against HACS's manifest schema (extra keys rejected), manifest.json against
hassfest's custom-integration rules, the brand images, services.yaml against its
translations, and quality_scale.yaml against the full rule list: hassfest skips the quality
scale for custom integrations, so this file is what keeps our self-assessment complete.
"""

import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from awesomeversion import AwesomeVersion
from homeassistant import const as ha_const
from packaging.requirements import Requirement

from custom_components.energy_local.const import DOMAIN

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "energy_local"

# HACS_MANIFEST_JSON_SCHEMA (hacs/integration custom_components/hacs/utils/validate.py).
HACS_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "content_in_root": bool,
    "zip_release": bool,
    "filename": str,
    "hide_default_branch": bool,
    "country": (str, list),
    "homeassistant": str,
    "hacs": str,
    "persistent_directory": str,
    "render_readme": bool,
}
# hassfest's CUSTOM_INTEGRATION_MANIFEST_SCHEMA (script/hassfest/manifest.py): no other keys.
MANIFEST_KEYS = {
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "disabled",
    "documentation",
    "domain",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "name",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {"device", "entity", "hardware", "helper", "hub", "service", "system"}

# Every rule of every tier (developers.home-assistant.io, integration-quality-scale tiers.json).
QUALITY_RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow-test-coverage",
        "config-flow",
        "dependency-transparency",
        "docs-actions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
        "docs-triggers",
        "docs-conditions",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery-update-info",
        "discovery",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- hacs.json -------------------------------------------------------------------------------


def test_hacs_json_has_only_keys_hacs_accepts() -> None:
    """HACS rejects unknown keys; name is required; every value has the schema's type."""
    hacs = _json(ROOT / "hacs.json")
    assert "name" in hacs
    for key, value in hacs.items():
        assert key in HACS_KEYS, f"hacs.json key {key!r} is not in HACS's schema"
        assert isinstance(value, HACS_KEYS[key]), f"hacs.json {key!r} has the wrong type"
    assert "render_readme" not in hacs, "render_readme was removed from HACS's documentation"


def test_hacs_minimum_version_is_the_tested_one() -> None:
    """The minimum Home Assistant version is the oldest the test suite actually ran against."""
    hacs = _json(ROOT / "hacs.json")
    assert AwesomeVersion(hacs["homeassistant"]).valid
    assert hacs["homeassistant"] == ha_const.__version__


def test_hacs_finds_the_integration() -> None:
    """Without content_in_root HACS expects exactly one custom_components/<domain>/."""
    hacs = _json(ROOT / "hacs.json")
    assert not hacs.get("content_in_root", False)
    found = [p.parent.name for p in (ROOT / "custom_components").glob("*/manifest.json")]
    assert found == ["energy_local"]


# --- manifest.json ---------------------------------------------------------------------------


@pytest.fixture(name="manifest")
def manifest_fixture() -> dict[str, Any]:
    """The integration's manifest."""
    return _json(INTEGRATION / "manifest.json")  # type: ignore[no-any-return]


def test_manifest_keys_are_known_and_sorted(manifest: dict[str, Any]) -> None:
    """hassfest: no unknown keys; sorted domain, name, then alphabetically."""
    keys = list(manifest)
    assert set(keys) <= MANIFEST_KEYS, set(keys) - MANIFEST_KEYS
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_required_values(manifest: dict[str, Any]) -> None:
    """What hassfest and HACS require of a custom integration's manifest."""
    assert manifest["domain"] == INTEGRATION.name == DOMAIN
    assert manifest["name"]
    assert AwesomeVersion(manifest["version"]).valid
    assert manifest["version"] != "0.0.0"
    assert manifest["iot_class"] in IOT_CLASSES
    assert manifest["integration_type"] in INTEGRATION_TYPES
    for key in ("documentation", "issue_tracker"):
        url = manifest[key]
        assert url.startswith("https://"), f"{key} must be https"
        assert not url.startswith("https://www.home-assistant.io/integrations")
    assert manifest["codeowners"]
    assert all(re.fullmatch(r"@[\w-]+(/[\w-]+)?", owner) for owner in manifest["codeowners"])


def test_manifest_matches_the_code(manifest: dict[str, Any]) -> None:
    """config_flow ⇔ config_flow.py; loggers are our libraries'; requirements are parseable pins."""
    assert manifest["config_flow"] is (INTEGRATION / "config_flow.py").is_file()
    for logger in manifest["loggers"]:
        module = logger.removeprefix("custom_components.energy_local.")
        assert (INTEGRATION / module / "__init__.py").is_file(), logger
    for requirement in manifest["requirements"]:
        parsed = Requirement(requirement)
        assert parsed.specifier, f"{requirement} should bound its version"
        assert parsed.url is None, "manifest requirements must come from PyPI"
    for service in manifest["zeroconf"]:
        name = service if isinstance(service, str) else service["type"]
        assert name.endswith(("._udp.local.", "._tcp.local."))
    assert sorted(manifest["dependencies"]) == manifest["dependencies"]


# --- brand images ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("icon.png", (256, 256)),
        ("icon@2x.png", (512, 512)),
        ("dark_icon.png", (256, 256)),
        ("dark_icon@2x.png", (512, 512)),
    ],
)
def test_brand_icons(name: str, size: tuple[int, int]) -> None:
    """HACS's brands check needs brand/icon.png; HA's sizes are 256 px and 512 px for @2x."""
    path = INTEGRATION / "brand" / name
    if name.startswith("dark_") and not path.exists():
        pytest.skip("no dark icon: HA falls back to icon.png")
    assert _png_size(path) == size


@pytest.mark.parametrize("name", ["logo.png", "logo@2x.png", "dark_logo.png", "dark_logo@2x.png"])
def test_brand_logos(name: str) -> None:
    """Logos: landscape or square, at most 256 px high (512 px for @2x)."""
    width, height = _png_size(INTEGRATION / "brand" / name)
    limit = 512 if "@2x" in name else 256
    assert 128 <= height <= limit
    assert width >= height


# --- services and translations ---------------------------------------------------------------


def test_every_action_and_field_is_translated() -> None:
    """hassfest: every action in services.yaml and each of its fields has a name and description."""
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
    strings = _json(INTEGRATION / "strings.json")["services"]
    assert set(services) == set(strings)
    for name, service in services.items():
        assert strings[name]["name"]
        assert strings[name]["description"]
        for field in service.get("fields", {}):
            assert strings[name]["fields"][field]["name"], f"{name}.{field}"
            assert strings[name]["fields"][field]["description"], f"{name}.{field}"


def test_english_translation_is_strings_json() -> None:
    """Custom integrations ship translations/en.json; it must be exactly strings.json."""
    assert _json(INTEGRATION / "translations" / "en.json") == _json(INTEGRATION / "strings.json")


# --- quality_scale.yaml ----------------------------------------------------------------------


@pytest.fixture(name="quality_rules")
def quality_rules_fixture() -> dict[str, Any]:
    """The rules section of quality_scale.yaml."""
    document = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))
    assert set(document) == {"rules"}
    return document["rules"]  # type: ignore[no-any-return]


def test_quality_scale_lists_every_rule_of_every_tier(quality_rules: dict[str, Any]) -> None:
    """No rule missing, none unknown."""
    every_rule = {rule for rules in QUALITY_RULES.values() for rule in rules}
    assert len(every_rule) == 54
    assert set(quality_rules) == every_rule


def test_quality_scale_has_nothing_left_to_do(quality_rules: dict[str, Any]) -> None:
    """Every rule done or exempt; exempt always says why; the dict form always has both keys."""
    for rule, value in quality_rules.items():
        if isinstance(value, str):
            assert value == "done", f"{rule}: {value}"
            continue
        assert set(value) == {"status", "comment"}, rule
        assert value["status"] in {"done", "exempt"}, f"{rule}: {value['status']}"
        assert len(value["comment"].split()) >= 5, f"{rule}: the comment must give a reason"


def test_parallel_updates_is_set_on_every_platform() -> None:
    """The parallel-updates claim: every platform module sets PARALLEL_UPDATES."""
    platforms = ["binary_sensor", "sensor", "switch"]
    for platform in platforms:
        source = (INTEGRATION / f"{platform}.py").read_text(encoding="utf-8")
        assert re.search(r"^PARALLEL_UPDATES = \d+$", source, re.MULTILINE), platform


def test_icons_cover_every_action() -> None:
    """The icon-translations claim, for actions: each has an icon in icons.json."""
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
    icons = _json(INTEGRATION / "icons.json")
    assert set(icons["services"]) == set(services)


@pytest.mark.parametrize(
    ("rule", "heading"),
    [
        ("docs-installation-instructions", "Installation"),
        ("docs-removal-instructions", "Removal"),
        ("docs-troubleshooting", "Troubleshooting"),
        ("docs-known-limitations", "Known limitations"),
        ("docs-actions", "Actions"),
        ("docs-examples", "Automation examples"),
        ("docs-supported-devices", "Supported devices"),
        ("docs-data-update", "How data is updated"),
    ],
)
def test_readme_has_the_documentation_the_scale_claims(rule: str, heading: str) -> None:
    """A docs-* rule marked done has its section in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"^#+ {re.escape(heading)}\b", readme, re.MULTILINE), rule


def test_readme_pictures_exist() -> None:
    """Every picture README.md shows is committed (HACS renders README as the repository page)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert len(pictures) >= 5
    for picture in pictures:
        _png_size(ROOT / picture)

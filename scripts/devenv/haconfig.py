"""The Home Assistant configuration directory for development and e2e runs."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

MARKER = "# Written by scripts/develop"
INTEGRATION = "energy_local"

# Without a namespace: default_config less every integration that multicasts (zeroconf, ssdp,
# dhcp), listens to radios (bluetooth) or talks to the cloud (cloud, homeassistant_alerts,
# mobile_app via cloud, my, go2rtc). Home Assistant still loads some integrations always
# (brands images, analytics only if the user opts in): only a namespace blocks those.
# zeroconf itself still loads when an integration depends on it (ours does, for Powersensor
# discovery): NETWORK_LO_ONLY then leaves it no interface to use (see _write_network_store).
RESTRICTED_INTEGRATIONS = (
    "assist_pipeline",
    "conversation",
    "energy",
    "file",
    "history",
    "logbook",
    "media_source",
    "stream",
    "sun",
    "usage_prediction",
    "usb",
    "webhook",
)


class ConfigDirError(RuntimeError):
    """The configuration directory cannot be used as asked."""


def configuration_yaml(*, isolated: bool) -> str:
    """The ``configuration.yaml`` we write."""
    mode = "isolated (network namespace)" if isolated else "restricted (no namespace)"
    if isolated:
        integrations = "default_config:\n"
    else:
        integrations = (
            "# No network namespace here: default_config's discovery and cloud parts are left"
            " out.\n" + "".join(f"{name}:\n" for name in RESTRICTED_INTEGRATIONS)
        )
    return f"""{MARKER}, mode: {mode}.
# Remove the line above to keep your own edits; the file is then never rewritten.
{integrations}
logger:
  default: warning
  logs:
    custom_components.energy_local: debug
    # "Home Assistant initialized in …": scripts/develop waits for it.
    homeassistant.bootstrap: info
    homeassistant.components.energy: info

# The HTTP server binds to 127.0.0.1 only. Home Assistant 2026.10 keeps HTTP settings in
# .storage/http (YAML `http:` is migrated once as a "pending" trial that reverts after five
# minutes unless confirmed), so scripts/develop writes them there as the confirmed config.
"""


def http_store(port: int) -> dict[str, object]:
    """``.storage/http``: our HTTP settings as the confirmed (stable) config, nothing pending.

    The shape is ``homeassistant.components.http.config``'s (storage 2.2) with the defaults its
    schema fills in; the e2e test checks that the running server reports it as stable.
    """
    stable = {
        "server_host": ["127.0.0.1"],
        "server_port": port,
        "cors_allowed_origins": ["https://cast.home-assistant.io"],
        "login_attempts_threshold": -1,
        "ip_ban_enabled": True,
        "ssl_profile": "modern",
        "use_x_frame_options": True,
        "created_at": datetime.now(UTC).isoformat(),
        "error": None,
        "error_message": None,
    }
    return {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }


def _write_http_store(config_dir: Path, port: int) -> None:
    path = config_dir / ".storage" / "http"
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))["data"]
            stable = current["stable"]
            if (
                stable.get("server_host") == ["127.0.0.1"]
                and stable.get("server_port") == port
                and current.get("pending") is None
            ):
                return
        except ValueError, KeyError, TypeError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(http_store(port), indent=2) + "\n", encoding="utf-8")


NETWORK_LO_ONLY = {
    "version": 1,
    "minor_version": 1,
    "key": "core.network",
    "data": {"configured_adapters": ["lo"]},
}


def _write_network_store(config_dir: Path, *, isolated: bool) -> None:
    """Without a namespace, enable only loopback in Home Assistant's network settings.

    Home Assistant's zeroconf (and SSDP) use the enabled adapters' addresses but never loopback
    ones, so with only ``lo`` enabled zeroconf joins no multicast group and sends nothing.
    In a namespace the automatic choice is right (it finds the simulated plug on lo), so a
    file we wrote earlier is removed there.
    """
    path = config_dir / ".storage" / "core.network"
    ours = json.dumps(NETWORK_LO_ONLY, indent=2) + "\n"
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if not isolated and current is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ours, encoding="utf-8")
    elif not isolated and current is not None:
        try:
            adapters = json.loads(current)["data"]["configured_adapters"]
        except ValueError, KeyError, TypeError:
            adapters = None
        if adapters != ["lo"]:
            path.write_text(ours, encoding="utf-8")
    elif isolated and current is not None:
        try:
            if json.loads(current) == NETWORK_LO_ONLY:
                path.unlink()
        except ValueError:
            pass


def _link_integration(config_dir: Path, root: Path) -> None:
    target = root / "custom_components" / INTEGRATION
    link = config_dir / "custom_components" / INTEGRATION
    link.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink():
        if os.readlink(link) == relative:
            return
        link.unlink()
    elif link.exists():
        raise ConfigDirError(f"{link} exists and is not our symlink: move it away")
    link.symlink_to(relative, target_is_directory=True)


def prepare(config_dir: Path, root: Path, *, isolated: bool, port: int = 8123) -> None:
    """Create or refresh the configuration directory.

    ``configuration.yaml`` is (re)written while it carries our marker line; without the marker
    it is the user's, and is refused only when it would load default_config without a
    namespace.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = config_dir / "configuration.yaml"
    wanted = configuration_yaml(isolated=isolated)
    current = yaml_path.read_text(encoding="utf-8") if yaml_path.exists() else None
    if current is None or (current.startswith(MARKER) and current != wanted):
        yaml_path.write_text(wanted, encoding="utf-8")
    elif not isolated and any(line.strip() == "default_config:" for line in current.splitlines()):
        raise ConfigDirError(
            f"{yaml_path} loads default_config, which multicasts on your network; "
            "without root there is no network namespace to contain it. Remove it or run as root."
        )
    _link_integration(config_dir, root)
    _write_http_store(config_dir, port)
    _write_network_store(config_dir, isolated=isolated)

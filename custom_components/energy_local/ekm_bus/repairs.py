"""The repair issues of an EKM bus: what only the user can fix, or should know about."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from ..const import DOMAIN


def meter_reset(hass: HomeAssistant, subentry_id: str, address: str, fields: str) -> None:
    """A meter's totals were reset or the meter replaced (a warning the user may ignore)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"meter_reset_{subentry_id}",
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="meter_reset",
        translation_placeholders={"address": address, "fields": fields},
    )


def password_refused(hass: HomeAssistant, subentry_id: str, address: str) -> None:
    """The meter refused the stored password: only the user knows the right one."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"password_refused_{subentry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="password_refused",
        translation_placeholders={"address": address},
    )


def password_accepted(hass: HomeAssistant, subentry_id: str) -> None:
    """A command went through: the password is right again."""
    ir.async_delete_issue(hass, DOMAIN, f"password_refused_{subentry_id}")


def iostack_port(hass: HomeAssistant, entry_id: str, port: str, error: str | None) -> None:
    """Ekmdevice cannot open this (network) port; ``error`` None clears the issue."""
    issue_id = f"iostack_port_{entry_id}"
    if error is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="iostack_port_unsupported",
        translation_placeholders={"port": port, "error": error},
    )


def poll_overrun(
    hass: HomeAssistant, entry_id: str, port: str, seconds: float | None, interval: float
) -> None:
    """The meters cannot be read within the poll interval; ``seconds`` None clears the issue."""
    issue_id = f"poll_overrun_{entry_id}"
    if seconds is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="poll_overrun",
        translation_placeholders={
            "port": port,
            "seconds": f"{seconds:.1f}",
            "interval": f"{interval:g}",
        },
    )

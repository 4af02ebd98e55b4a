"""Meter and device addresses: 12 ASCII decimal digits, the serial number left-padded with 0."""

from .errors import InvalidAddressError

ADDRESS_LENGTH = 12


def normalize_address(address: int | str) -> str:
    """Return ``address`` as the 12-digit string the meter expects.

    Accepts an int (0 … 999 999 999 999) or a string of 1-12 ASCII digits (surrounding
    whitespace is ignored). Anything else raises :class:`InvalidAddressError`, which is also a
    ``ValueError``.
    """
    if isinstance(address, bool) or not isinstance(address, int | str):
        raise InvalidAddressError(f"meter address must be an int or a string, not {address!r}")
    text = str(address).strip() if isinstance(address, str) else str(address)
    if not (1 <= len(text) <= ADDRESS_LENGTH) or not text.isascii() or not text.isdigit():
        raise InvalidAddressError(f"meter address must be 1 to 12 decimal digits, got {address!r}")
    return text.zfill(ADDRESS_LENGTH)


def printed_address(address: str) -> str:
    """An address as printed on the device: without the padding zeros."""
    return address.lstrip("0") or "0"

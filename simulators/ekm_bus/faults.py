"""Fault injection: which reply goes wrong, and how, by probability or by schedule."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from custom_components.energy_local.ekm.address import normalize_address


class FaultKind(StrEnum):
    """Ways a reply can go wrong. The value is the name used on the command line."""

    CORRUPT_CRC = "crc"
    """A full frame whose CRC does not match (one CRC bit flipped)."""
    TRUNCATED = "truncated"
    """The first :attr:`FaultPlan.truncate_length` bytes, then silence."""
    NO_REPLY = "no_reply"
    """Silence (the meter heard the request; its session still opens)."""
    WRONG_ADDRESS = "wrong_address"
    """A valid frame carrying another meter's address."""
    GARBAGE = "garbage"
    """A few random 7-bit bytes (possibly STX) on the line before the reply."""
    DROP_CONNECTION = "drop"
    """The TCP server closes the client's connection instead of replying (no reply on a pty)."""


# Faults that make sense for a 1-byte ACK/NAK reply.
_ACK_FAULTS = frozenset({FaultKind.NO_REPLY, FaultKind.GARBAGE, FaultKind.DROP_CONNECTION})


@dataclass(slots=True)
class _Scheduled:
    kind: FaultKind
    remaining: int
    address: str | None


class FaultPlan:
    """Decides, reply by reply, whether a fault is injected; counts what it injected.

    Scheduled faults come first (oldest first); otherwise each kind's probability is rolled,
    in :class:`FaultKind` order, with a seeded RNG. By default only read replies (255-byte
    frames) are affected; with ``apply_to_acks`` the kinds that make sense for a 1-byte reply
    (no reply, garbage, dropped connection) also hit ACK/NAK replies.
    """

    def __init__(
        self,
        probabilities: Mapping[FaultKind, float] | None = None,
        *,
        seed: int | None = None,
        apply_to_acks: bool = False,
        truncate_length: int = 200,
    ) -> None:
        """Create a plan; ``probabilities`` maps a kind to a chance per reply (0-1)."""
        self.probabilities: dict[FaultKind, float] = {}
        for kind, probability in (probabilities or {}).items():
            self.set_probability(kind, probability)
        self.rng = random.Random(seed)
        self.apply_to_acks = apply_to_acks
        self.truncate_length = truncate_length
        self.injected: Counter[FaultKind] = Counter()
        """How many times each kind was injected."""
        self._scheduled: list[_Scheduled] = []

    def set_probability(self, kind: FaultKind, probability: float) -> None:
        """Set the chance (0-1) that a reply suffers ``kind``."""
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be within 0-1, got {probability}")
        self.probabilities[FaultKind(kind)] = probability

    def schedule(self, kind: FaultKind, count: int = 1, address: int | str | None = None) -> None:
        """Force ``kind`` on the next ``count`` replies (from ``address``, or from any meter)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        addr = normalize_address(address) if address is not None else None
        self._scheduled.append(_Scheduled(FaultKind(kind), count, addr))

    @property
    def pending(self) -> int:
        """Scheduled faults not yet injected."""
        return sum(item.remaining for item in self._scheduled)

    def clear(self) -> None:
        """Drop all schedules and probabilities (counters are kept)."""
        self._scheduled.clear()
        self.probabilities.clear()

    def choose(self, address: str, *, ack: bool = False) -> FaultKind | None:
        """Pick the fault for the next reply from ``address`` (and count it), or None."""
        if ack and not self.apply_to_acks:
            return None
        for item in self._scheduled:
            if item.address not in (None, address) or (ack and item.kind not in _ACK_FAULTS):
                continue
            item.remaining -= 1
            if item.remaining == 0:
                self._scheduled.remove(item)
            self.injected[item.kind] += 1
            return item.kind
        for kind in FaultKind:
            probability = self.probabilities.get(kind, 0.0)
            if probability and (not ack or kind in _ACK_FAULTS) and self.rng.random() < probability:
                self.injected[kind] += 1
                return kind
        return None

    def garbage(self) -> bytes:
        """A few random 7-bit bytes for :attr:`FaultKind.GARBAGE` (may include STX)."""
        return bytes(self.rng.randrange(0x80) for _ in range(self.rng.randint(2, 8)))

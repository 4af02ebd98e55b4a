"""Fault injection: which reply goes wrong, and how, by probability or by schedule."""

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from custom_components.energy_local.ekm.address import normalize_address
from custom_components.energy_local.ekm.crc import ekm_crc
from custom_components.energy_local.ekm.gate import TOTAL_FIELDS
from custom_components.energy_local.ekm.layout import FRAME_LENGTH, Field

# 7-bit bytes with STX (0x02) replaced by a space: line noise that can never start a frame.
_NO_STX = bytes(0x20 if b & 0x7F == 0x02 else b & 0x7F for b in range(256))


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
    CRC_ESCAPE = "crc_escape"
    """A digit of a total register changed and the CRC recomputed: passes every check."""
    CHATTER = "chatter"
    """:attr:`FaultPlan.chatter_length` non-frame bytes (no STX), at once, before the reply."""


# Faults that make sense for a 1-byte ACK/NAK reply.
_ACK_FAULTS = frozenset(
    {FaultKind.NO_REPLY, FaultKind.GARBAGE, FaultKind.DROP_CONNECTION, FaultKind.CHATTER}
)


@dataclass(slots=True)
class _Scheduled:
    kind: FaultKind
    remaining: int
    address: str | None
    skip: int = 0  # good replies to let through first (e.g. 1: a v4 meter's block B)


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
        chatter_length: int = 256 * 1024,
        escape_field: str | None = None,
    ) -> None:
        """Create a plan; ``probabilities`` maps a kind to a chance per reply (0-1).

        ``escape_field`` makes every CRC escape hit that total (default: a random total).
        """
        self.probabilities: dict[FaultKind, float] = {}
        for kind, probability in (probabilities or {}).items():
            self.set_probability(kind, probability)
        self.rng = random.Random(seed)
        self.apply_to_acks = apply_to_acks
        self.truncate_length = truncate_length
        self.chatter_length = chatter_length
        self.escape_field = escape_field
        self.escapes: list[tuple[str, bytes, bytes]] = []
        """Every escape injected: (field, original digits, escaped digits)."""
        self.injected: Counter[FaultKind] = Counter()
        """How many times each kind was injected."""
        self._scheduled: list[_Scheduled] = []

    def set_probability(self, kind: FaultKind, probability: float) -> None:
        """Set the chance (0-1) that a reply suffers ``kind``."""
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be within 0-1, got {probability}")
        self.probabilities[FaultKind(kind)] = probability

    def schedule(
        self,
        kind: FaultKind,
        count: int = 1,
        address: int | str | None = None,
        *,
        after: int = 0,
    ) -> None:
        """Force ``kind`` on the next ``count`` replies (from ``address``, or from any meter).

        ``after`` good replies go first: ``after=1`` hits a v4 read's block B, not its A.
        """
        if count < 1 or after < 0:
            raise ValueError("count must be at least 1, after at least 0")
        addr = normalize_address(address) if address is not None else None
        self._scheduled.append(_Scheduled(FaultKind(kind), count, addr, after))

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
            if item.skip:
                item.skip -= 1
                return None
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

    def chatter(self) -> bytes:
        """:attr:`chatter_length` random 7-bit bytes without STX (:attr:`FaultKind.CHATTER`)."""
        return self.rng.randbytes(self.chatter_length).translate(_NO_STX)

    def escape(self, frame: bytes, fields: tuple[Field, ...]) -> bytes:
        """``frame`` with one digit of a total register changed and a matching CRC.

        The digit is any of the register's, so the value may rise or fall by any power of ten
        (1050.0 -> 31050.0 is a change of the fourth digit from the left).
        """
        totals = [f for f in fields if f.name in TOTAL_FIELDS]
        if self.escape_field is not None:
            totals = [f for f in totals if f.name == self.escape_field]
        if len(frame) != FRAME_LENGTH or not totals:
            return frame
        fld = self.rng.choice(totals)
        raw = frame[fld.offset : fld.offset + fld.size]
        pos = self.rng.randrange(fld.size)
        digit = self.rng.choice([d for d in b"0123456789" if d != raw[pos]])
        escaped = raw[:pos] + bytes((digit,)) + raw[pos + 1 :]
        self.escapes.append((fld.name, raw, escaped))
        body = frame[:253]
        body = body[: fld.offset] + escaped + body[fld.offset + fld.size :]
        return body + ekm_crc(body[1:253])

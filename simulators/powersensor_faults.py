"""Faults the plug simulator can put into its readings (issue 12), one reading at a time.

Kept apart from the transport so each can be applied and tested on a plain message dict.
"""

import random
from collections.abc import Sequence
from typing import Any, Final

FAR_FUTURE: Final = 4_000_000_000
"""A start time in 2096: a plug clock glitch."""

ABSURD_STEP_JOULES: Final = 1e9
"""One summation 999 MJ ahead of the truth for one report (33 MW over 30 s)."""

CORRUPTIONS: Final = (
    "future_start",  # starttime far in the future
    "zero_start",  # starttime 0
    "before_summation_start",  # summation_start after the reading's start
    "absurd",  # summation one step 1e9 J ahead, for this report only
    "huge",  # summation 1.7e308 (valid JSON)
    "negative_huge",  # power -1.7e308
    "infinite",  # summation Infinity (Python's json writes it; strict parsers refuse it)
    "nan",  # power NaN
)
"""Kinds of corrupt report; each replaces one real report (the real one is lost)."""


def corrupt(message: dict[str, Any], kind: str) -> dict[str, Any]:
    """Return a corrupt copy of a reading ``message``."""
    bad = dict(message)
    if kind == "future_start":
        bad["starttime"] = FAR_FUTURE
    elif kind == "zero_start":
        bad["starttime"] = 0
    elif kind == "before_summation_start":
        bad["summation_start"] = bad["starttime"] + 100
    elif kind == "absurd":
        bad["summation"] = bad.get("summation", 0) + ABSURD_STEP_JOULES
    elif kind == "huge":
        bad["summation"] = 1.7e308
    elif kind == "negative_huge":
        bad["power"] = -1.7e308
    elif kind == "infinite":
        bad["summation"] = float("inf")
    elif kind == "nan":
        bad["power"] = float("nan")
    else:
        raise ValueError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")
    return bad


def maybe_corrupt(
    message: dict[str, Any], probability: float, kinds: Sequence[str], rng: random.Random
) -> dict[str, Any]:
    """With ``probability``, one of ``kinds`` applied to ``message``; else ``message``."""
    if probability > 0 and kinds and rng.random() < probability:
        return corrupt(message, rng.choice(list(kinds)))
    return message

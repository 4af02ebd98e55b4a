"""The totals gate: each event kind, the frame relations on real vectors, and properties.

The property tests drive the gate with random true counter histories and random faults
(digit escapes, zero reads, x10 and /10 glitches) and real resets, and check what is published:
never down except at a real reset, never above the truth, at most one poll behind it.
"""

import json
from dataclasses import dataclass
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.energy_local.ekm.gate import (
    GateEventKind,
    GateLimits,
    GateResult,
    TotalsGate,
)
from custom_components.energy_local.ekm.models import MeterReading, MeterValues, MeterVersion
from custom_components.energy_local.ekm.parse import (
    frame_kwh_scale,
    merge_v4,
    parse_v3,
    parse_v4_a,
    parse_v4_b,
)
from tests.conftest import load_fixture
from tests.ekm.vectors import rx_frames

ADDR = "000300001285"
LIMITS = GateLimits(max_kw=100.0)


def reading(**values: Any) -> MeterReading:
    """A v4 block-A style reading carrying ``values`` (scale 1 = tenths)."""
    values.setdefault("kWh_Scale", 1)
    return MeterReading(ADDR, MeterVersion.V4, cast("MeterValues", values), (b"\x02frame",))


def kinds(result: GateResult, name: str = "kWh_Rst") -> list[GateEventKind]:
    """The event kinds for one field."""
    return [e.kind for e in result.events if e.field == name]


def feed(gate: TotalsGate, reads: list[float], dt: float = 10.0) -> list[GateResult]:
    """Feed kWh_Rst reads at ``dt`` intervals."""
    return [gate.check(reading(kWh_Rst=v), i * dt) for i, v in enumerate(reads)]


# --- each event kind ------------------------------------------------------------------------


def test_first_read_waits_for_one_confirming_read() -> None:
    """No baseline is published from a single (possibly escaped) frame."""
    gate = TotalsGate(LIMITS)
    first, second = feed(gate, [1050.0, 1050.1])
    assert first.values == {}
    assert "kWh_Rst" not in first.apply(reading(kWh_Rst=1050.0)).values
    assert second.values == {"kWh_Rst": 1050.0}
    assert kinds(second) == [GateEventKind.ACCEPTED]


def test_increase_within_bound_published_one_poll_late() -> None:
    """An increase is published once the next read is >= it and plausible."""
    results = feed(TotalsGate(LIMITS), [10.0, 10.0, 10.1, 10.2, 10.2])
    assert [r.values["kWh_Rst"] for r in results[1:]] == [10.0, 10.0, 10.1, 10.2]


def test_increase_at_once_when_asked() -> None:
    """``confirm_every_increase=False`` publishes within-bound increases at once."""
    gate = TotalsGate(GateLimits(max_kw=100.0, confirm_every_increase=False))
    results = feed(gate, [10.0, 10.0, 10.1])
    assert results[2].values["kWh_Rst"] == 10.1
    assert kinds(results[2]) == [GateEventKind.ACCEPTED]


def test_escape_is_held_then_refused() -> None:
    """kWh 1050.0 -> 31050.0 (one digit) is held, and refused when the next read is back."""
    gate = TotalsGate(LIMITS)
    results = feed(gate, [1050.0, 1050.0, 31050.0, 1050.1, 1050.1])
    assert kinds(results[2]) == [GateEventKind.HELD]
    assert results[2].values["kWh_Rst"] == 1050.0
    assert GateEventKind.REFUSED in kinds(results[3])
    assert [r.values["kWh_Rst"] for r in results[2:]] == [1050.0, 1050.0, 1050.1]
    assert gate.counters.refused == 1
    assert gate.recent[-1].totals == {"kWh_Rst": 1050.1}
    assert gate.recent[0].frames == (b"\x02frame".hex(),)


def test_large_real_increase_is_confirmed() -> None:
    """Beyond the bound but confirmed by the next read: published one poll late."""
    gate = TotalsGate(LIMITS)
    results = feed(gate, [10.0, 10.0, 900.0, 900.2])
    assert kinds(results[2]) == [GateEventKind.HELD]
    assert kinds(results[3]) == [GateEventKind.CONFIRMED]
    assert results[3].values["kWh_Rst"] == 900.0


def test_bound_grows_with_elapsed_time() -> None:
    """After an hour offline, 100 kWh at 100 kW is plausible (not held)."""
    gate = TotalsGate(LIMITS)
    gate.check(reading(kWh_Rst=10.0), 0)
    gate.check(reading(kWh_Rst=10.0), 10)
    assert kinds(gate.check(reading(kWh_Rst=109.0), 3610)) == []
    assert kinds(gate.check(reading(kWh_Rst=109.0), 3620)) == [GateEventKind.ACCEPTED]


def test_ceiling_from_ct_ratio() -> None:
    """A 100 A CT: 100 x 3 x 600 V x 1.5 = 270 kW; 0.8 kWh in 10 s is held, 0.7 is not."""
    gate = TotalsGate()
    gate.check(reading(kWh_Rst=10.0, CT_Ratio=100), 0)
    gate.check(reading(kWh_Rst=10.0, CT_Ratio=100), 10)
    assert kinds(gate.check(reading(kWh_Rst=10.7), 20)) == []
    gate = TotalsGate()
    gate.check(reading(kWh_Rst=10.0, CT_Ratio=100), 0)
    gate.check(reading(kWh_Rst=10.0, CT_Ratio=100), 10)
    assert kinds(gate.check(reading(kWh_Rst=10.9), 20)) == [GateEventKind.HELD]


def test_zero_read_and_scale_glitches_are_held() -> None:
    """A 0 after a power cut, x10 and /10 never reach the published value."""
    gate = TotalsGate(LIMITS)
    results = feed(gate, [500.0, 500.0, 0.0, 500.1, 5001.0, 500.2, 50.0, 500.3, 500.3])
    published = [r.values["kWh_Rst"] for r in results[1:]]
    assert published == sorted(published)
    assert max(published) <= 500.3
    assert gate.counters.reset == 0


def test_consistent_lower_reads_are_a_reset() -> None:
    """Three agreeing lower reads: a replaced meter; published drops once, then counts on."""
    gate = TotalsGate(LIMITS)
    results = feed(gate, [500.0, 500.0, 2.0, 2.1, 2.1, 2.2, 2.3])
    assert [r.values["kWh_Rst"] for r in results[1:]] == [500.0, 500.0, 500.0, 2.1, 2.1, 2.2]
    assert kinds(results[2]) == [GateEventKind.HELD]
    assert kinds(results[4]) == [GateEventKind.RESET]
    assert gate.counters.reset == 1


def test_disagreeing_lower_reads_are_no_reset() -> None:
    """Low reads that do not agree with each other (glitches) never make a reset."""
    results = feed(TotalsGate(LIMITS), [500.0, 500.0, 0.0, 50.0, 0.0, 50.0, 0.0])
    assert all(r.values["kWh_Rst"] == 500.0 for r in results[1:])


def test_sub_resolution_dip_is_silent() -> None:
    """A one-poll dip of a step is held without an event; a persistent one is a reset."""
    results = feed(TotalsGate(LIMITS), [5.0, 5.0, 4.9, 5.0, 4.9, 5.0, 5.0])
    assert all(r.events == () for r in results[2:])
    assert all(r.values["kWh_Rst"] == 5.0 for r in results[1:])
    results = feed(TotalsGate(LIMITS), [0.4, 0.4, 0.0, 0.0, 0.1])
    assert kinds(results[4]) == [GateEventKind.RESET]


def test_announced_reset_is_accepted_at_once() -> None:
    """After our own zero_resettable, the next lower value is a reset immediately."""
    gate = TotalsGate(LIMITS)
    feed(gate, [88.4, 88.4])
    gate.expect_reset()
    result = gate.check(reading(kWh_Rst=0.0), 30)
    assert kinds(result) == [GateEventKind.RESET]
    assert result.values["kWh_Rst"] == 0.0
    with pytest.raises(ValueError, match="not a guarded total"):
        gate.expect_reset("RMS_Watts_Tot")


def _group(total: float, lines: tuple[float, float, float]) -> MeterReading:
    return reading(
        kWh_Tot=total, kWh_Ln_1=lines[0], kWh_Ln_2=lines[1], kWh_Ln_3=lines[2], kWh_Scale=1
    )


def test_inconsistent_group_is_held() -> None:
    """kWh_Ln_1 escaped (31050 instead of 1050): the lines group is held, not published."""
    gate = TotalsGate(LIMITS)
    gate.check(_group(3000.0, (1050.0, 1000.0, 950.0)), 0)
    gate.check(_group(3000.0, (1050.0, 1000.0, 950.0)), 10)
    result = gate.check(_group(3000.0, (31050.0, 1000.0, 950.0)), 20)
    assert set(kinds(result, "kWh_Ln_1")) == {GateEventKind.INCONSISTENT}
    assert kinds(result, "kWh_Tot") == [GateEventKind.INCONSISTENT]
    assert result.values["kWh_Ln_1"] == 1050.0


def test_small_escape_caught_by_relation_not_by_bound() -> None:
    """+1 kWh on one line is within the rate bound but breaks kWh_Tot = sum of lines."""
    gate = TotalsGate(LIMITS)
    gate.check(_group(3000.0, (1050.0, 1000.0, 950.0)), 0)
    gate.check(_group(3000.0, (1050.0, 1000.0, 950.0)), 10)
    result = gate.check(_group(3000.0, (1051.0, 1000.0, 950.0)), 20)
    assert kinds(result, "kWh_Ln_1") == [GateEventKind.INCONSISTENT]


def test_relation_a_meter_does_not_keep_is_distrusted() -> None:
    """No total freezes on a relation that never holds: after 5 readings it is not used."""
    gate = TotalsGate(LIMITS)
    for i in range(7):
        result = gate.check(_group(3000.0 + i / 10, (1000.0, 1000.0, 900.0)), i * 10.0)
    assert "lines" in gate.distrusted
    assert result.values["kWh_Tot"] == 3000.5


def test_relation_tolerates_register_rollover() -> None:
    """The total rolled over (99999999 steps -> 0) but the lines did not yet: consistent."""
    gate = TotalsGate(LIMITS)
    result = gate.check(_group(0.1, (9999999.9, 0.1, 0.1)), 0)
    assert GateEventKind.INCONSISTENT not in kinds(result, "kWh_Tot")


def test_pulse_counts_use_the_pulse_rate_bound() -> None:
    """Pulse_Cnt: 100 Hz x 10 s; published as int."""
    gate = TotalsGate(LIMITS)
    gate.check(reading(Pulse_Cnt_1=1000), 0)
    gate.check(reading(Pulse_Cnt_1=1000), 10)
    assert kinds(gate.check(reading(Pulse_Cnt_1=1900), 20), "Pulse_Cnt_1") == []
    gate.check(reading(Pulse_Cnt_1=1900), 30)
    held = gate.check(reading(Pulse_Cnt_1=9900), 40)
    assert kinds(held, "Pulse_Cnt_1") == [GateEventKind.HELD]
    assert held.apply(reading(Pulse_Cnt_1=9900)).values["Pulse_Cnt_1"] == 1900
    assert isinstance(held.apply(reading(Pulse_Cnt_1=9900)).values["Pulse_Cnt_1"], int)


def test_recent_frames_are_bounded() -> None:
    """Diagnostics keep only the last few gated frames."""
    gate = TotalsGate(LIMITS)
    feed(gate, [100.0, 100.0] + [100.0, 9000.0] * 30)
    assert len(gate.recent) == LIMITS.recent_frames


# --- relations on the real vectors ------------------------------------------------------------


def _real_readings() -> list[MeterReading]:
    out = []
    for name in ("read_v4_AB", "read_v4_AB_kwh_scale2"):
        frame_a, frame_b = rx_frames(name)[:2]
        a = parse_v4_a(frame_a, ADDR)
        b = parse_v4_b(frame_b, ADDR, frame_kwh_scale(frame_a))
        out.append(MeterReading(ADDR, MeterVersion.V4, merge_v4(a, b), (frame_a, frame_b)))
    frames = load_fixture("ekm/frames_meter_responses.json")
    v3_frame = bytes.fromhex(frames["v3_read_response"]["hex"])
    v3_values = parse_v3(v3_frame, v3_frame[4:16].decode())
    out.append(MeterReading(v3_frame[4:16].decode(), MeterVersion.V3, v3_values, (v3_frame,)))
    return out


def test_relations_hold_on_real_vectors() -> None:
    """Every real frame keeps kWh_Tot = sum(lines) = sum(tariffs) (and reverse) exactly."""
    for real in _real_readings():
        gate = TotalsGate()
        result = gate.check(real, 0.0)
        assert GateEventKind.INCONSISTENT not in {e.kind for e in result.events}, real.version
        assert not gate.distrusted


# --- persistence -------------------------------------------------------------------------------


def test_export_restore_round_trip() -> None:
    """The baseline survives a restart; the first lower read after it is held, not published."""
    gate = TotalsGate(LIMITS)
    feed(gate, [1050.0, 1050.0])
    gate.expect_reset("Rev_kWh_Rst")
    data = json.loads(json.dumps(gate.export()))
    restored = TotalsGate.restore(data, LIMITS)
    assert restored.published == {"kWh_Rst": 1050.0}
    assert kinds(restored.check(reading(kWh_Rst=0.0), 0.0)) == [GateEventKind.HELD]
    assert restored.export()["reset_expected"] == ["Rev_kWh_Rst"]


def test_restored_baseline_needs_a_confirming_read_even_in_fast_mode() -> None:
    """After a restart the elapsed time is unknown: an increase waits for the next read."""
    fast = GateLimits(max_kw=100.0, confirm_every_increase=False)
    restored = TotalsGate.restore({"version": 1, "published": {"kWh_Rst": 1050.0}}, fast)
    assert restored.check(reading(kWh_Rst=31050.0), 0.0).values["kWh_Rst"] == 1050.0
    assert restored.check(reading(kWh_Rst=1050.1), 10.0).values["kWh_Rst"] == 1050.0


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "x",
        {"version": 2, "published": {}},
        {"version": 1},
        {"version": 1, "published": {"kWh_Rst": "1"}},
        {"version": 1, "published": {"RMS_Watts_Tot": 1.0}},
        {"version": 1, "published": {"kWh_Rst": float("nan")}},
        {"version": 1, "published": {"kWh_Rst": -1.0}},
        {"version": 1, "published": {"kWh_Rst": True}},
        {"version": 1, "published": {}, "ct_ratio": "200"},
        {"version": 1, "published": {}, "distrusted": ["nope"]},
        {"version": 1, "published": {}, "reset_expected": [3]},
    ],
)
def test_restore_discards_garbage(garbage: object) -> None:
    """Malformed stored state gives a fresh gate (no baseline), never an exception."""
    gate = TotalsGate.restore(garbage)
    assert gate.published == {}
    assert gate.ct_ratio is None


# --- properties ------------------------------------------------------------------------------

FAULTS = ("escape", "zero", "x10", "div10")
MAX_TRUE_KW = 90.0  # below LIMITS.max_kw


@dataclass
class Poll:
    """One poll of the model: elapsed seconds, true energy added (kWh), and what goes wrong."""

    dt: float
    kwh: float
    fault: str | None
    digit: int
    new_digit: int
    reset_to: float | None
    target: int  # which register of a group an escape hits


@st.composite
def histories(draw: st.DrawFn) -> list[Poll]:
    """Random histories: faults never on two polls in a row, resets well apart."""
    n = draw(st.integers(5, 60))
    polls: list[Poll] = []
    quiet = 0  # polls that must stay clean (after a fault or a reset)
    for _ in range(n):
        dt = draw(st.floats(1.0, 120.0))
        kwh = draw(st.floats(0.0, 1.0)) * MAX_TRUE_KW * dt / 3600
        fault: str | None = None
        reset_to: float | None = None
        if quiet == 0:
            roll = draw(st.integers(0, 9))
            if roll < 4:
                fault = FAULTS[roll]
                quiet = 1
            elif roll == 4:
                reset_to = draw(st.sampled_from([0.0, 0.5, 17.3]))
                quiet = LIMITS.reset_polls + 1
        else:
            quiet -= 1
        polls.append(
            Poll(
                dt,
                kwh,
                fault,
                draw(st.integers(0, 7)),
                draw(st.integers(0, 9)),
                reset_to,
                draw(st.integers(0, 3)),
            )
        )
    return polls


def _escape(steps: int, digit: int, new_digit: int) -> int:
    text = list(f"{steps:08d}")
    if text[digit] == str(new_digit):
        new_digit = (new_digit + 1) % 10
    text[digit] = str(new_digit)
    return int("".join(text))


def _read(true_kwh: float, poll: Poll, *, escaped: bool = True) -> float:
    steps = int(true_kwh * 10 + 1e-9)  # the register truncates to tenths
    if poll.fault == "escape" and escaped:
        steps = _escape(steps, poll.digit, poll.new_digit)
    elif poll.fault == "zero":
        steps = 0
    elif poll.fault == "x10":
        steps = min(steps * 10, 10**8 - 1)
    elif poll.fault == "div10":
        steps //= 10
    return steps / 10


def run(polls: list[Poll], start: float) -> tuple[list[dict[str, float]], list[GateResult]]:
    """One register alone (kWh_Rst: no relation vouches for it): truths and results per poll."""
    gate = TotalsGate(LIMITS)
    true = start
    now = 0.0
    trues, results = [], []
    for poll in polls:
        now += poll.dt
        true = poll.reset_to if poll.reset_to is not None else true + poll.kwh
        trues.append({"kWh_Rst": true})
        results.append(gate.check(reading(kWh_Rst=_read(true, poll)), now))
    return trues, results


SHARES = (0.5, 0.3, 0.2)
GROUP = ("kWh_Tot", "kWh_Ln_1", "kWh_Ln_2", "kWh_Ln_3")


def run_group(polls: list[Poll], start: float) -> tuple[list[dict[str, float]], list[GateResult]]:
    """kWh_Tot and three lines (kWh_Tot = sum of lines), an escape hitting one of the four."""
    gate = TotalsGate(LIMITS)
    lines = [start * share for share in SHARES]
    now = 0.0
    trues, results = [], []
    for poll in polls:
        now += poll.dt
        for n, share in enumerate(SHARES):
            base = poll.reset_to * share if poll.reset_to is not None else lines[n]
            lines[n] = base + (0.0 if poll.reset_to is not None else poll.kwh * share)
        true = dict(zip(GROUP, (sum(lines), *lines), strict=True))
        trues.append(true)
        reads = {
            name: _read(value, poll, escaped=GROUP.index(name) == poll.target)
            for name, value in true.items()
        }
        results.append(gate.check(reading(**reads), now))
    return trues, results


def check_properties(
    polls: list[Poll], trues: list[dict[str, float]], results: list[GateResult], name: str
) -> None:
    """Never down except at a real reset; never above the truth; at most one poll behind."""
    published = [r.values.get(name) for r in results]
    reset_at = [i for i, p in enumerate(polls) if p.reset_to is not None]
    window = LIMITS.reset_polls
    for i, value in enumerate(published):
        clean = bool(i) and polls[i].fault is None and polls[i - 1].fault is None
        settled = all(not 0 <= i - r <= window for r in reset_at)
        if value is None:
            # No baseline yet: only until two clean polls in a row.
            assert not (clean and settled), i
            continue
        after_reset = any(0 <= i - r < window for r in reset_at)
        if not after_reset:
            # Never above the truth (once a real reset has been accepted).
            assert value <= trues[i][name] + 1e-6, (i, value, trues[i][name])
        prev = published[i - 1] if i else None
        if prev is not None and value < prev - 1e-6:
            # Only a real reset, accepted after reset_polls agreeing reads.
            assert any(i - r == window - 1 for r in reset_at), (i, prev, value)
            assert GateEventKind.RESET in kinds(results[i], name)
        # Lag: two clean polls in a row publish at least the first one's (truncated) truth.
        if clean and settled:
            truncated = int(trues[i - 1][name] * 10 + 1e-9) / 10
            assert value >= truncated - 1e-6, (i, value, trues[i - 1][name])
    if not reset_at:
        assert not any(e.kind is GateEventKind.RESET for r in results for e in r.events)


@settings(max_examples=400, deadline=None)
@given(histories(), st.floats(0.0, 99_000.0))
def test_published_never_spikes_drops_or_lags(polls: list[Poll], start: float) -> None:
    """One unrelated register: the rate bound and confirming reads alone keep it right."""
    trues, results = run(polls, start)
    check_properties(polls, trues, results, "kWh_Rst")


@settings(max_examples=300, deadline=None)
@given(histories(), st.floats(0.0, 99_000.0))
def test_group_never_spikes_drops_or_lags(polls: list[Poll], start: float) -> None:
    """kWh_Tot and its lines, escapes in any one of them: every field keeps the properties."""
    trues, results = run_group(polls, start)
    for name in GROUP:
        check_properties(polls, trues, results, name)

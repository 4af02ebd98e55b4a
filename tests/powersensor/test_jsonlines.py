"""Splitting datagrams and TCP streams into JSON objects."""

from typing import Any

from custom_components.energy_local.powersensor.jsonlines import (
    MAX_LINE_BYTES,
    DatagramDecoder,
    StreamDecoder,
    parse_line,
)
from custom_components.energy_local.powersensor.stats import PlugStats

A = b'{"type": "instant_power", "n": 1}'
B = b'{"type": "instant_power", "n": 2}'


def datagram_decoder() -> tuple[DatagramDecoder, list[Any], list[bytes], PlugStats]:
    messages: list[Any] = []
    lines: list[bytes] = []
    stats = PlugStats()
    return DatagramDecoder(messages.append, stats, lines.append), messages, lines, stats


def test_parse_line_accepts_only_json_objects() -> None:
    assert parse_line(A + b"\n") == {"type": "instant_power", "n": 1}
    for bad in (b"not json", b"[1]", b"3", b"\xff\xfe", b'"text"', b"{"):
        assert parse_line(bad) is None


def test_one_line_with_or_without_lf() -> None:
    decoder, messages, lines, stats = datagram_decoder()
    decoder.feed(A + b"\n")
    decoder.feed(B)
    assert [m["n"] for m in messages] == [1, 2]
    assert lines == [A, B]
    assert stats.lines == 2
    assert stats.malformed_lines == 0


def test_several_lines_in_one_datagram_and_bad_ones_between() -> None:
    decoder, messages, _, stats = datagram_decoder()
    decoder.feed(A + b"\n\n not json\n\xff\xfe\n[1]\r\n" + B + b"\r\n")
    assert [m["n"] for m in messages] == [1, 2]
    assert stats.malformed_lines == 3


def test_a_line_split_over_two_datagrams_is_joined() -> None:
    decoder, messages, _, stats = datagram_decoder()
    decoder.feed(A + b"\n" + B[:10])
    decoder.feed(B[10:] + b"\n" + A)
    assert [m["n"] for m in messages] == [1, 2, 1]
    assert stats.joined_lines == 1
    assert stats.malformed_lines == 0


def test_a_fragment_that_is_not_completed_is_counted_once() -> None:
    decoder, messages, _, stats = datagram_decoder()
    decoder.feed(B[:10])
    decoder.feed(A)  # a whole line on its own: the fragment was junk
    assert [m["n"] for m in messages] == [1]
    assert stats.malformed_lines == 1
    decoder.feed(B[:10])
    decoder.feed(b"garbage}\n")  # joined text is no JSON either: both are bad
    assert stats.malformed_lines == 3
    decoder.feed(B[:10])
    decoder.feed(b"\n" + A)  # an empty head
    assert stats.malformed_lines == 4
    decoder.feed(b"junk")
    decoder.flush()
    decoder.flush()
    assert stats.malformed_lines == 5
    assert [m["n"] for m in messages] == [1, 1]


def test_overlong_unterminated_junk_is_not_kept() -> None:
    decoder, _, _, stats = datagram_decoder()
    decoder.feed(b"x" * (MAX_LINE_BYTES + 1))
    assert stats.malformed_lines == 1
    decoder.flush()
    assert stats.malformed_lines == 1


def test_stream_lines_split_anywhere() -> None:
    messages: list[Any] = []
    lines: list[bytes] = []
    stats = PlugStats()
    decoder = StreamDecoder(messages.append, stats, lines.append)
    stream = A + b"\n\nnot json\n" + B + b"\r\n" + A + b"\n"
    for index in range(len(stream)):
        decoder.feed(stream[index : index + 1])
    assert [m["n"] for m in messages] == [1, 2, 1]
    assert lines == [A, B, A]
    assert stats.malformed_lines == 1
    decoder.feed(B[:5])
    decoder.reset()
    decoder.reset()
    assert stats.malformed_lines == 2
    decoder.feed(b"y" * (MAX_LINE_BYTES + 1))
    assert stats.malformed_lines == 3
    decoder.feed(b"\n" + B + b"\n")
    assert [m["n"] for m in messages] == [1, 2, 1, 2]

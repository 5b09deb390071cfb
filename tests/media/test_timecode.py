"""Timecodes as frame numbers: non-drop and drop-frame, both ways."""

from __future__ import annotations

from fractions import Fraction

import pytest

from comfycine.media.errors import MediaError
from comfycine.media.timecode import format_timecode, parse_timecode, rate_text

NTSC = Fraction(30000, 1001)


def test_non_drop_counts_at_the_nominal_rate() -> None:
    """01:00:00:00 is frame 86400 at 24 and at 23.976 (both count 24 a second)."""
    assert parse_timecode("01:00:00:00", Fraction(24)) == (86400, False)
    assert parse_timecode("01:00:00:00", Fraction(24000, 1001)) == (86400, False)
    assert format_timecode(86400 + 30, Fraction(24000, 1001)) == "01:00:01:06"


def test_drop_frame_skips_two_numbers_a_minute_but_every_tenth() -> None:
    """At 29.97 DF, 00:01:00;02 follows 00:00:59;29 and 00:10:00;00 is frame 17982."""
    assert parse_timecode("00:00:59;29", NTSC) == (1799, True)
    assert parse_timecode("00:01:00;02", NTSC) == (1800, True)
    assert parse_timecode("00:10:00;00", NTSC) == (17982, True)
    assert parse_timecode("01:00:00;00", NTSC) == (107892, True)


def test_drop_frame_round_trips_over_twenty_minutes() -> None:
    """Every frame of 20 minutes of 29.97 DF formats and parses back to itself."""
    for frame in range(0, 20 * 60 * 30, 7):
        text = format_timecode(frame, NTSC, drop=True)
        assert parse_timecode(text, NTSC) == (frame, True), text


def test_unusable_timecodes_are_refused_clearly() -> None:
    """Drop-frame at 24 fps, a skipped DF number and a non-timecode raise one code."""
    for text, rate in (("01:00:00;00", Fraction(24)), ("00:01:00;00", NTSC), ("1h", NTSC)):
        with pytest.raises(MediaError) as caught:
            parse_timecode(text, rate)
        assert caught.value.code == "timecode_unreadable"
        assert text in caught.value.message


def test_rates_read_as_editors_write_them() -> None:
    """24, 23.976, 29.97 and 12.5."""
    rates = [Fraction(24), Fraction(24000, 1001), NTSC, Fraction(25, 2)]
    assert [rate_text(r) for r in rates] == ["24", "23.976", "29.97", "12.5"]

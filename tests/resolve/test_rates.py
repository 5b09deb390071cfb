"""Resolve's rate texts and timecodes as exact numbers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from comfycine.errors import UsageError
from comfycine.resolve.rates import is_drop_frame, parse_rate, timecode_frames

NTSC_24 = Fraction(24000, 1001)
NTSC_30 = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("23.976", NTSC_24),
        ("29.97", NTSC_30),
        ("59.94", Fraction(60000, 1001)),
        ("47.952", Fraction(48000, 1001)),
        ("29.97 DF", NTSC_30),
        ("24", Fraction(24)),
        ("25", Fraction(25)),
        (23.976, NTSC_24),
        ("24.000", Fraction(24)),
    ],
)
def test_rates_are_exact(text: object, rate: Fraction) -> None:
    """NTSC decimals become N×1000/1001; whole rates stay whole."""
    assert parse_rate(text) == rate


def test_drop_frame_is_read_from_the_suffix() -> None:
    """``29.97 DF`` is drop frame, ``29.97`` is not."""
    assert is_drop_frame("29.97 DF") and not is_drop_frame("29.97")


def test_unreadable_rate_is_a_usage_error() -> None:
    """A rate text with no positive number: invalid_frame_rate."""
    with pytest.raises(UsageError) as caught:
        parse_rate("variable")
    assert caught.value.code == "invalid_frame_rate"


@pytest.mark.parametrize(
    ("timecode", "rate", "frames"),
    [
        ("01:00:00:00", NTSC_24, 86400),
        ("14:03:10:05", NTSC_24, (14 * 3600 + 3 * 60 + 10) * 24 + 5),
        ("01:00:00;00", NTSC_30, 107892),
        ("00:01:00;02", NTSC_30, 1800),
        ("00:10:00;00", NTSC_30, 17982),
        ("", NTSC_24, 0),
    ],
)
def test_timecodes_count_frames(timecode: str, rate: Fraction, frames: int) -> None:
    """Non-drop counts nominal frames; ``;`` drops 2 labels a minute except every tenth."""
    assert timecode_frames(timecode, rate) == frames


def test_unreadable_timecode_is_a_usage_error() -> None:
    """A Start TC that is not HH:MM:SS:FF: invalid_timecode."""
    with pytest.raises(UsageError) as caught:
        timecode_frames("1h", NTSC_24)
    assert caught.value.code == "invalid_timecode"

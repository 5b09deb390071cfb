"""Exact rates and times: OTIO floats, FCPXML rationals and timecode."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from comfycine.errors import UsageError
from comfycine.timeline.timing import (
    exact_rate,
    fcp_time,
    parse_fcp_time,
    parse_rate,
    parse_timecode,
    rational_time,
    seconds_of,
    timecode,
)


@pytest.mark.parametrize(
    ("given", "rate"),
    [
        (23.976023976023978, Fraction(24000, 1001)),
        (23.976, Fraction(24000, 1001)),
        ("23.98", Fraction(24000, 1001)),
        (29.97, Fraction(30000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (25.0, Fraction(25)),
        ("24000/1001", Fraction(24000, 1001)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_exact_rate_recognises_ntsc_and_whole_rates(given: object, rate: Fraction) -> None:
    """Float and typed rates come out as the exact fractions editors mean."""
    assert exact_rate(given) == rate  # type: ignore[arg-type]


def test_seconds_of_an_otio_time_at_23976_is_exact() -> None:
    """Frames at OTIO's float 23.976 convert to exact 1001/24000 seconds each."""
    time = otio.opentime.RationalTime(86402, 24000 / 1001)
    assert seconds_of(time) == Fraction(86402 * 1001, 24000)
    assert seconds_of(rational_time(Fraction(1001, 2000), Fraction(24000, 1001))) == Fraction(
        1001, 2000
    )


def test_fcpxml_times_parse_and_print() -> None:
    """``1001/24000s``, ``3600s`` and ``0s`` parse; seconds print back the same way."""
    assert parse_fcp_time("1001/24000s") == Fraction(1001, 24000)
    assert parse_fcp_time("3600/1s") == 3600
    assert parse_fcp_time(None) == 0
    assert fcp_time(Fraction(1001, 24000)) == "1001/24000s"
    assert fcp_time(Fraction(5)) == "5s"


def test_timecode_parses_non_drop_and_drop_frame() -> None:
    """NDF counts nominal frames; ``;`` at 29.97 drops two frame numbers a minute."""
    assert parse_timecode("01:00:00:00", Fraction(24)) == 3600
    assert parse_timecode("01:00:00:00", Fraction(24000, 1001)) == Fraction(86400 * 1001, 24000)
    ntsc = Fraction(30000, 1001)
    assert parse_timecode("00:01:00;02", ntsc) * ntsc == 1800
    assert parse_timecode("00:10:00;00", ntsc) * ntsc == 17982
    assert timecode(Fraction(3601), Fraction(24)) == "01:00:01:00"
    with pytest.raises(ValueError):
        parse_timecode("00:00:00:24", Fraction(24))


def test_parse_rate_defaults_and_refuses_nonsense() -> None:
    """No ``--rate`` gives the default; a word is a usage error naming the flag."""
    assert parse_rate(None, Fraction(24)) == 24
    assert parse_rate("25", Fraction(24)) == 25
    with pytest.raises(UsageError) as caught:
        parse_rate("fast", Fraction(24))
    assert caught.value.code == "invalid_parameter" and "--rate" in caught.value.message

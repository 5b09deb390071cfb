"""Resolve's frame rates and timecodes as exact numbers.

Resolve reports rates as text: the project/timeline setting ``timelineFrameRate`` is one
of the rates of the Project Settings menu, with `` DF`` appended for drop frame
("29.97 DF"), and a media pool item's ``FPS`` clip property is a decimal ("23.976").
The NTSC family is N×1000/1001 exactly; a decimal within 0.01 of one of them is that
rate (23.976 → 24000/1001, 29.97 → 30000/1001, 59.94 → 60000/1001).
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import UsageError


def parse_rate(value: object) -> Fraction:
    """The exact rate for Resolve's text (``"24"``, ``"23.976"``, ``"29.97 DF"``) or number.

    Raises UsageError (``invalid_frame_rate``) when there is no positive rate in it.
    """
    text = str(value).strip().upper()
    for suffix in ("NDF", "DF"):
        text = text.removesuffix(suffix).strip()
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        raise UsageError(
            f"Resolve gave a frame rate comfycine cannot read: {value!r}.",
            hint="Check the timeline's frame rate in Resolve's Project Settings.",
            code="invalid_frame_rate",
        )
    whole = round(rate)
    ntsc = Fraction(whole * 1000, 1001)
    if rate.denominator != 1 and abs(rate - ntsc) < Fraction(1, 100):
        return ntsc
    return rate


def is_drop_frame(value: object) -> bool:
    """True for a drop-frame rate setting ("29.97 DF")."""
    text = str(value).strip().upper()
    return text.endswith("DF") and not text.endswith("NDF")


def timecode_frames(timecode: str, rate: Fraction) -> int:
    """The frame count ``HH:MM:SS:FF`` stands for at ``rate`` (``;`` before the frames
    marks drop frame, whose labels skip 2 numbers a minute, 4 at 59.94, except every
    tenth minute). An empty timecode is frame 0; raises UsageError when unreadable."""
    from ..media.errors import MediaError
    from ..media.timecode import parse_timecode

    text = timecode.strip()
    if not text:
        return 0
    try:
        number, _ = parse_timecode(text, rate)
    except MediaError:
        raise UsageError(
            f"Resolve gave a timecode comfycine cannot read: {timecode!r}.",
            hint="Check the clip's Start TC in Resolve's Clip Attributes.",
            code="invalid_timecode",
        ) from None
    return number


def frames_at(seconds: Fraction, rate: Fraction) -> int:
    """``seconds`` in whole frames at ``rate`` (rounded: exact for frame-aligned times)."""
    return round(seconds * rate)

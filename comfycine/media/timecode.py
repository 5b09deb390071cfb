"""SMPTE timecodes as frame numbers, and frame rates as people write them.

A timecode counts frames at the *nominal* rate: 24 for 23.976 (24000/1001), 30 for
29.97. Non-drop-frame (``01:00:00:00``) numbers every frame; drop-frame
(``01:00:00;00``, only at 29.97, 59.94 … : 1001-denominator rates that are multiples of
30 nominal) skips numbers 0 and 1 (0–3 at 59.94) each minute except every tenth, so
the timecode keeps up with the clock. FFmpeg writes drop-frame with ``;`` before the
frames, as here.
"""

from __future__ import annotations

import re
from fractions import Fraction

from comfycine.media.errors import MediaError

# ``;`` before the frames marks drop-frame; ``:`` and ``.`` (some tools) do not. Resolve
# writes other separators between the first fields too.
_PATTERN = re.compile(r"(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{2,3})")
_DAY_HOURS = 24


def nominal_fps(rate: Fraction) -> int:
    """The whole number a timecode counts frames at (24 for 24000/1001; at least 1)."""
    return max(1, round(rate))


def can_drop(rate: Fraction) -> bool:
    """True when drop-frame timecode exists at ``rate`` (29.97, 59.94, 119.88)."""
    return rate.denominator == 1001 and nominal_fps(rate) % 30 == 0


def rate_text(rate: Fraction) -> str:
    """A rate as editors write it: ``24``, ``23.976``, ``29.97``, ``12.5``."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def parse_timecode(text: str, rate: Fraction) -> tuple[int, bool]:
    """``HH:MM:SS:FF`` (``;`` before FF: drop-frame) → (frame number at ``rate``, drop).

    Raises ``timecode_unreadable`` for another form, a frame field past the rate, or
    drop-frame at a rate that has none.
    """
    match = _PATTERN.fullmatch(text.strip())
    fps = nominal_fps(rate)
    if match is None:
        raise _bad(text, "it is not HH:MM:SS:FF")
    hours, minutes, seconds, mark, frame = match.groups()
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frame)
    drop = mark == ";"
    if m > 59 or s > 59 or f >= fps:
        raise _bad(text, f"a field is out of range at {rate_text(rate)} fps")
    if drop and not can_drop(rate):
        raise _bad(text, f"drop-frame timecode does not exist at {rate_text(rate)} fps")
    number = ((h * 60 + m) * 60 + s) * fps + f
    if drop:
        skip = fps // 15  # numbers dropped a minute: 2 at 29.97, 4 at 59.94
        if s == 0 and f < skip and m % 10:
            raise _bad(text, "that frame number is skipped in drop-frame")
        total_minutes = h * 60 + m
        number -= skip * (total_minutes - total_minutes // 10)
    return number, drop


def format_timecode(frame: int, rate: Fraction, *, drop: bool = False) -> str:
    """Frame number ``frame`` as a timecode at ``rate`` (wrapping at 24 hours).

    ``drop`` asks for drop-frame; it is ignored at a rate that has none.
    """
    fps = nominal_fps(rate)
    drop = drop and can_drop(rate)
    if drop:
        skip = fps // 15
        per_ten = fps * 600 - 9 * skip  # frames in ten minutes of drop-frame
        per_minute = fps * 60 - skip
        tens, rest = divmod(max(0, frame), per_ten)
        frame = frame + 9 * skip * tens
        if rest > skip:
            frame += skip * ((rest - skip) // per_minute)
    seconds, f = divmod(max(0, frame), fps)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours % _DAY_HOURS:02d}:{m:02d}:{s:02d}{';' if drop else ':'}{f:02d}"


def _bad(text: str, why: str) -> MediaError:
    return MediaError(
        f"Cannot use the timecode {text!r}: {why}.",
        code="timecode_unreadable",
        hint="Check the clip's timecode in the editor (it may need re-exporting).",
        details={"timecode": text},
    )

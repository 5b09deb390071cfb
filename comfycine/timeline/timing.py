"""Exact time for timelines: rates as fractions, seconds as fractions, timecode.

OpenTimelineIO keeps a rate as a float (23.976023976…) and a time as a float count of
frames at that rate; editors mean 24000/1001 and whole frames. These helpers turn
OTIO's numbers back into the exact fractions the conform works in, and parse the
time notations of FCPXML (``1001/24000s``) and SMPTE timecode (``01:00:00:00``,
``;`` before the frames for drop-frame).

Nothing here imports ``opentimelineio`` at module level.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from ..errors import UsageError

# A float frame count this close to a whole number is that whole number: OTIO's
# rescaling between float rates leaves ~1e-9 of noise.
FRAME_EPSILON = 1e-6


def exact_rate(rate: float | int | Fraction | str) -> Fraction:
    """``23.976023976`` → ``24000/1001``; ``25.0`` → ``25``; ``"29.97"`` → ``30000/1001``.

    A float that is a whole number × 1000/1001 (to 1e-3 of a frame a second) is an NTSC
    rate; ``23.976``/``23.98``/``29.97``/``59.94`` as typed by people count too.
    """
    if isinstance(rate, Fraction):
        return rate
    if isinstance(rate, str):
        text = rate.strip()
        if "/" in text:
            return Fraction(text)
        rate = float(text)
    value = float(rate)
    if value <= 0 or not math.isfinite(value):
        raise ValueError(f"not a frame rate: {rate!r}")
    if abs(value - round(value)) < 1e-6:
        return Fraction(round(value))
    nominal = round(value * 1001 / 1000)
    # 23.976/23.98/29.97/59.94 are how people (and FCPXML's conform-rate) write NTSC.
    if nominal and abs(value - nominal * 1000 / 1001) < 0.006:
        return Fraction(nominal * 1000, 1001)
    return Fraction(value).limit_denominator(1001)


def frames_of(value: float) -> Fraction:
    """A float frame count as an exact number: whole when it is within noise of one."""
    if abs(value - round(value)) < FRAME_EPSILON:
        return Fraction(round(value))
    return Fraction(value).limit_denominator(1_000_000)


def seconds_of(time: Any) -> Fraction:
    """An OTIO ``RationalTime`` as exact seconds (its rate read as :func:`exact_rate`)."""
    return frames_of(float(time.value)) / exact_rate(float(time.rate))


def rational_time(seconds: Fraction, rate: Fraction) -> Any:
    """Exact seconds as an OTIO ``RationalTime`` counted in frames at ``rate``."""
    import opentimelineio as otio

    return otio.opentime.RationalTime(float(seconds * rate), float(rate))


def time_range(start: Fraction, duration: Fraction, rate: Fraction) -> Any:
    """Exact seconds as an OTIO ``TimeRange`` counted in frames at ``rate``."""
    import opentimelineio as otio

    return otio.opentime.TimeRange(rational_time(start, rate), rational_time(duration, rate))


def parse_fcp_time(text: str | None) -> Fraction:
    """An FCPXML time (``"1001/24000s"``, ``"5s"``, ``"3600/1s"``) as seconds; None → 0."""
    if not text:
        return Fraction(0)
    body = text.strip().removesuffix("s")
    if "/" in body:
        numerator, denominator = body.split("/", 1)
        return Fraction(int(numerator), int(denominator))
    return Fraction(body)


def fcp_time(seconds: Fraction) -> str:
    """Seconds as an FCPXML time: ``"0s"``, ``"5s"`` or ``"1001/24000s"``."""
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    return f"{seconds.numerator}/{seconds.denominator}s"


def nominal_fps(rate: Fraction) -> int:
    """The frames counted per timecode second: 24 for 24000/1001, 30 for 29.97."""
    return math.ceil(rate - Fraction(1, 1000))


def parse_timecode(text: str, rate: Fraction) -> Fraction:
    """SMPTE timecode as seconds at ``rate``; ``;`` before the frames means drop-frame
    (read by :func:`comfycine.media.timecode.parse_timecode`).

    Raises ValueError when the text is not a timecode or its frames exceed the rate.
    """
    from ..media.errors import MediaError
    from ..media.timecode import parse_timecode as frame_number

    try:
        number, _ = frame_number(text, rate)
    except MediaError as exc:
        raise ValueError(exc.message) from None
    return Fraction(number) / rate


def timecode(seconds: Fraction, rate: Fraction) -> str:
    """Seconds as non-drop-frame timecode ``HH:MM:SS:FF`` (frames rounded)."""
    fps = nominal_fps(rate)
    count = round(seconds * rate)
    frames = count % fps
    total = count // fps
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}:{frames:02d}"


def parse_rate(value: str | float | int | Fraction | None, default: Fraction) -> Fraction:
    """A ``--rate`` value (``24``, ``23.976``, ``24000/1001``) or ``default`` when None.

    Raises UsageError (``invalid_parameter``) for anything that is not a positive rate.
    """
    if value is None or value == "":
        return default
    try:
        return exact_rate(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise UsageError(
            f"--rate takes a frame rate (24, 25, 23.976, 24000/1001); got {value!r}.",
            hint="e.g. --rate 23.976 for an EDL of a 23.976 fps timeline",
            code="invalid_parameter",
        ) from exc

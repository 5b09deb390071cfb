"""One decoding pass over a video: does it decode to the end, and where is it black or
frozen?

Each frame is shrunk by swscale to a grey picture :data:`WIDTH` px wide (area
averaging: grain and compression noise mostly cancel out), then tested in plain Python
on those ~2,300 bytes, which costs far less than decoding the frame did.

- **Black** (as FFmpeg's ``blackdetect``): a pixel is dark at ≤ 10 % of the range
  (:data:`PIXEL_BLACK`), and a frame is black when ≥ 98 % of its pixels are
  (:data:`PICTURE_BLACK`).
- **Frozen**: a frame whose mean absolute difference from the first frame of the
  stretch is under :data:`FROZEN_NOISE` grey levels. Comparing with the stretch's first
  frame, not the previous one, keeps a slow fade or drift from passing as frozen. Black
  frames do not count as frozen (a black stretch is reported as black only).

Stretches shorter than the thresholds are kept apart in :attr:`FrameScan.runs` (a QC
uses them to tell a render's black stretch from the source's own fade, even when the
source's is shorter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from operator import sub
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfycine.media.frames import Decoder, open_video

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

WIDTH = 64  # px of the grey copy a frame is judged on
PIXEL_BLACK = 0.10  # of the range: blackdetect's pix_th
PICTURE_BLACK = 0.98  # of the pixels: blackdetect's picture_black_ratio_th
# Mean absolute difference from the stretch's first frame, in 8-bit grey levels of the
# 64-px copy, under which a frame is the same picture. Measured on 1280×720 H.264 (CRF
# 12 and 23): one picture encoded 24 times (a stuck render) ≤ 0.03; a static shot whose
# grain changes every frame 0.13–0.44 (not frozen: the camera ran); a 1 px/frame pan
# ≥ 1.1. So 0.1: four times the re-encoding noise, under live grain.
FROZEN_NOISE = 0.1
_DARK = bytes(1 if value <= round(PIXEL_BLACK * 255) else 0 for value in range(256))


@dataclass(frozen=True)
class Stretch:
    """A run of black or frozen frames: ``count`` frames from frame ``first``."""

    kind: str  # "black" | "frozen"
    first: int
    count: int
    rate: Fraction

    @property
    def last(self) -> int:
        """The stretch's last frame."""
        return self.first + self.count - 1

    @property
    def start(self) -> Fraction:
        """Seconds from the clip's start to the stretch."""
        return self.first / self.rate

    @property
    def seconds(self) -> Fraction:
        """How long the stretch lasts."""
        return self.count / self.rate

    def to_dict(self) -> dict[str, Any]:
        """The stretch for JSON: frames, and seconds rounded to the millisecond."""
        return {
            "kind": self.kind,
            "first": self.first,
            "count": self.count,
            "start_seconds": round(float(self.start), 3),
            "seconds": round(float(self.seconds), 3),
        }


@dataclass(frozen=True)
class FrameScan:
    """What one decoding pass found."""

    frames: int  # frames decoded
    decoded_to_end: bool  # every frame decoded, the file ends cleanly
    error: str | None  # what did not decode, when something did not
    black: list[Stretch]  # stretches at least black_seconds long
    frozen: list[Stretch]  # stretches at least frozen_seconds long
    runs: list[Stretch] = field(default_factory=list, compare=False)  # the shorter ones

    def to_dict(self) -> dict[str, Any]:
        """The scan for JSON (the short runs left out)."""
        return {
            "frames": self.frames,
            "decoded_to_end": self.decoded_to_end,
            "error": self.error,
            "black": [s.to_dict() for s in self.black],
            "frozen": [s.to_dict() for s in self.frozen],
        }


def scan(
    path: Path,
    *,
    rate: Fraction,
    black_seconds: float = 0.5,
    frozen_seconds: float = 1.0,
    start_number: int | None = None,
) -> FrameScan:
    """Decode ``path`` once; its black and frozen stretches, frames counted at ``rate``.

    A stretch is kept when it lasts at least the threshold (``ceil(seconds × rate)``
    frames, at least 2 for a frozen one). ``start_number`` reads ``path`` as an image
    sequence pattern (``shot.%07d.png``) starting there. Raises ``media_unreadable``
    only when the file cannot be opened; what fails later is in the result.
    """
    black_min = max(1, math.ceil(black_seconds * rate))
    frozen_min = max(2, math.ceil(frozen_seconds * rate))
    runs: list[Stretch] = []
    with open_video(path, start_number=start_number, rate=rate) as (container, stream):
        decoder = Decoder(container, stream)
        tracker = _Tracker(rate, runs)
        for index, frame in enumerate(decoder):
            options: dict[str, Any] = {"src_color_range": 2} if frame.color_range == 2 else {}
            height = max(2, round(WIDTH * frame.height / max(1, frame.width)))
            grey = frame.reformat(
                width=WIDTH, height=height, format="gray", interpolation="AREA",
                dst_color_range=2, **options,
            )  # fmt: skip
            plane = grey.planes[0]
            data = bytes(plane)
            if plane.line_size != WIDTH:
                data = b"".join(
                    data[row * plane.line_size : row * plane.line_size + WIDTH]
                    for row in range(height)
                )
            tracker.add(index, data)
        tracker.end()
        runs.sort(key=lambda s: (s.first, s.kind))
        error = decoder.summary()
        declared = _declared_frames(container, stream, rate)
        if error is None and declared is not None and decoder.frames < declared:
            error = f"it ends after {decoder.frames} of the {declared} frames its header says"
    return FrameScan(
        frames=decoder.frames,
        decoded_to_end=error is None,
        error=error,
        black=[s for s in runs if s.kind == "black" and s.count >= black_min],
        frozen=[s for s in runs if s.kind == "frozen" and s.count >= frozen_min],
        runs=[
            s for s in runs
            if s.count < (black_min if s.kind == "black" else frozen_min)
        ],
    )  # fmt: skip


def _declared_frames(container: InputContainer, stream: VideoStream, rate: Fraction) -> int | None:
    """The frames the file's header announces (a count, else a duration less a frame of
    rounding), or None when it says neither."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base:
        seconds = Fraction(stream.duration) * stream.time_base
    elif container.duration and len(container.streams) == 1:
        seconds = Fraction(container.duration, 1_000_000)  # AV_TIME_BASE
    else:
        return None
    return max(0, math.floor(seconds * rate) - 1)


class _Tracker:
    """Follows the current black run and the current frozen run, frame by frame."""

    def __init__(self, rate: Fraction, runs: list[Stretch]) -> None:
        self._rate = rate
        self._runs = runs
        self._black_from: int | None = None
        self._still_from: int | None = None  # first frame of the current still picture
        self._reference = b""  # that frame's grey copy
        self._last = -1

    def add(self, index: int, data: bytes) -> None:
        """Judge frame ``index`` from its grey copy ``data``."""
        self._last = index
        black = data.translate(_DARK).count(1) >= PICTURE_BLACK * len(data)
        if black:
            if self._black_from is None:
                self._black_from = index
            self._close_still(index)
            return
        self._close_black(index)
        if self._still_from is not None and _difference(self._reference, data) < FROZEN_NOISE:
            return
        self._close_still(index)
        self._still_from, self._reference = index, data

    def end(self) -> None:
        """Close the runs still open after the last frame."""
        self._close_black(self._last + 1)
        self._close_still(self._last + 1)

    def _close_black(self, index: int) -> None:
        if self._black_from is not None:
            self._runs.append(Stretch("black", self._black_from, index - self._black_from,
                                      self._rate))  # fmt: skip
            self._black_from = None

    def _close_still(self, index: int) -> None:
        if self._still_from is not None and index - self._still_from >= 2:
            self._runs.append(Stretch("frozen", self._still_from, index - self._still_from,
                                      self._rate))  # fmt: skip
        self._still_from = None


def _difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two same-size grey pictures, in grey levels."""
    if len(a) != len(b) or not a:
        return math.inf
    total: int = sum(map(abs, map(sub, a, b)))
    return total / len(a)

"""Fitting a render to its source clip: the same frame rate and the same frame count.

A template renders at the rate and length it was set to, not always the clip's. The
fit maps the clip's frames onto the render's, exactly or not at all:

=============  ==================================================  =============
action         when                                                output frame j
=============  ==================================================  =============
``none``       same rate, same count                               render j
``trim``       same rate, more frames: the extra ones at the end   render j
``pad``        same rate, fewer frames: the last one held          min(j, n − 1)
``retime``     another rate, same count (templates often save at   render j
               a fixed fps): restamped frame for frame
``decimate``   the render's rate k × the clip's, k × the frames    render k·j
``repeat``     the clip's rate k × the render's, the frames × k    render j // k
=============  ==================================================  =============

A rate within 1/10000 of the clip's (ComfyUI's ``CreateVideo`` keeps 23.976 for
24000/1001) counts as the clip's: restamped, then trimmed or padded as at the same rate,
with both said. Anything else raises :class:`FrameRateMismatch`: guessing (resampling 16 fps to 24,
retiming and trimming at once) would hand the editor a shot that no longer matches
its source, and a conform never changes a length silently. Every action but ``none``
leaves a note, which the QC reports as a warning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from comfycine.media.errors import FrameRateMismatch, LengthMismatch
from comfycine.media.probe import VideoInfo
from comfycine.media.timecode import rate_text

ACTIONS = ("none", "trim", "pad", "retime", "decimate", "repeat")
# Rates within 1/10000 of each other are one rate saved at another precision.
RATE_TOLERANCE = 10_000


@dataclass(frozen=True)
class FitPlan:
    """How a render of ``source_frames`` at ``source_rate`` becomes ``frames`` at ``rate``."""

    action: str  # one of ACTIONS
    source_frames: int  # the render's
    source_rate: Fraction
    frames: int  # the clip's: what the delivered file has
    rate: Fraction
    step: int = 1  # decimate: keep every step-th frame; repeat: show each step times
    notes: list[str] = field(default_factory=list)

    def frame_map(self, index_out: int) -> int:
        """The render's frame shown as output frame ``index_out`` (0-based)."""
        if not 0 <= index_out < self.frames:
            raise IndexError(f"frame {index_out} is outside 0–{self.frames - 1}")
        if self.action == "decimate":
            return index_out * self.step
        if self.action == "repeat":
            return index_out // self.step
        return min(index_out, self.source_frames - 1)

    def to_dict(self) -> dict[str, Any]:
        """The plan for JSON (rates as ``"24000/1001"`` strings)."""
        return {
            "action": self.action,
            "rendered_frames": self.source_frames,
            "rendered_rate": str(self.source_rate),
            "frames": self.frames,
            "rate": str(self.rate),
            "step": self.step,
            "notes": list(self.notes),
        }


def plan_fit(
    rendered: VideoInfo, frames: int, rate: Fraction, *, strict_length: bool = False
) -> FitPlan:
    """How to make ``rendered`` match a clip of ``frames`` at ``rate``.

    ``strict_length`` refuses a trim or pad (:class:`LengthMismatch`). Raises
    :class:`FrameRateMismatch` when no exact mapping exists. Both are
    :class:`~comfycine.media.errors.ConformError` (exit 5): the clip's result failed,
    not the command line, and the conform goes on with the other shots.
    """
    count, have = rendered.frames, rendered.rate
    if count < 1 or frames < 1:
        raise _mismatch(rendered, frames, rate, "nothing to map")
    clip = f"a {frames}-frame clip"
    # ComfyUI's CreateVideo keeps the rate to 1/1000 (23.976 for 24000/1001): a rate
    # that close is the clip's own, restamped, and a length difference is trimmed/padded.
    restamped = have != rate and abs(have - rate) * RATE_TOLERANCE <= rate
    if restamped:
        was, now = f"{rate_text(have)} fps", f"{rate_text(rate)} fps"
        fitted = plan_fit(
            dataclasses.replace(rendered, rate=rate), frames, rate, strict_length=strict_length
        )
        note = f"rendered at {was}, restamped at {now} frame for frame"
        action = fitted.action if fitted.action != "none" else "retime"
        return dataclasses.replace(
            fitted, action=action, source_rate=have, notes=[note, *fitted.notes]
        )
    if have == rate:
        if count == frames:
            return FitPlan("none", count, have, frames, rate)
        if strict_length:
            raise LengthMismatch(
                f"{rendered.path.name} has {count} frames for {clip}, and the length must "
                "match exactly.",
                hint=f"Render {frames} frames, or conform without --strict-length.",
                details=_details(rendered, frames, rate),
            )
        if count > frames:
            note = f"rendered {count} frames for {clip}: trimmed the last {count - frames}"
            return FitPlan("trim", count, have, frames, rate, 1, [note])
        held = frames - count
        note = f"rendered {count} frames for {clip}: held the last frame for {held} more"
        return FitPlan("pad", count, have, frames, rate, 1, [note])
    was, now = f"{rate_text(have)} fps", f"{rate_text(rate)} fps"
    if count == frames:
        note = f"rendered at {was}, restamped at {now} frame for frame"
        return FitPlan("retime", count, have, frames, rate, 1, [note])
    up, down = have / rate, rate / have
    if up.denominator == 1 and count == frames * up.numerator:
        step = up.numerator
        note = f"rendered {count} frames at {was}: kept every {_ordinal(step)} for {now}"
        return FitPlan("decimate", count, have, frames, rate, step, [note])
    if down.denominator == 1 and frames == count * down.numerator:
        step = down.numerator
        note = f"rendered {count} frames at {was}: showed each {_times(step)} for {now}"
        return FitPlan("repeat", count, have, frames, rate, step, [note])
    raise _mismatch(rendered, frames, rate, "no exact mapping")


def _mismatch(rendered: VideoInfo, frames: int, rate: Fraction, why: str) -> FrameRateMismatch:
    have = rendered.rate
    return FrameRateMismatch(
        f"{rendered.path.name} is {rendered.frames} frames at {rate_text(have)} fps "
        f"({float(rendered.duration):.2f} s) for a {frames}-frame clip at "
        f"{rate_text(rate)} fps ({float(frames / rate):.2f} s): {why} without "
        "resampling.",
        hint=f"Set the template's frame rate to {rate_text(rate)} and its length to "
        f"{frames} frames (or keep its rate and render {frames} frames), then conform "
        "again.",
        details=_details(rendered, frames, rate),
    )


def _details(rendered: VideoInfo, frames: int, rate: Fraction) -> dict[str, Any]:
    return {
        "path": str(rendered.path),
        "rendered_frames": rendered.frames,
        "rendered_rate": str(rendered.rate),
        "frames": frames,
        "rate": str(rate),
    }


def _ordinal(number: int) -> str:
    last = 0 if number % 100 in (11, 12, 13) else number % 10
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(last, "th")
    return f"{number}{suffix}"


def _times(number: int) -> str:
    return {2: "twice", 3: "three times"}.get(number, f"{number} times")

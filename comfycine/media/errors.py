"""The errors of the media layer, in comfycine's one tree (:mod:`comfycine.errors`).

::

    UsageError                          exit 2   (invalid_delivery: an unknown format)
    └── MediaError                      media_unreadable, timecode_unreadable,
        │                               output_exists
        └── SourceRangeError            source_range_outside_media
    JobFailed                           exit 5
    └── ConformError                    conform_failed, delivery_unsupported,
        │                               delivery_failed
        ├── FrameRateMismatch           frame_rate_mismatch
        └── LengthMismatch              length_mismatch

A :class:`MediaError` is about a file given to the conform (a source that does not
decode, a range the timeline asks for that the file does not have): the input is
wrong, exit 2. A :class:`ConformError` is about one shot's result (a render whose rate
cannot be matched exactly, a size an encoder refuses): the job ran and what it made
cannot be conformed, exit 5, as a failed job; the conform reports it for that shot and
goes on with the others.
"""

from __future__ import annotations

from pathlib import Path

from comfycine.errors import JobFailed, UsageError


class MediaError(UsageError):
    """A media file cannot be read (not a video, corrupt, cut short)."""

    code = "media_unreadable"
    default_hint = "Check that the file plays in the editor; relink the clip if it moved."


class SourceRangeError(MediaError):
    """The timeline asks for frames the media file does not have."""

    code = "source_range_outside_media"
    default_hint = "Relink the clip to its full-length media, or trim the clip in the editor."


class ConformError(JobFailed):
    """A render cannot be conformed to its source clip."""

    code = "conform_failed"
    default_hint = "Check the template's output settings, then run the conform again."


class FrameRateMismatch(ConformError):
    """The render's rate and length cannot be mapped onto the clip's exactly."""

    code = "frame_rate_mismatch"


class LengthMismatch(ConformError):
    """The render has another frame count than its clip, and trimming is not allowed."""

    code = "length_mismatch"


def unreadable(path: Path, why: str) -> MediaError:
    """The ``media_unreadable`` error for ``path``: one line naming the file and why."""
    return MediaError(f"Cannot read {path.name}: {why}.", details={"path": str(path)})


def av_reason(exc: BaseException) -> str:
    """A short reason for an FFmpeg failure (without the file path FFmpeg repeats)."""
    if isinstance(exc, UnicodeDecodeError):
        return "its metadata cannot be read"
    text = str(getattr(exc, "strerror", None) or exc)
    if "Invalid data" in text or "moov atom" in text:
        return "it is not a video FFmpeg can read, or it is cut short before its index"
    return text.split(": '")[0] or type(exc).__name__

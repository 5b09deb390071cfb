"""Pulls: a source's frame range cut into an H.264 file a ComfyUI template loads.

A pull keeps the source's exact rate and carries its start timecode (a ``tmcd``
track), so the render made from it and the file delivered back line up with the
editor's source clip. It is H.264 at CRF 12 (visually lossless for a template's input)
in 4:2:0; an odd width or height is padded by one repeated column or row, which the
returned :attr:`VideoInfo.notes` says.

The bytes are the same every time for the same source and range: x264 runs with a
fixed thread count (its output depends on the count, which would otherwise follow the
machine's cores), so a resumed conform finds the content hash it recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from comfycine.errors import UsageError
from comfycine.media.errors import SourceRangeError, unreadable
from comfycine.media.frames import Decoder, VideoWriter, open_video
from comfycine.media.output import discard, exists_error, part_path, publish
from comfycine.media.probe import VideoInfo, probe
from comfycine.media.timecode import format_timecode

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

# CRF 12 is visually lossless at any preset; veryfast encodes 720p grain 4× quicker
# than medium for ~20 % more bytes, and a pull is an intermediate nobody keeps.
X264_PULL = {"crf": "12", "preset": "veryfast", "threads": "4"}
FORMATS = {".mp4": "mp4", ".mov": "mov"}


class _Irregular(Exception):
    """The timestamps after a seek do not number the frames one by one (VFR, damage)."""


def extract_range(
    source: Path, first: int, count: int, out: Path, *, timecode_frame: int | None
) -> VideoInfo:
    """Write frames ``[first, first + count)`` of ``source`` into ``out`` (.mp4 or .mov).

    Frames are numbered from 0 at the file's first frame, in presentation order. The
    start timecode is ``timecode_frame`` (at the source's rate, drop-frame when the
    source's is) when given. Never writes over ``out``: an existing one raises
    ``output_exists`` (callers pull only what is missing). Raises
    ``source_range_outside_media`` when the range is not all in the file, and
    ``media_unreadable`` when its frames do not all decode. Returns the pull's
    :class:`VideoInfo`, its ``notes`` saying what changed (padding).
    """
    container_format = FORMATS.get(out.suffix.lower())
    if container_format is None:
        raise UsageError(f"A pull is written as .mp4 or .mov, not {out.suffix or 'no suffix'}.")
    info = probe(source)
    if first < 0 or count < 1 or first + count > info.frames:
        raise SourceRangeError(
            f"Frames {first}–{first + count - 1} of {source.name} are wanted, but it has "
            f"{info.frames} frames (0–{info.frames - 1}).",
            details={"path": str(source), "first": first, "count": count,
                     "frames": info.frames},
        )  # fmt: skip
    if out.exists():
        raise exists_error(out)
    timecode = None
    if timecode_frame is not None:
        timecode = format_timecode(timecode_frame, info.rate, drop=info.drop_frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(out)
    try:
        try:
            notes = _write(source, info, first, count, part, container_format, timecode, True)
        except _Irregular:
            discard(part)  # numbered by timestamps it cannot be: count from the start
            notes = _write(source, info, first, count, part, container_format, timecode, False)
    except BaseException:
        discard(part)
        raise
    publish(part, out, rename=False)
    return dataclasses.replace(probe(out), notes=tuple(notes))


def _write(
    source: Path,
    info: VideoInfo,
    first: int,
    count: int,
    part: Path,
    container_format: str,
    timecode: str | None,
    seek: bool,
) -> list[str]:
    """Encode the range into ``part``; the writer's notes."""
    with (
        open_video(source) as (container, stream),
        VideoWriter(
            part, codec="libx264", pix_fmt="yuv420p", options=X264_PULL, rate=info.rate,
            timecode=timecode, container_format=container_format, even=True,
        ) as writer,
    ):  # fmt: skip
        decoder = Decoder(container, stream)
        frames = _by_timestamp if seek and first > 0 else _by_order
        for frame in frames(container, stream, decoder, first, count, info.rate):
            writer.write(frame)
        if writer.frames != count:
            why = decoder.summary() or "the file ends early"
            raise unreadable(
                source, f"frames {first}–{first + count - 1} do not all decode ({why})"
            )
        return writer.notes


def _by_order(
    container: InputContainer,
    stream: VideoStream,
    decoder: Decoder,
    first: int,
    count: int,
    rate: Fraction,
) -> Iterator[VideoFrame]:
    """The range's frames counted in decoding order from the file's start."""
    for index, frame in enumerate(decoder):
        if index >= first + count:
            return
        if index >= first:
            yield frame


def _by_timestamp(
    container: InputContainer,
    stream: VideoStream,
    decoder: Decoder,
    first: int,
    count: int,
    rate: Fraction,
) -> Iterator[VideoFrame]:
    """The range's frames after a seek to the keyframe before ``first``, numbered by
    their timestamps; raises :class:`_Irregular` when those do not count one by one."""
    import av

    time_base = stream.time_base
    if not time_base:
        raise _Irregular
    start = stream.start_time or 0
    try:
        target = start + round(Fraction(first) / rate / time_base)
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError as exc:
        raise _Irregular from exc
    expected = first
    for frame in decoder:
        if frame.pts is None:
            raise _Irregular
        index = round((frame.pts - start) * time_base * rate)
        if index < first:
            continue
        if index != expected:
            raise _Irregular
        yield frame
        expected += 1
        if expected == first + count:
            return

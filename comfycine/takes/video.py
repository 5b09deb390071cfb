"""Reading video with PyAV: an index pass, then only the wanted frames decoded.

A clip is read in two passes. The first demuxes the video stream without decoding it
(cheap: bytes are read, not pictures made) and lists every frame's timestamp and the
keyframes: that gives exact frame numbers, the real length of a truncated file and
where each wanted frame's decoding must start. The second seeks to the keyframe before
each wanted frame (or keeps decoding when it is already past it, or nearly) and converts
only the wanted frames, scaled by swscale straight to the size they are drawn at.

:func:`open_clip` is the way in, for WebP too (read by :class:`.media.PillowClip`).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfycine.takes.media import (
    Clip,
    ClipInfo,
    PillowClip,
    Render,
    check_exists,
    unreadable,
)

if TYPE_CHECKING:
    from PIL import Image

# Frames a keyframe must lie ahead of the decoder before a seek to it pays (on 1080p
# H.264 with a keyframe a second, 12 was quickest of 0, 12, 24 and never seeking).
SEEK_AFTER = 12


@contextlib.contextmanager
def open_clip(path: Path) -> Iterator[Clip]:
    """Open a video (or animated image) for reading frames; close it afterwards.

    Raises :class:`MediaNotFound` for a missing file and ``media_unreadable`` for an
    empty, unreadable or frameless one.
    """
    check_exists(path)
    with open(path, "rb") as handle:
        head = handle.read(12)
    if not head:
        raise unreadable(path, "the file is empty")
    clip: AvClip | PillowClip
    clip = PillowClip(path) if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else AvClip(path)
    try:
        yield clip
    finally:
        clip.close()


def _display_size(
    width: int, height: int, aspect: Fraction | None, rotation: int
) -> tuple[int, int]:
    """The size a frame shows at: pixel aspect ratio applied, then a quarter-turn swap."""
    if aspect and aspect > 0 and aspect != 1:
        width = max(1, round(width * aspect))
    return (height, width) if rotation in (90, -90, 270, -270) else (width, height)


def _render_av(frame: Any, width: int, display: tuple[int, int], rotation: int) -> Image.Image:
    """Convert and scale one PyAV frame to ``width`` px wide, rotated for display."""
    from PIL import Image

    height = max(1, round(width * display[1] / display[0]))
    quarter = rotation in (90, -90, 270, -270)
    size = (height, width) if quarter else (width, height)
    image: Image.Image = frame.to_image(width=size[0], height=size[1], interpolation="AREA")
    # rotation is counter-clockwise (FFmpeg's display matrix); Pillow's ROTATE_90 is too.
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_270}  # fmt: skip
    turn = turns.get(rotation % 360)
    return image.transpose(turn) if turn is not None else image


class AvClip:
    """A clip read with PyAV: index pass at open, seek-and-decode for pictures."""

    def __init__(self, path: Path) -> None:
        import av

        self._path = path
        try:
            self._container = av.open(str(path), metadata_errors="replace")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise unreadable(path, _av_reason(exc)) from exc
        try:
            self.info = self._index()
        except BaseException:
            self._container.close()
            raise

    def close(self) -> None:
        """Close the container."""
        self._container.close()

    def _index(self) -> ClipInfo:
        """Demux the video stream once without decoding: timestamps, keyframes, length."""
        import av

        if not self._container.streams.video:
            raise unreadable(self._path, "it has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: most of the decoding speed
        self._stream = stream
        stamps: dict[int, tuple[int, bool]] = {}  # pts → (duration, keyframe)
        broken = False
        try:
            for packet in self._container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is not None and packet.size and stamp not in stamps:
                    stamps[stamp] = (packet.duration or 0, packet.is_keyframe)
        except av.error.FFmpegError:
            broken = True  # the file ends inside a packet: what came before still counts
        if not stamps:
            raise unreadable(self._path, "no video frame can be read from it")
        self._pts = sorted(stamps)
        self._keys = [pts for pts in self._pts if stamps[pts][1]] or self._pts[:1]
        time_base = stream.time_base or Fraction(1, 1000)
        fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            span = (self._pts[-1] - self._pts[0]) * time_base
            fps = Fraction(len(self._pts) - 1) / span if span else Fraction(1)
        last = stamps[self._pts[-1]][0]
        tail = last * time_base if last else 1 / fps
        duration = float((self._pts[-1] - self._pts[0]) * time_base + tail)
        declared = self._declared(time_base)
        frames_said = stream.frames or 0
        truncated = broken or (
            frames_said > len(self._pts)
            if frames_said
            else declared is not None and declared - duration > 2 / float(fps) + 0.01 * declared
        )
        context = stream.codec_context
        self._frames: Iterator[Any] | None = None
        self._wanted: set[int] = set()  # pts of the frames the current pictures() call wants
        self._turned = False
        width, height = _display_size(context.width, context.height, stream.sample_aspect_ratio, 0)
        info = ClipInfo(
            self._path, len(self._pts), fps, duration, width, height, context.name,
            truncated, declared,
        )  # fmt: skip
        return info

    def _declared(self, time_base: Fraction) -> float | None:
        """The length the stream's header (or a one-stream container's) announces."""
        stream, container = self._stream, self._container
        if stream.duration:
            return float(stream.duration * time_base)
        if container.duration and len(container.streams) == 1:
            return container.duration / 1_000_000  # AV_TIME_BASE
        return None

    def pictures(self, indices: Sequence[int]) -> Iterator[tuple[int, Render]]:
        """Yield the wanted frames, seeking only when decoding on would not reach them."""
        wanted = sorted({i for i in indices if 0 <= i < len(self._pts)})
        self._wanted = {self._pts[i] for i in wanted}
        position: int | None = None  # pts of the last frame out of the decoder
        for index in wanted:
            target = self._pts[index]
            key = self._keys[max(0, bisect.bisect_right(self._keys, target) - 1)]
            if self._must_seek(position, key, target):
                self._seek(key)
                position = None
            assert self._frames is not None
            for frame in self._frames:
                position = frame.pts if frame.pts is not None else target
                if position >= target:
                    yield index, self._renderer(frame)
                    break
            else:
                return  # nothing more decodes

    def _must_seek(self, position: int | None, key: int, target: int) -> bool:
        """Whether to seek to ``key`` for ``target`` rather than decode on from ``position``.

        Decoding on is right when the decoder is past the keyframe already, and also when
        the keyframe is only a few frames ahead: a seek drains the decoder's threads, which
        costs more than those frames (most of them skipped anyway, see :meth:`_decoded`).
        """
        if self._frames is None or position is None or position >= target:
            return True
        ahead = bisect.bisect_left(self._pts, key) - bisect.bisect_left(self._pts, position)
        return ahead > SEEK_AFTER

    def _renderer(self, frame: Any) -> Render:
        """The render function of one decoded frame (its rotation read from the frame).

        The display matrix is on the frames only (PyAV does not expose the stream's), so
        :attr:`info` learns a quarter turn from the first frame decoded.
        """
        rotation = int(getattr(frame, "rotation", 0) or 0)
        display = _display_size(
            frame.width, frame.height, self._stream.sample_aspect_ratio, rotation
        )
        if rotation in (90, -90, 270, -270) and not self._turned:
            self._turned = True
            self.info = dataclasses.replace(self.info, width=display[0], height=display[1])
        return lambda width: _render_av(frame, width, display, rotation)

    def _seek(self, pts: int) -> None:
        """Start decoding at the keyframe at or before ``pts``."""
        import av

        try:
            self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            # A format that cannot seek: start again from the first frame instead.
            self._container.close()
            self._container = av.open(str(self._path), metadata_errors="replace")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
        self._frames = self._decoded()

    def _decoded(self) -> Iterator[Any]:
        """Frames from the current position on, stepping over damaged packets."""
        import av

        context = self._stream.codec_context
        # An H.264/HEVC frame no other frame refers to is not decoded unless it is wanted:
        # a third fewer frames to decode (x264's B-frames), the wanted ones bit-identical.
        skipping = context.name in ("h264", "hevc")
        demuxer = self._container.demux(self._stream)
        while True:
            try:
                packet = next(demuxer)
            except StopIteration:
                return
            except av.error.FFmpegError:
                # The file ends inside a packet: drain what the decoder still holds.
                with contextlib.suppress(av.error.FFmpegError):
                    yield from context.decode(None)
                return
            if skipping:
                stamp = packet.pts if packet.pts is not None else packet.dts
                context.skip_frame = "DEFAULT" if stamp in self._wanted else "NONREF"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue  # a damaged packet: later ones may decode (from the next keyframe)
            yield from frames


def _av_reason(exc: BaseException) -> str:
    """A short reason for an FFmpeg failure to open a file."""
    if isinstance(exc, UnicodeDecodeError):
        return "its metadata cannot be read"
    text = getattr(exc, "strerror", None) or str(exc)
    if "Invalid data" in text or "moov atom" in text:
        return "it is not a video FFmpeg can read, or it is cut short before its index"
    return text

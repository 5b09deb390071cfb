"""What a video file is: its exact rate, frame count, size, codec and start timecode.

Rates stay fractions (24000/1001 is not 23.976): a conform that rounds drifts a frame
every few minutes of NTSC material. The frame count is the container's when it says one
(MOV and MP4 do, from their sample tables) and is otherwise counted by demuxing the
video packets without decoding them (Matroska, WebM, raw streams): bytes are read, no
picture is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from comfycine.media.errors import av_reason, unreadable
from comfycine.media.timecode import parse_timecode

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream


@dataclass(frozen=True)
class VideoInfo:
    """One video file's facts; frame numbers count from its first frame (0)."""

    path: Path
    rate: Fraction  # exact: 24000/1001 stays that
    frames: int
    width: int
    height: int
    codec: str  # FFmpeg's decoder name: h264, prores, dnxhd, png …
    pix_fmt: str  # yuv420p, yuv422p10le …
    timecode: str | None  # the start timecode as the file says it (tmcd track, metadata)
    start_frame: int  # that timecode as a frame number at the nominal rate; 0 without
    has_audio: bool
    duration: Fraction  # frames / rate, in seconds
    drop_frame: bool = False  # the timecode is drop-frame (``;``)
    # What a writer changed on the way (padding to an even size …); empty from probe().
    notes: tuple[str, ...] = ()

    @property
    def bit_depth(self) -> int:
        """Bits per component of :attr:`pix_fmt` (8 when FFmpeg does not know it)."""
        import av

        try:
            return max(c.bits for c in av.VideoFormat(self.pix_fmt).components)
        except (ValueError, av.error.FFmpegError):
            return 8


def probe(path: Path, *, count: bool = False) -> VideoInfo:
    """Read ``path``'s :class:`VideoInfo`; ``count`` counts frames by demuxing anyway.

    Raises :class:`~comfycine.errors.MediaNotFound` for a missing file,
    ``media_unreadable`` for one that is not a video FFmpeg reads, and
    ``timecode_unreadable`` for a start timecode it cannot number.
    """
    from comfycine.media.frames import open_video

    with open_video(path) as (container, stream):
        if stream.codec_context.name == "webp" and _is_animated_webp(path):
            raise unreadable(
                path, "it is an animated WebP, which FFmpeg cannot decode (save renders as MP4)"
            )
        rate = exact_rate(stream)
        if rate is None:
            raise unreadable(path, "its frame rate is unknown")
        frames = 0 if count else int(stream.frames or 0)
        if frames <= 0:
            frames = count_frames(container, stream, path)
        timecode = start_timecode(container, stream)
        start, drop = parse_timecode(timecode, rate) if timecode else (0, False)
        context = stream.codec_context
        return VideoInfo(
            path=path,
            rate=rate,
            frames=frames,
            width=int(context.width),
            height=int(context.height),
            codec=str(context.name),
            pix_fmt=str(context.pix_fmt or ""),
            timecode=timecode,
            start_frame=start,
            has_audio=bool(container.streams.audio),
            duration=Fraction(frames) / rate,
            drop_frame=drop,
        )


def _is_animated_webp(path: Path) -> bool:
    """True when a WebP file holds animation frames (``ANMF`` chunks)."""
    with open(path, "rb") as handle:
        return b"ANMF" in handle.read(1 << 16)


def exact_rate(stream: VideoStream) -> Fraction | None:
    """The stream's frame rate as a fraction, preferring a rate editors use.

    The average rate (frames over duration) is right for constant-rate files but can
    come out as 2400/97 when a last frame's duration is odd; the guessed rate
    (FFmpeg's r_frame_rate) is the timestamps' base rate. The first of the two that is
    a whole number or an NTSC x/1001 rate wins, else the first known.
    """
    known = [
        Fraction(r)
        for r in (stream.average_rate, stream.guessed_rate, stream.base_rate)
        if r is not None and r > 0
    ]
    for rate in known:
        if rate.denominator in (1, 1001):
            return rate
    return known[0] if known else None


def count_frames(container: InputContainer, stream: VideoStream, path: Path) -> int:
    """The video packets that carry a picture, counted by demuxing (no decoding)."""
    import av

    seen: set[int] = set()
    anonymous = 0
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue  # the demuxer's flush packet
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:
                anonymous += 1
            else:
                seen.add(stamp)
    except av.error.FFmpegError as exc:
        raise unreadable(path, f"it is damaged ({av_reason(exc)})") from exc
    total = len(seen) + anonymous
    if not total:
        raise unreadable(path, "no video frame can be read from it")
    return total


def start_timecode(container: InputContainer, stream: VideoStream) -> str | None:
    """The start timecode: the video stream's, a timecode track's, or the container's.

    FFmpeg gives a MOV/MP4 ``tmcd`` track's start as ``timecode`` metadata on that data
    stream and on the video stream it belongs to; MXF and others give it on the
    container.
    """
    candidates = [stream.metadata, *(s.metadata for s in container.streams.data)]
    candidates.append(container.metadata)
    for metadata in candidates:
        value = metadata.get("timecode")
        if value:
            return str(value).strip()
    return None

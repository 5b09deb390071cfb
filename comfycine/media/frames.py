"""PyAV plumbing shared by pulls and deliveries: opening, decoding, converting, encoding.

Decoding steps over damaged packets and remembers what went wrong (a QC reports it);
encoding opens its stream on the first frame, so the size and colour tags are the
frames' own. Conversions go through swscale with the source's colour matrix and range
said explicitly, and full-range input is brought to the video range the encodings use;
deliveries are brought to BT.709 (:class:`ToBt709`), pulls keep the source's matrix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfycine.media.errors import av_reason, unreadable
from comfycine.takes.media import check_exists

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

# AVColorSpace values swscale has coefficients for (BT.709, FCC, BT.601 ×2, SMPTE 240M,
# BT.2020): the source's matrix is passed when it is one of these, else swscale's
# default (BT.601), which is what an untagged file was most likely encoded with.
_KNOWN_MATRICES = frozenset({1, 4, 5, 6, 7, 9, 10})
_MPEG, _JPEG = 1, 2  # AVColorRange: video (16–235) and full (0–255) range
_BT709 = 1  # AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic BT.709


@contextlib.contextmanager
def open_video(
    path: Path, *, start_number: int | None = None, rate: Fraction | None = None
) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open ``path``'s first video stream for reading; close it afterwards.

    With ``start_number``, ``path`` is an image-sequence pattern (``shot.%07d.png``)
    whose first file has that number, read at ``rate``. Raises ``MediaNotFound`` for a
    missing file and ``media_unreadable`` for one with no readable video stream.
    """
    import av

    options: dict[str, Any] = {}
    if start_number is None:
        check_exists(path)
        if path.stat().st_size == 0:
            raise unreadable(path, "the file is empty")
    else:
        options = {"format": "image2", "options": {"start_number": str(start_number)}}
        if rate is not None:
            options["options"]["framerate"] = f"{rate.numerator}/{rate.denominator}"
    try:
        container = av.open(str(path), metadata_errors="replace", **options)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, av_reason(exc)) from exc
    try:
        if not container.streams.video:
            raise unreadable(path, "it has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: most of the decoding speed
        yield container, stream
    finally:
        container.close()


class Decoder:
    """A stream's frames in presentation order; damaged packets are stepped over.

    After iterating, :attr:`packets` is the count of packets that carried data,
    :attr:`errors` what failed (first few) and :attr:`complete` whether everything
    decoded to the end.
    """

    def __init__(self, container: InputContainer, stream: VideoStream) -> None:
        self._container = container
        self._stream = stream
        self.packets = 0
        self.frames = 0
        self.failed = 0  # packets that did not decode
        self.truncated = False
        self.errors: list[str] = []

    @property
    def complete(self) -> bool:
        """True when every packet decoded and the file did not end inside one."""
        return not self.truncated and not self.failed and self.frames >= self.packets

    def __iter__(self) -> Iterator[VideoFrame]:
        import av

        demuxer = self._container.demux(self._stream)
        while True:
            try:
                packet = next(demuxer)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                self.truncated = True
                self._error(f"the file ends inside a frame ({av_reason(exc)})")
                with contextlib.suppress(av.error.FFmpegError):
                    for frame in self._stream.codec_context.decode(None):
                        self.frames += 1
                        yield frame
                return
            if packet.size:
                self.packets += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.failed += 1
                self._error(f"a frame does not decode ({av_reason(exc)})")
                continue
            for frame in frames:
                self.frames += 1
                yield frame

    def _error(self, text: str) -> None:
        if len(self.errors) < 5 and text not in self.errors:
            self.errors.append(text)

    def summary(self) -> str | None:
        """One line on what did not decode, or None when all did."""
        if self.complete:
            return None
        parts = list(self.errors)
        if self.failed:
            parts.append(f"{self.failed} of {self.packets} frames did not decode")
        elif self.frames < self.packets:
            parts.append(f"{self.frames} of {self.packets} frames decoded")
        return "; ".join(parts)


def is_rgb(pix_fmt: str) -> bool:
    """True for an RGB (or palette) pixel format, False for YUV and grey."""
    import av

    layout = av.VideoFormat(pix_fmt)
    return bool(layout.is_rgb or layout.has_palette)


def convert(frame: VideoFrame, pix_fmt: str) -> VideoFrame:
    """``frame`` in ``pix_fmt``: its own colour matrix, video range for YUV targets.

    YUV → YUV keeps the matrix (no RGB on the way); RGB → YUV uses BT.709 (what the
    writer tags); YUV → RGB uses the frame's matrix and range.
    """
    source = frame.format.name
    if source == pix_fmt:
        return frame
    from_rgb, to_rgb = is_rgb(source), is_rgb(pix_fmt)
    full = frame.color_range == _JPEG or source.startswith("yuvj")
    options: dict[str, Any] = {}
    if not from_rgb:
        options["src_color_range"] = _JPEG if full else _MPEG
        if to_rgb and frame.colorspace in _KNOWN_MATRICES:
            options["src_colorspace"] = frame.colorspace
    if not to_rgb:
        options["dst_color_range"] = _MPEG
        if from_rgb:
            options["dst_colorspace"] = _BT709
    else:
        options["dst_color_range"] = _JPEG
    return frame.reformat(format=pix_fmt, **options)


# What FFmpeg's colorspace filter reads: planar YUV, 8 to 12 bits.
_FILTERED = frozenset(
    f"yuv{chroma}p{depth}" for chroma in ("420", "422", "444") for depth in ("", "10le", "12le")
)
# AVColorSpace → the colorspace filter's input matrix name (fast=1 uses only that).
_SPACES = {2: "bt470bg", 5: "bt470bg", 6: "smpte170m", 4: "fcc", 7: "smpte240m"}


class ToBt709:
    """Frames brought to the BT.709 matrix, for a delivery editors read as HD video.

    A YUV frame tagged BT.709 or BT.2020 passes as it is. An untagged one is read as
    BT.601: the matrix swscale (so ComfyUI's savers, FFmpeg's CLI, PyAV) encoded it
    with. 8–12-bit planar YUV goes through FFmpeg's ``colorspace`` filter (matrix only,
    ``fast=1``: about 4× quicker than swscale, which converts matrices only on the way
    to RGB); other layouts (odd sizes, NV12, full-range ``yuvj``) through 16-bit RGB.
    """

    def __init__(self) -> None:
        self._graph: Any = None
        self._key: tuple[object, ...] = ()
        self._pts = 0

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        """``frame`` in BT.709 (YUV) or in RGB, which the writer encodes as BT.709."""
        name = frame.format.name
        if is_rgb(name) or frame.colorspace in (_BT709, 9, 10):
            return frame
        space = _SPACES.get(frame.colorspace)
        if name not in _FILTERED or space is None or frame.width % 2 or frame.height % 2:
            return convert(frame, "gbrp16le")
        full = frame.color_range == _JPEG
        key = (frame.width, frame.height, name, space, full)
        if key != self._key:
            self._graph, self._key = self._build(frame, space, full), key
        frame.pts, frame.time_base = self._pts, Fraction(1, 1000)
        self._pts += 1
        self._graph.push(frame)
        converted: VideoFrame = self._graph.vpull()
        return converted

    @staticmethod
    def _build(frame: VideoFrame, space: str, full: bool) -> Any:
        import av.filter

        graph = av.filter.Graph()
        source = graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format,
            time_base=Fraction(1, 1000),
        )  # fmt: skip
        colour = graph.add(
            "colorspace",
            f"all=bt709:iall=bt601-6-625:ispace={space}:irange={'pc' if full else 'tv'}"
            ":range=tv:fast=1",
        )
        sink = graph.add("buffersink")
        source.link_to(colour)
        colour.link_to(sink)
        graph.configure()
        return graph


def colour_tags(frame: VideoFrame) -> dict[str, int]:
    """The colour tags a YUV encoding of ``frame`` (after :func:`convert`) carries.

    RGB is encoded as BT.709 and says so; YUV keeps its own tags.
    """
    if is_rgb(frame.format.name):
        return {"colorspace": _BT709, "color_primaries": _BT709, "color_trc": _BT709,
                "color_range": _MPEG}  # fmt: skip
    return {"colorspace": frame.colorspace, "color_primaries": frame.color_primaries,
            "color_trc": frame.color_trc, "color_range": _MPEG}  # fmt: skip


class Padder:
    """Pads frames to an even size (4:2:0 needs one), repeating the last column/row.

    FFmpeg's ``pad`` then ``fillborders=mode=smear``: the added pixels copy their
    neighbours, so no black line shows at the edge.
    """

    def __init__(self, frame: VideoFrame) -> None:
        import av.filter

        width, height = frame.width, frame.height
        self.size = (width + width % 2, height + height % 2)
        graph = av.filter.Graph()
        source = graph.add_buffer(
            width=width, height=height, format=frame.format, time_base=Fraction(1, 1000)
        )
        pad = graph.add("pad", f"w={self.size[0]}:h={self.size[1]}:x=0:y=0")
        fill = graph.add("fillborders", f"right={width % 2}:bottom={height % 2}:mode=smear")
        sink = graph.add("buffersink")
        source.link_to(pad)
        pad.link_to(fill)
        fill.link_to(sink)
        graph.configure()
        self._graph = graph
        self._pts = 0

    @staticmethod
    def needed(frame: VideoFrame) -> bool:
        """True when ``frame`` has an odd width or height."""
        return bool(frame.width % 2 or frame.height % 2)

    def pad(self, frame: VideoFrame) -> VideoFrame:
        """``frame`` padded to :attr:`size`."""
        frame.pts, frame.time_base = self._pts, Fraction(1, 1000)
        self._pts += 1
        self._graph.push(frame)
        padded: VideoFrame = self._graph.vpull()
        return padded


class VideoWriter:
    """Encodes frames into a MOV or MP4 at an exact rate, with a start timecode.

    The stream opens on the first frame (its size, its colour tags). ``timecode`` goes
    in as the stream's ``timecode`` metadata before the header, which FFmpeg's MOV/MP4
    muxer writes as a ``tmcd`` track. ``bt709`` converts other matrices to BT.709 (what
    editors assume for HD; see :class:`ToBt709`), else the frames' matrix and tags are
    kept. ``frame_threads`` encodes frames in parallel (for intra-only codecs). Use as a
    context manager: leaving it by an
    exception closes the file without finishing it (the caller removes it).
    """

    def __init__(
        self,
        path: Path,
        *,
        codec: str,
        pix_fmt: str,
        options: dict[str, str],
        rate: Fraction,
        timecode: str | None,
        container_format: str = "mov",
        even: bool = False,
        bt709: bool = False,
        frame_threads: bool = False,
    ) -> None:
        import av

        self._container = av.open(str(path), "w", format=container_format)
        self._codec, self._pix_fmt, self._options = codec, pix_fmt, options
        self._rate, self._timecode, self._even = rate, timecode, even
        self._bt709 = ToBt709() if bt709 else None
        self._frame_threads = frame_threads
        self._stream: VideoStream | None = None
        self._padder: Padder | None = None
        self.frames = 0
        self.notes: list[str] = []

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.close(finish=kind is None)

    def _open(self, frame: VideoFrame) -> VideoStream:
        from av.video.stream import VideoStream

        width, height = frame.width, frame.height
        if self._even and Padder.needed(frame):
            self._padder = Padder(frame)
            width, height = self._padder.size
            self.notes.append(
                f"padded {frame.width}×{frame.height} to {width}×{height} (4:2:0 needs an "
                "even size): the last column or row repeats"
            )
        stream = self._container.add_stream(self._codec, rate=self._rate, options=self._options)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, self._pix_fmt
        if self._frame_threads:
            # Intra-only encoders (ProRes, DNxHR) encode frames in parallel as they are.
            stream.codec_context.thread_type = "FRAME"
            stream.codec_context.thread_count = 0
        if not is_rgb(self._pix_fmt):
            for name, value in colour_tags(frame).items():
                setattr(stream.codec_context, name, value)
        if self._timecode is not None:
            stream.metadata["timecode"] = self._timecode
        self._stream = stream
        return stream

    def write(self, frame: VideoFrame) -> None:
        """Encode ``frame`` as the next frame (its own timestamp is not used)."""
        if self._bt709 is not None:
            frame = self._bt709(frame)
        stream = self._stream or self._open(frame)
        source = self._padder.pad(frame) if self._padder is not None else frame
        picture = convert(source, self._pix_fmt)
        picture.pts, picture.time_base = self.frames, 1 / self._rate
        self._container.mux(stream.encode(picture))
        self.frames += 1

    def close(self, *, finish: bool = True) -> None:
        """Flush the encoder and write the index (``finish``), then close the file."""
        import av

        try:
            if finish and self._stream is not None:
                self._container.mux(self._stream.encode(None))
        finally:
            if finish:
                self._container.close()
            else:
                with contextlib.suppress(av.error.FFmpegError, OSError):
                    self._container.close()

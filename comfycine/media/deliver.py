"""Delivering a render in the format the editor asked for, fitted to its clip, timecoded.

One decode → encode pass applies the :class:`~comfycine.media.fit.FitPlan` (output
frame j is the render's ``fit.frame_map(j)``) and stamps the clip's rate exactly:

==========  ===============================================================  =========
kind        encoding                                                         written
==========  ===============================================================  =========
``prores``  ProRes 422 HQ (``prores_ks`` profile 3, vendor apl0), 4:2:2 10-bit  .mov
``dnxhr``   DNxHR HQ (``dnxhd`` profile dnxhr_hq), 4:2:2 8-bit; ≥ 256×120       .mov
``png``     a folder ``<stem>/`` of ``<stem>.%07d.png``, numbered from the       folder
            timecode frame; RGB, 16-bit when the render has more than 8 bits
``h264``    H.264 (libx264 CRF 14), 4:2:0, odd sizes padded to even             .mov
``copy``    the render's own stream, not re-encoded; only when the fit is        .mov
            ``none`` and the codec is one MOV carries, else ``h264`` (noted)
==========  ===============================================================  =========

Encoded deliveries are BT.709 (tagged), what editors assume for HD: a render tagged
otherwise, or untagged (so encoded as BT.601, as ComfyUI's savers do), is converted.
The start timecode goes in as a MOV ``tmcd`` track and is read back before the file is
published. Audio is not carried: a render's audio (rare) would need its own fit; a note
says when it was dropped. Results are written under a ``.part`` name and published
under ``<stem>.mov`` (``<stem>-2.mov`` … when taken, never over a file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfycine.errors import UsageError
from comfycine.media.errors import ConformError, unreadable
from comfycine.media.fit import FitPlan
from comfycine.media.frames import Decoder, VideoWriter, convert, open_video
from comfycine.media.output import discard, part_path, publish, publish_folder
from comfycine.media.probe import VideoInfo, probe
from comfycine.media.timecode import format_timecode, parse_timecode

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

KINDS = ("prores", "dnxhr", "png", "h264", "copy")
# kind → (encoder, pixel format, options, pad to an even size)
ENCODINGS: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "prores": ("prores_ks", "yuv422p10le", {"profile": "3", "vendor": "apl0"}, False),
    "dnxhr": ("dnxhd", "yuv422p", {"profile": "dnxhr_hq"}, False),
    # A fixed thread count: x264's output depends on it (same bytes on every machine).
    "h264": ("libx264", "yuv420p", {"crf": "14", "preset": "medium", "threads": "4"}, True),
}
COPYABLE = frozenset({"h264", "hevc", "prores", "dnxhd", "mjpeg"})  # codecs MOV carries
DNXHR_MIN = (256, 120)  # FFmpeg's dnxhd encoder refuses smaller DNxHR pictures
DIGITS = 7


@dataclass(frozen=True)
class Delivered:
    """A delivered result: the file (or a PNG sequence's first image) and what it holds."""

    path: Path
    kind: str  # as delivered: "h264" when a "copy" could not be one
    frames: int
    rate: Fraction
    timecode: str | None  # the start timecode (a PNG sequence's first number says it too)
    # A PNG sequence: (folder, name before the number, digits, suffix).
    sequence: tuple[Path, str, int, str] | None = None
    notes: list[str] = field(default_factory=list)  # what the delivery changed or left out

    @property
    def first_number(self) -> int:
        """A PNG sequence's first frame number (0 for a file)."""
        if self.sequence is None:
            return 0
        _, prefix, _, suffix = self.sequence
        return int(self.path.name[len(prefix) : len(self.path.name) - len(suffix)])

    def to_dict(self) -> dict[str, Any]:
        """The delivery for JSON."""
        return {
            "path": str(self.path),
            "kind": self.kind,
            "frames": self.frames,
            "rate": str(self.rate),
            "timecode": self.timecode,
            "sequence": [str(self.sequence[0]), *self.sequence[1:]] if self.sequence else None,
            "notes": list(self.notes),
        }


def deliver(
    rendered: Path,
    out_stem: Path,
    *,
    kind: str,
    fit: FitPlan,
    rate: Fraction,
    timecode_frame: int | None,
    drop_frame: bool = False,
) -> Delivered:
    """Write ``rendered``, fitted by ``fit``, as ``kind`` at ``out_stem`` + its suffix.

    ``rate`` is the clip's (``fit`` was planned for it); ``timecode_frame`` the first
    frame's number on the source's clock at that rate (None: no timecode, a sequence
    numbered from 0), ``drop_frame`` writing it as drop-frame where the rate has one.
    Raises ``invalid_delivery`` for an unknown kind, ``media_unreadable`` when the
    render does not open, ``delivery_unsupported`` for a size the encoder refuses and
    ``delivery_failed`` when the written file does not read back as written.
    """
    if kind not in KINDS:
        raise UsageError(
            f"Unknown delivery format {kind!r}.",
            code="invalid_delivery",
            hint=f"Deliver one of: {', '.join(KINDS)}.",
        )
    info = probe(rendered)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if info.has_audio:
        notes.append("the render's audio is not carried (deliver picture only)")
    timecode = None
    if timecode_frame is not None:
        timecode = format_timecode(timecode_frame, rate, drop=drop_frame)
    if kind == "copy":
        why = _cannot_copy(info, fit)
        if why is None:
            return _copy(info, out_stem, fit, rate, timecode, notes)
        notes.append(f"not copied ({why}): re-encoded as H.264")
        kind = "h264"
    if kind == "png":
        return _png(info, out_stem, fit, rate, timecode, timecode_frame or 0, notes)
    if kind == "dnxhr" and (info.width < DNXHR_MIN[0] or info.height < DNXHR_MIN[1]):
        raise ConformError(
            f"{info.path.name} is {info.width}×{info.height}: DNxHR needs at least "
            f"{DNXHR_MIN[0]}×{DNXHR_MIN[1]}.",
            code="delivery_unsupported",
            hint="Deliver it as prores or png instead.",
            details={"path": str(info.path), "width": info.width, "height": info.height},
        )
    return _encode(info, out_stem, kind, fit, rate, timecode, notes)


def _cannot_copy(info: VideoInfo, fit: FitPlan) -> str | None:
    """Why the render's stream cannot go into the delivery as it is, or None."""
    if fit.action != "none":
        return f"the render needs a {fit.action} to match its clip"
    if info.codec not in COPYABLE:
        return f"{info.codec} is not a delivery codec"
    return None


def _mapped(info: VideoInfo, fit: FitPlan, notes: list[str]) -> Iterator[VideoFrame]:
    """The render's frames in delivery order: ``fit.frame_map(j)`` for each j."""
    with open_video(info.path) as (container, stream):
        decoder = Decoder(container, stream)
        frames = iter(decoder)
        current: VideoFrame | None = None
        index = -1
        for out in range(fit.frames):
            want = fit.frame_map(out)
            while index < want:
                try:
                    current = next(frames)
                except StopIteration:
                    why = decoder.summary() or "it ends early"
                    notes.append(
                        f"the render decodes to its frame {index} only ({why}): "
                        f"{out} of {fit.frames} frames delivered"
                    )
                    return
                index += 1
            assert current is not None
            yield current


def _encode(
    info: VideoInfo,
    out_stem: Path,
    kind: str,
    fit: FitPlan,
    rate: Fraction,
    timecode: str | None,
    notes: list[str],
) -> Delivered:
    """Decode, map and encode into a MOV; check it reads back; publish it."""
    import av

    codec, pix_fmt, options, even = ENCODINGS[kind]
    final = out_stem.with_name(out_stem.name + ".mov")
    part = part_path(final)
    try:
        with VideoWriter(
            part, codec=codec, pix_fmt=pix_fmt, options=options, rate=rate,
            timecode=timecode, even=even, bt709=True, frame_threads=kind != "h264",
        ) as writer:  # fmt: skip
            for frame in _mapped(info, fit, notes):
                writer.write(frame)
        if not writer.frames:
            raise unreadable(info.path, "no frame of it decodes")
        notes.extend(writer.notes)
        _verify(part, final, writer.frames, rate, timecode)
        path = publish(part, final)
    except av.error.FFmpegError as exc:
        discard(part)
        raise ConformError(
            f"Cannot encode {info.path.name} as {kind}: {exc}.",
            code="delivery_failed",
            hint="Deliver it as prores or png instead.",
            details={"path": str(info.path), "kind": kind},
        ) from exc
    except BaseException:
        discard(part)
        raise
    return Delivered(path, kind, writer.frames, rate, timecode, None, notes)


def _copy(
    info: VideoInfo,
    out_stem: Path,
    fit: FitPlan,
    rate: Fraction,
    timecode: str | None,
    notes: list[str],
) -> Delivered:
    """The render's video packets into a MOV as they are, with the timecode."""
    import av

    final = out_stem.with_name(out_stem.name + ".mov")
    part = part_path(final)
    try:
        with open_video(info.path) as (container, stream), av.open(str(part), "w", "mov") as out:
            copied = out.add_stream_from_template(stream)
            if timecode is not None:
                copied.metadata["timecode"] = timecode
            try:
                for packet in container.demux(stream):
                    if packet.dts is None and packet.pts is None:
                        continue  # the demuxer's end-of-stream packet
                    packet.stream = copied
                    out.mux(packet)
            except av.error.FFmpegError as exc:
                raise unreadable(info.path, f"it is damaged ({exc})") from exc
        _verify(part, final, fit.frames, rate, timecode)
        path = publish(part, final)
    except BaseException:
        discard(part)
        raise
    return Delivered(path, "copy", fit.frames, rate, timecode, None, notes)


def _verify(part: Path, final: Path, frames: int, rate: Fraction, timecode: str | None) -> None:
    """Probe the written file: its frame count, rate and timecode are the ones written."""
    got = probe(part, count=True)
    wrong = []
    if got.frames != frames:
        wrong.append(f"{got.frames} frames instead of {frames}")
    if got.rate != rate:
        wrong.append(f"a rate of {got.rate} instead of {rate}")
    if timecode is not None and (
        got.timecode is None or got.start_frame != parse_timecode(timecode, rate)[0]
    ):
        wrong.append(f"timecode {got.timecode} instead of {timecode}")
    if wrong:
        raise ConformError(
            f"{final.name} did not come out as written: {', '.join(wrong)}.",
            code="delivery_failed",
            hint="Deliver it as another format (prores, png), and report this.",
            details={"path": str(final)},
        )


def _png(
    info: VideoInfo,
    out_stem: Path,
    fit: FitPlan,
    rate: Fraction,
    timecode: str | None,
    start: int,
    notes: list[str],
) -> Delivered:
    """Decode, map and write one PNG a frame into a folder; publish the folder."""
    import av

    pix_fmt = "rgb48be" if info.bit_depth > 8 else "rgb24"
    part = part_path(out_stem)
    name = out_stem.name
    part.mkdir(parents=True)
    written = 0

    def save(packets: list[Any]) -> None:
        # Frame threads hand packets back a few frames late, always in order.
        nonlocal written
        for packet in packets:
            (part / f"{name}.{start + written:0{DIGITS}d}.png").write_bytes(bytes(packet))
            written += 1

    try:
        encoder: Any = None
        for sent, frame in enumerate(_mapped(info, fit, notes)):
            picture = convert(frame, pix_fmt)
            if encoder is None:
                encoder = av.CodecContext.create("png", "w")
                # zlib level 1: 7× quicker than FFmpeg's default for files ~13 % larger.
                encoder.options = {"compression_level": "1"}
                encoder.thread_type, encoder.thread_count = "FRAME", 0
                encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, pix_fmt
                encoder.time_base = 1 / rate
            picture.pts = sent
            save(encoder.encode(picture))
        if encoder is not None:
            save(encoder.encode(None))
        if not written:
            raise unreadable(info.path, "no frame of it decodes")
        folder = publish_folder(part, out_stem, _rename_images)
    except BaseException:
        discard(part)
        raise
    first = folder / f"{folder.name}.{start:0{DIGITS}d}.png"
    sequence = (folder, f"{folder.name}.", DIGITS, ".png")
    return Delivered(first, "png", written, rate, timecode, sequence, notes)


def _rename_images(folder: Path, name: str) -> None:
    """Rename ``<old>.NNNNNNN.png`` in ``folder`` to ``<name>.NNNNNNN.png``."""
    for image in sorted(folder.glob("*.png")):
        number = image.name.rsplit(".", 2)[-2]
        image.rename(folder / f"{name}.{number}.png")

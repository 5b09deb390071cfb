"""Container metadata of MP4/MOV/M4V and WebM/MKV files, written by remuxing with PyAV.

Writing copies every stream's packets into a new container (no decoding, no encoding)
with the new tags added to the original ones. MP4 and MOV are written with
``movflags=use_metadata_tags`` as ComfyUI's SaveVideo does: without it ffmpeg's muxer
keeps only the iTunes keys (``comment``, ``title``…) and the MOV muxer cuts a
``comment`` past 64 KiB. With it every key survives, as an ``mdta`` key. Matroska
keeps any key but reads it back upper-cased, so keys are compared lower-cased.
PyAV is imported inside the functions: it loads FFmpeg's libraries, which costs time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The muxer per file suffix; a file's actual container family must match (see _muxer).
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}
SUFFIXES = frozenset(MUXERS)
_ISOBMFF = "mov,mp4,m4a,3gp,3g2,mj2"
_MATROSKA = "matroska,webm"
# The MP4 demuxer shows the ftyp box as tags, and every muxer writes its own `encoder`:
# copying them would turn them into real tags.
_NOT_COPIED = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})


class ContainerError(ValueError):
    """The file cannot be read or remuxed as a video container; the message says why."""


def read_tags(path: Path) -> dict[str, str]:
    """The container-level metadata of the video at ``path``, keys lower-cased.

    Raises ContainerError when the file cannot be opened as a media container.
    """
    import av

    try:
        with av.open(str(path)) as container:
            return {key.lower(): value for key, value in container.metadata.items()}
    except av.FFmpegError as exc:
        raise ContainerError(f"it cannot be opened as a video ({_reason(exc)})") from exc


def remux_with_tags(source: Path, target: Path, tags: Mapping[str, str]) -> None:
    """Write into ``target`` a copy of the video ``source`` with ``tags`` set on the container.

    Every stream and packet is copied as is; the original container and stream metadata
    is kept, a key of ``tags`` replacing an original one of any case. The copy is read
    back: it must have the same streams, the same packet count per stream and ``tags``
    unchanged. Raises ContainerError for an unreadable source or a copy that fails the
    check, OSError when ``target`` cannot be written.
    """
    import av

    replaced = {key.lower() for key in tags}
    sent: Counter[int] = Counter()
    try:
        with av.open(str(source)) as original:
            muxer = _muxer(source, original.format.name)
            options = {"movflags": "use_metadata_tags"} if muxer in ("mp4", "mov") else {}
            with av.open(str(target), "w", format=muxer, options=options) as copy:
                for key, value in original.metadata.items():
                    if key.lower() not in _NOT_COPIED | replaced:
                        copy.metadata[key] = value
                copy.metadata.update(tags)
                streams: dict[int, Any] = {}
                timecode = _timecode_track(original)
                expected_streams = len(original.streams)
                for stream in original.streams:
                    if timecode is not None and stream.index == timecode[0]:
                        continue  # recreated by the muxer from the video's timecode tag
                    # opaque: the codec is not opened, so no decoder is needed to copy.
                    streams[stream.index] = copy.add_stream_from_template(stream, opaque=True)
                    streams[stream.index].metadata.update(stream.metadata)
                    if timecode is not None and stream.type == "video":
                        streams[stream.index].metadata["timecode"] = timecode[1]
                        # The muxer times the timecode track by the stream's frame rate,
                        # which a template copy leaves unset for intra codecs (ProRes).
                        if stream.average_rate:
                            streams[stream.index].codec_context.framerate = stream.average_rate
                for packet in original.demux():
                    if packet.size == 0 or packet.stream.index not in streams:
                        continue  # the end-of-stream marker; the timecode track's sample
                    sent[packet.stream.index] += 1
                    packet.stream = streams[packet.stream.index]
                    copy.mux(packet)
    except ContainerError:
        raise
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.FileNotFoundError):
            raise  # disk full, permissions: the caller's "cannot write" error
        raise ContainerError(f"it cannot be remuxed ({_reason(exc)})") from exc
    except ValueError as exc:  # PyAV refusing a stream it cannot copy
        raise ContainerError(f"it cannot be remuxed ({exc})") from exc
    if not sent:
        raise ContainerError("it holds no packets")
    _check_copy(target, expected_streams, sent, tags, retimed=timecode is not None)


def _timecode_track(container: Any) -> tuple[int, str] | None:
    """A QuickTime timecode track (``tmcd``, a data stream): its index and timecode.

    PyAV cannot copy a data stream, but the mov muxer writes a timecode track itself
    for a video stream tagged ``timecode`` (what the conformed deliveries carry).
    """
    for stream in container.streams:
        timecode = stream.metadata.get("timecode")
        if stream.type == "data" and timecode:
            return stream.index, str(timecode)
    return None


def _muxer(path: Path, family: str) -> str:
    """The muxer for ``path``: its suffix's, within the container family it really is."""
    muxer = MUXERS.get(path.suffix.lower())
    if family == _ISOBMFF and muxer in ("mp4", "mov"):
        return muxer
    if family == _MATROSKA and muxer in ("webm", "matroska"):
        return muxer
    raise ContainerError(f"its container ({family}) does not match its name")


def _check_copy(
    path: Path, streams: int, sent: Counter[int], tags: Mapping[str, str], *, retimed: bool = False
) -> None:
    """Raise ContainerError unless ``path`` reads back with what was written into it.

    ``retimed``: the timecode track was rewritten by the muxer (it comes last, so the
    other streams' numbers may have moved): packet counts are compared without them.
    """
    import av

    try:
        with av.open(str(path)) as copy:
            found = len(copy.streams)
            got = Counter(
                p.stream.index
                for p in copy.demux()
                if p.size and not (retimed and p.stream.type == "data")
            )
            back = {key.lower(): value for key, value in copy.metadata.items()}
    except av.FFmpegError as exc:
        raise ContainerError(f"its remuxed copy does not open ({_reason(exc)})") from exc
    same = sorted(got.values()) == sorted(sent.values()) if retimed else got == sent
    if found != streams or not same:
        raise ContainerError(
            f"its remuxed copy differs ({found} streams, {got.total()} packets"
            f" instead of {streams} and {sent.total()})"
        )
    for key, value in tags.items():
        if back.get(key.lower()) != value:
            raise ContainerError(f"the muxer did not keep the {key!r} tag")


def _reason(exc: Exception) -> str:
    """An FFmpeg error in a few words, without the file path PyAV appends."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror or type(exc).__name__)

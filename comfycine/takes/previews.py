"""Previews of outputs: a poster frame and a contact sheet per video, a thumbnail per image.

Pictures an agent or a phone can read at a glance, where a video cannot be. Made on the
Mac without a system ffmpeg: PyAV decodes (:mod:`.video`), Pillow composes
(:mod:`.canvas`), and both are imported only when a preview is made. Every file is
written through a temporary name and a rename, so none is ever seen half-written, and a
failure leaves nothing behind. The sweep grid lives in :mod:`.grid` and is re-exported.

Errors: a missing file raises ``MediaNotFound``; an empty, unreadable or frameless one a
``UsageError`` with code ``media_unreadable``; a folder that cannot be written
``OutputNotWritable``. A truncated video (a download cut short) still gives a sheet of
the frames that decode, its header saying so and :attr:`Sheet.truncated` set; when no
frame decodes (an MP4 cut before its index, as most are) it is ``media_unreadable``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from comfycine.takes import canvas
from comfycine.takes.grid import GridCell, GridLayout, grid_layout, sweep_grid
from comfycine.takes.media import (
    Clip,
    ClipInfo,
    check_exists,
    choose_poster,
    is_animated,
    load_still,
    unreadable,
)
from comfycine.takes.video import open_clip

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "GridCell",
    "GridLayout",
    "Sheet",
    "SheetLayout",
    "contact_sheet",
    "grid_layout",
    "header_line",
    "poster_frame",
    "preview_kind",
    "previews_for",
    "sheet_layout",
    "spread",
    "sweep_grid",
    "thumbnail",
]

POSTER_WIDTH = 640
SHEET_WIDTH = 1280
SHEET_FRAMES = 12
SHEET_COLUMNS = 4
THUMB_WIDTH = 512

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".apng"}
)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
# Suffixes ComfyUI also uses for animations (SaveAnimatedWEBP, SaveAnimatedPNG).
_MAYBE_ANIMATED = frozenset({".png", ".webp"})


@dataclass(frozen=True)
class Sheet:
    """A contact sheet written to ``path``.

    ``frames`` is the count of frames placed (fewer than asked for a short or truncated
    clip), ``timecodes`` theirs (``HH:MM:SS:FF``), ``duration`` the seconds the readable
    frames cover, ``truncated`` whether the file holds fewer frames than it announces.
    """

    path: Path
    frames: int
    timecodes: list[str] = field(default_factory=list)
    duration: float = 0.0
    truncated: bool = False


def poster_frame(video: Path, out: Path, *, width: int = POSTER_WIDTH) -> Path:
    """Write the frame that stands for ``video`` (at 1/3 of it) to ``out`` as a JPEG.

    At most ``width`` px wide (a smaller video is not enlarged); PNG or WebP when
    ``out`` ends so, as for every picture written here. See
    :func:`comfycine.takes.media.choose_poster` for the choice of frame.
    """
    _check_positive(width=width)
    with open_clip(video) as clip:
        image = choose_poster(clip, width)
    return canvas.save_atomic(image, out)


def contact_sheet(
    video: Path,
    out: Path,
    *,
    frames: int = SHEET_FRAMES,
    columns: int = SHEET_COLUMNS,
    width: int = SHEET_WIDTH,
) -> Sheet:
    """Write ``frames`` frames spread evenly over ``video``, first and last included.

    The sheet is ``width`` px wide with ``columns`` cells a row (fewer when there are
    fewer frames); each frame is labelled with its timecode and frame number, and a
    header line gives the file's name, duration, size, frame rate, codec and bytes.
    """
    _check_positive(frames=frames, columns=columns, width=width)
    with open_clip(video) as clip:
        image, sheet, _ = _compose_sheet(clip, out, frames, columns, width, None)
    canvas.save_atomic(image, out)
    return sheet


def thumbnail(image: Path, out: Path, *, width: int = THUMB_WIDTH) -> Path:
    """Write ``image`` (PNG, JPEG, WebP, …) at most ``width`` px wide to ``out``.

    EXIF orientation is applied; transparency is laid over mid grey; an animation gives
    its first frame.
    """
    _check_positive(width=width)
    return canvas.save_atomic(load_still(image, width), out)


def preview_kind(path: Path) -> str | None:
    """``"image"``, ``"video"`` or None (no preview) for an output, by its suffix.

    A PNG or WebP holding an animation counts as a video.
    """
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in _MAYBE_ANIMATED and path.is_file() and is_animated(path):
        return "video"
    return "image" if suffix in IMAGE_SUFFIXES else None


def previews_for(output: Path, folder: Path) -> dict[str, str]:
    """Make the previews of one output in ``folder``, named from the output's stem.

    An image gives ``{"thumbnail": "<stem>.thumb.jpg"}``, a video ``{"poster":
    "<stem>.poster.jpg", "sheet": "<stem>.sheet.jpg"}`` (decoded once for both), any
    other file ``{}``. Values are the written paths. Errors as in the module docstring.
    """
    kind = preview_kind(output)
    if kind is None:
        return {}
    check_exists(output)
    if kind == "image":
        out = thumbnail(output, folder / f"{output.stem}.thumb.jpg")
        return {"thumbnail": str(out)}
    sheet_path = folder / f"{output.stem}.sheet.jpg"
    with open_clip(output) as clip:
        image, _, poster = _compose_sheet(
            clip, sheet_path, SHEET_FRAMES, SHEET_COLUMNS, SHEET_WIDTH, POSTER_WIDTH
        )
    assert poster is not None
    poster_path = canvas.save_atomic(poster, folder / f"{output.stem}.poster.jpg")
    canvas.save_atomic(image, sheet_path)
    return {"poster": str(poster_path), "sheet": str(sheet_path)}


def spread(count: int, wanted: int) -> list[int]:
    """``wanted`` frame numbers spread evenly over ``count`` frames, first and last included.

    Rounded half up, so the choice is exact: 72 frames, 12 wanted → 0, 6, 13, 19, …, 71.
    """
    picked = min(count, wanted)
    if picked <= 1:
        return [count // 2] if count else []
    steps = 2 * (picked - 1)
    return [(2 * i * (count - 1) + picked - 1) // steps for i in range(picked)]


Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)


@dataclass(frozen=True)
class SheetLayout:
    """Where a contact sheet's parts go: the header line, each frame and its label strip."""

    size: tuple[int, int]
    header: Box
    frames: list[Box]  # in reading order, one per placed frame
    labels: list[Box]  # the strip under each frame
    heading_px: int  # text size of the header
    label_px: int  # text size of the labels


def sheet_layout(count: int, columns: int, width: int, aspect: tuple[int, int]) -> SheetLayout:
    """The layout of ``count`` frames of ``aspect`` (w, h) in ``columns`` on ``width`` px.

    Columns shrink to ``count`` when there are fewer frames. Pure and deterministic.
    """
    columns = max(1, min(columns, count))
    gap, cell = _cell_width(columns, width)
    tall = max(1, round(cell * aspect[1] / aspect[0]))
    # Labels scale with the sheet (a phone shrinks it whole) but must fit their cell.
    label = max(10, min(width // 50, cell // 9))
    strip = canvas.line_height(label) + 2 * max(2, label // 4)
    heading = max(12, width // 40)
    header = canvas.line_height(heading) + 2 * gap
    frames, labels = [], []
    for number in range(count):
        row, column = divmod(number, columns)
        x, y = gap + column * (cell + gap), header + gap + row * (tall + strip + gap)
        frames.append((x, y, x + cell, y + tall))
        labels.append((x, y + tall, x + cell, y + tall + strip))
    height = header + gap + math.ceil(count / columns) * (tall + strip + gap)
    return SheetLayout((width, height), (0, 0, width, header), frames, labels, heading, label)


def _cell_width(columns: int, width: int) -> tuple[int, int]:
    """The gap between cells and a cell's width; ValueError when they do not fit."""
    gap = max(4, width // 160)
    cell = (width - gap * (columns + 1)) // columns
    if cell < 16:
        raise ValueError(f"a sheet {width} px wide has no room for {columns} columns")
    return gap, cell


def _compose_sheet(
    clip: Clip, out: Path, frames: int, columns: int, width: int, poster_width: int | None
) -> tuple[Image.Image, Sheet, Image.Image | None]:
    """Decode the sheet's frames (and the poster's, when asked) and draw the sheet."""
    from PIL import Image

    indices = spread(clip.info.frame_count, frames)
    _, cell = _cell_width(min(columns, len(indices)), width)
    poster_index = clip.info.frame_count // 3
    wanted = set(indices) | ({poster_index} if poster_width else set())
    cells: dict[int, Image.Image] = {}
    poster: Image.Image | None = None
    for index, render in clip.pictures(sorted(wanted)):
        if index in indices:
            cells[index] = render(cell)
        if poster_width and index == poster_index:
            poster = render(min(poster_width, clip.info.width))
    placed = [index for index in indices if index in cells]
    if not placed:
        raise unreadable(clip.info.path, "no frame of it decodes")
    if poster_width:
        poster = choose_poster(clip, poster_width, poster)

    info, first = clip.info, cells[placed[0]]
    layout = sheet_layout(len(placed), columns, width, first.size)
    sheet = Image.new("RGB", layout.size, canvas.BACKGROUND)
    _draw_header(sheet, info, layout.header, layout.heading_px)
    size = layout.label_px
    pad = max(2, size // 4)
    for index, box, strip in zip(placed, layout.frames, layout.labels, strict=True):
        left, top, _, bottom = box
        sheet.paste(cells[index], (left, top + (bottom - top - cells[index].height) // 2))
        sheet.paste(canvas.STRIP, strip)
        code, number = info.timecode(index), f"#{index}"
        canvas.text_in_box(sheet, strip, code, size, pad=pad)
        if canvas.text_width(code, size) + canvas.text_width(number, size) + 3 * pad <= cell:
            canvas.text_in_box(sheet, strip, number, size, canvas.MUTED, align="right", pad=pad)
    timecodes = [info.timecode(index) for index in placed]
    result = Sheet(out, len(placed), timecodes, info.duration, info.truncated)
    return sheet, result, poster


def header_line(info: ClipInfo) -> str:
    """A sheet's header: name · duration · size · fps · codec · bytes (· truncated)."""
    return " · ".join([info.path.name, *_facts(info)])


def _facts(info: ClipInfo) -> list[str]:
    """The header's facts after the file name."""
    facts = [
        f"{info.duration:.2f} s",
        f"{info.width}x{info.height}",
        f"{_number(float(info.fps))} fps",
        info.codec,
        _bytes(info.path.stat().st_size),
    ]
    if info.truncated:
        announced = f" of {info.declared:.2f} s" if info.declared else ""
        facts.append(f"TRUNCATED: {info.duration:.2f} s{announced} readable")
    return facts


def _draw_header(sheet: Image.Image, info: ClipInfo, box: Box, size: int) -> None:
    """Draw :func:`header_line` in ``box``, shortening the file name first when too long."""
    margin = (box[3] - box[1] - canvas.line_height(size)) // 2
    tail = " · " + " · ".join(_facts(info))
    room = box[2] - box[0] - 2 * margin
    name_room = room - canvas.text_width(tail, size)
    name = info.path.name
    if name_room >= canvas.text_width("abcd" + canvas.ELLIPSIS, size):
        line = canvas.fit_text(name, size, name_room) + tail
    else:
        line = name + tail  # too narrow for both: the name first, cut at the end
    colour = canvas.ACCENT if info.truncated else canvas.TEXT
    canvas.text_in_box(sheet, box, line, size, colour, pad=margin)


def _number(value: float) -> str:
    """A rate without needless decimals: 24, 23.976, 29.97."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _bytes(size: int) -> str:
    """A file size for people: 850 KB, 12.4 MB."""
    if size < 1_000_000:
        return f"{max(1, round(size / 1000))} KB"
    return f"{size / 1_000_000:.1f} MB"


def _check_positive(**values: int) -> None:
    """Raise ValueError for a count or width below 1 (a caller's mistake, not a user's)."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")

"""The labelled grid of a sweep: rows and columns are the varied values, cells the takes.

Row labels on the left, column labels on top, the axes' names (``row_title``,
``column_title``) in the corner and over the columns. The layout is a pure function of
the labels and sizes (:func:`grid_layout`), so it is the same for the same sweep, and
callers (the review page) can map a point of the picture back to its take. Text grows
with the grid's width, so labels stay readable when a phone (Telegram) shrinks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from comfycine.errors import ComfycineError, MediaNotFound
from comfycine.takes import canvas
from comfycine.takes.media import choose_poster, load_still
from comfycine.takes.video import open_clip

if TYPE_CHECKING:
    from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)

_CELL = (34, 34, 34)
_STILL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class GridCell:
    """One take of a sweep: its row and column labels, its picture (None: none), a caption.

    The picture is an image, a poster frame, or a video (its poster frame is taken).
    """

    row: str
    column: str
    image: Path | None
    caption: str = ""


@dataclass(frozen=True)
class GridLayout:
    """Where everything of a grid goes, in pixels; boxes are (left, top, right, bottom)."""

    size: tuple[int, int]
    cell_size: tuple[int, int]  # the picture box of one cell
    label_px: int  # text size of labels and titles
    caption_px: int  # text size of captions (0: no caption strip)
    cells: dict[tuple[str, str], Box]  # (row, column) → picture box
    captions: dict[tuple[str, str], Box]  # (row, column) → caption strip, when any
    row_labels: dict[str, Box]
    column_labels: dict[str, Box]
    row_title: Box | None
    column_title: Box | None


def grid_layout(
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    cell_width: int = 320,
    cell_height: int | None = None,
    row_title: str = "",
    column_title: str = "",
    captions: bool = False,
) -> GridLayout:
    """Lay out a grid of ``rows`` × ``columns`` cells; ``cell_height`` defaults to 16:9."""
    _check_labels(rows, "rows")
    _check_labels(columns, "columns")
    if cell_width < 32:
        raise ValueError(f"cell_width must be at least 32 px, not {cell_width}")
    cell_w, cell_h = cell_width, cell_height or round(cell_width * 9 / 16)
    # Text scales with the whole width too: a wide grid is shrunk more on a phone.
    label = max(14, cell_w // 10, cell_w * len(columns) // 48)
    label = min(label, max(14, cell_w // 5))
    pad, gap = max(4, label // 3), max(4, cell_w // 40)
    line = canvas.line_height(label)
    caption = max(12, label * 3 // 4) if captions else 0
    caption_h = canvas.line_height(caption) + pad if captions else 0
    texts = [text for text in (*rows, row_title) if text]
    widest = max((canvas.text_width(text, label) for text in texts), default=0)
    left = min(cell_w, widest + 2 * pad) if widest else 0  # no row labels: no column for them
    title_h = line + pad if column_title else 0
    top = title_h + line + 2 * pad
    width = left + gap + len(columns) * (cell_w + gap)
    height = top + gap + len(rows) * (cell_h + caption_h + gap)
    cells: dict[tuple[str, str], Box] = {}
    strips: dict[tuple[str, str], Box] = {}
    row_boxes: dict[str, Box] = {}
    column_boxes: dict[str, Box] = {}
    for c, column in enumerate(columns):
        x = left + gap + c * (cell_w + gap)
        column_boxes[column] = (x, title_h, x + cell_w, top)
    for r, row in enumerate(rows):
        y = top + gap + r * (cell_h + caption_h + gap)
        row_boxes[row] = (0, y, left, y + cell_h)
        for column in columns:
            x = column_boxes[column][0]
            cells[row, column] = (x, y, x + cell_w, y + cell_h)
            if captions:
                strips[row, column] = (x, y + cell_h, x + cell_w, y + cell_h + caption_h)
    return GridLayout(
        size=(width, height),
        cell_size=(cell_w, cell_h),
        label_px=label,
        caption_px=caption,
        cells=cells,
        captions=strips,
        row_labels=row_boxes,
        column_labels=column_boxes,
        row_title=(0, title_h, left, top) if row_title else None,
        column_title=(left + gap, 0, width - gap, title_h) if column_title else None,
    )


def sweep_grid(
    cells: Sequence[GridCell],
    out: Path,
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    row_title: str = "",
    column_title: str = "",
    cell_width: int = 320,
) -> Path:
    """Write one labelled grid of a sweep's takes to ``out`` (JPEG unless ``.png``/``.webp``).

    Each cell's picture is fitted into the cell (letterboxed), whose height follows the
    first readable picture's aspect ratio. A cell without a picture, or whose file is
    missing or unreadable, is drawn dark with that word, so one bad take never loses the
    grid; a position with no :class:`GridCell` is drawn like one without a picture.
    Raises ValueError for labels that repeat or a cell outside ``rows`` × ``columns``.
    """
    from PIL import Image

    by_place = _place(cells, rows, columns)
    pictures = {place: _load(cell.image, cell_width) for place, cell in by_place.items()}
    height = None  # from the first readable picture, row by row
    for place in ((row, column) for row in rows for column in columns):
        picture = pictures.get(place)
        if picture is not None and not isinstance(picture, str):
            height = max(16, round(cell_width * picture.height / picture.width))
            break
    layout = grid_layout(
        rows,
        columns,
        cell_width=cell_width,
        cell_height=height,
        row_title=row_title,
        column_title=column_title,
        captions=any(cell.caption for cell in cells),
    )
    grid = Image.new("RGB", layout.size, canvas.BACKGROUND)
    label, pad = layout.label_px, max(4, layout.label_px // 3)
    if layout.column_title is not None:
        canvas.text_in_box(grid, layout.column_title, column_title, label, canvas.ACCENT,
                           align="center", valign="top")  # fmt: skip
    if layout.row_title is not None:
        canvas.text_in_box(grid, layout.row_title, row_title, label, canvas.ACCENT,
                           pad=pad, valign="bottom")  # fmt: skip
    for column, box in layout.column_labels.items():
        canvas.text_in_box(grid, box, column, label, align="center", valign="bottom", pad=pad)
    for row, box in layout.row_labels.items():
        canvas.text_in_box(grid, box, row, label, pad=pad)
    for place, box in layout.cells.items():
        _draw_cell(grid, box, pictures.get(place, "no image"), label)
        strip, cell = layout.captions.get(place), by_place.get(place)
        if strip is not None:
            grid.paste(canvas.STRIP, strip)
            caption = cell.caption if cell is not None else ""
            canvas.text_in_box(grid, strip, caption, layout.caption_px, canvas.MUTED, pad=pad)
    return canvas.save_atomic(grid, out)


def _place(
    cells: Sequence[GridCell], rows: Sequence[str], columns: Sequence[str]
) -> dict[tuple[str, str], GridCell]:
    """The cells by (row, column); ValueError for one outside the grid or given twice."""
    _check_labels(rows, "rows")
    _check_labels(columns, "columns")
    known_rows, known_columns = set(rows), set(columns)
    placed: dict[tuple[str, str], GridCell] = {}
    for cell in cells:
        if cell.row not in known_rows or cell.column not in known_columns:
            raise ValueError(f"cell ({cell.row!r}, {cell.column!r}) is outside the grid")
        if (cell.row, cell.column) in placed:
            raise ValueError(f"two cells at ({cell.row!r}, {cell.column!r})")
        placed[cell.row, cell.column] = cell
    return placed


def _check_labels(labels: Sequence[str], name: str) -> None:
    """ValueError for an empty axis or a label given twice."""
    if not labels:
        raise ValueError(f"{name} must name at least one label")
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name} repeat a label: {list(labels)!r}")


def _load(path: Path | None, width: int) -> Image.Image | str:
    """A cell's picture, or the word drawn instead: no image, missing, unreadable."""
    if path is None:
        return "no image"
    try:
        if path.suffix.lower() in _STILL_SUFFIXES:
            return load_still(path, width)
        with open_clip(path) as clip:
            return choose_poster(clip, width)
    except MediaNotFound:
        return "missing"
    except ComfycineError:
        return "unreadable"


def _draw_cell(grid: Image.Image, box: Box, picture: Image.Image | str, size: int) -> None:
    """A picture fitted and centred in ``box``, or the box dark with a word in it."""
    from PIL import Image

    if isinstance(picture, str):
        grid.paste(canvas.FAILED, box)
        canvas.text_in_box(grid, box, picture, size, canvas.MUTED, align="center")
        return
    grid.paste(_CELL, box)
    left, top, right, bottom = box
    scale = min((right - left) / picture.width, (bottom - top) / picture.height)
    fitted = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    if fitted != picture.size:
        picture = picture.resize(fitted, Image.Resampling.LANCZOS)
    x, y = left + (right - left - fitted[0]) // 2, top + (bottom - top - fitted[1]) // 2
    grid.paste(picture, (x, y))

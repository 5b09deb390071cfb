"""The labelled sweep grid: its layout, its pictures, failed cells and legible text."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from comfycine.takes import canvas
from comfycine.takes.grid import GridCell, grid_layout, sweep_grid

from .clips import close, colour, make_clip

ROWS = ["cfg 4.0", "cfg 5.5", "cfg 7.0"]
COLUMNS = ["seed 1", "seed 2"]


def pictures(folder: Path, size: tuple[int, int] = (640, 360)) -> dict[tuple[str, str], Path]:
    """A PNG of a distinct flat colour for each (row, column) of ROWS x COLUMNS."""
    paths = {}
    for r, row in enumerate(ROWS):
        for c, column in enumerate(COLUMNS):
            path = folder / f"{r}{c}.png"
            Image.new("RGB", size, colour(r * 2 + c, 6)).save(path)
            paths[row, column] = path
    return paths


def lit(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixels of ``box`` are light (text on the dark background)."""
    return sum(image.convert("L").crop(box).histogram()[129:])


def test_layout_puts_row_labels_left_and_column_labels_on_top() -> None:
    """Row labels end where the cells begin and span their row; column labels sit above."""
    layout = grid_layout(ROWS, COLUMNS, row_title="cfg", column_title="seed")
    for (row, column), (left, top, right, bottom) in layout.cells.items():
        r_left, r_top, r_right, r_bottom = layout.row_labels[row]
        assert r_left == 0 and r_right <= left and (r_top, r_bottom) == (top, bottom)
        c_left, _, c_right, c_bottom = layout.column_labels[column]
        assert (c_left, c_right) == (left, right) and c_bottom <= top
    assert layout.row_title is not None and layout.column_title is not None
    assert layout.column_title[3] <= min(box[1] for box in layout.column_labels.values())
    assert layout == grid_layout(ROWS, COLUMNS, row_title="cfg", column_title="seed")


def test_grid_cells_hold_their_pictures_in_place(tmp_path: Path) -> None:
    """Each cell shows its own picture; the file is as large as the layout says."""
    paths = pictures(tmp_path)
    cells = [GridCell(row, column, path) for (row, column), path in paths.items()]
    out = sweep_grid(cells, tmp_path / "grid.png", rows=ROWS, columns=COLUMNS)
    image = Image.open(out).convert("RGB")
    layout = grid_layout(ROWS, COLUMNS, cell_height=180)
    assert image.size == layout.size
    for r, row in enumerate(ROWS):
        for c, column in enumerate(COLUMNS):
            left, top, right, bottom = layout.cells[row, column]
            middle = image.getpixel(((left + right) // 2, (top + bottom) // 2))
            assert close(middle, colour(r * 2 + c, 6), 2), (row, column)


def test_labels_and_titles_are_drawn_in_their_boxes(tmp_path: Path) -> None:
    """Every row and column label and both titles leave light pixels in their boxes."""
    cells = [GridCell(row, column, path) for (row, column), path in pictures(tmp_path).items()]
    out = sweep_grid(
        cells, tmp_path / "g.png", rows=ROWS, columns=COLUMNS, row_title="cfg", column_title="seed"
    )
    image = Image.open(out)
    layout = grid_layout(ROWS, COLUMNS, cell_height=180, row_title="cfg", column_title="seed")
    assert layout.row_title is not None and layout.column_title is not None
    boxes = [*layout.row_labels.values(), *layout.column_labels.values()]
    for box in [*boxes, layout.row_title, layout.column_title]:
        assert lit(image, box) > 20, box


def test_grid_without_titles_leaves_the_corner_empty(tmp_path: Path) -> None:
    """No titles: no title line, and the corner above the row labels stays background."""
    cells = [GridCell(row, column, path) for (row, column), path in pictures(tmp_path).items()]
    image = Image.open(sweep_grid(cells, tmp_path / "g.png", rows=ROWS, columns=COLUMNS))
    layout = grid_layout(ROWS, COLUMNS, cell_height=180)
    first_cell_top = min(box[1] for box in layout.cells.values())
    left_edge = min(box[0] for box in layout.cells.values())
    assert layout.column_title is None and layout.row_title is None
    assert lit(image, (0, 0, left_edge, first_cell_top)) == 0


def test_failed_missing_and_unreadable_cells_are_drawn(tmp_path: Path) -> None:
    """No picture, a missing file and a corrupt one are dark cells; the grid is written."""
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cells = [
        GridCell("a", "1", None, "failed: out of memory"),
        GridCell("a", "2", tmp_path / "gone.png"),
        GridCell("a", "3", tmp_path / "bad.png"),
    ]
    out = sweep_grid(cells, tmp_path / "g.png", rows=["a"], columns=["1", "2", "3"])
    image = Image.open(out).convert("RGB")
    layout = grid_layout(["a"], ["1", "2", "3"], captions=True)
    assert image.size == layout.size  # no readable picture: 16:9 cells
    for box in layout.cells.values():
        assert image.getpixel((box[0] + 2, box[1] + 2)) == canvas.FAILED
        assert lit(image, box) > 20  # the word drawn in it
    assert lit(image, layout.captions["a", "1"]) > 20  # the caption under it


def test_positions_without_a_cell_are_drawn_empty(tmp_path: Path) -> None:
    """A sweep still running: positions with no GridCell yet are empty cells."""
    paths = pictures(tmp_path)
    out = sweep_grid(
        [GridCell(ROWS[0], COLUMNS[0], paths[ROWS[0], COLUMNS[0]])],
        tmp_path / "g.png",
        rows=ROWS,
        columns=COLUMNS,
    )
    image = Image.open(out).convert("RGB")
    box = grid_layout(ROWS, COLUMNS, cell_height=180).cells[ROWS[2], COLUMNS[1]]
    assert image.getpixel((box[0] + 2, box[1] + 2)) == canvas.FAILED


def test_cell_height_follows_the_first_readable_picture(tmp_path: Path) -> None:
    """Portrait pictures (9:16) give 320x569 cells; a wider one is letterboxed in them."""
    Image.new("RGB", (360, 640), (200, 0, 0)).save(tmp_path / "tall.png")
    Image.new("RGB", (640, 360), (0, 0, 200)).save(tmp_path / "wide.png")
    cells = [
        GridCell("r", "tall", tmp_path / "tall.png"),
        GridCell("r", "wide", tmp_path / "wide.png"),
    ]
    out = sweep_grid(cells, tmp_path / "g.png", rows=["r"], columns=["tall", "wide"])
    image = Image.open(out).convert("RGB")
    layout = grid_layout(["r"], ["tall", "wide"], cell_height=569)
    assert image.size == layout.size
    left, top, right, bottom = layout.cells["r", "wide"]
    assert image.getpixel(((left + right) // 2, top + 5)) != (0, 0, 200)  # letterbox bar
    assert close(image.getpixel(((left + right) // 2, (top + bottom) // 2)), (0, 0, 200), 2)


def test_a_video_cell_shows_its_poster_frame(tmp_path: Path) -> None:
    """A cell given the clip itself shows the frame at 1/3 of it."""
    clip = make_clip(tmp_path / "take.mp4")
    out = sweep_grid([GridCell("r", "c", clip)], tmp_path / "g.png", rows=["r"], columns=["c"])
    image = Image.open(out).convert("RGB")
    left, top, right, bottom = grid_layout(["r"], ["c"], cell_height=180).cells["r", "c"]
    assert close(image.getpixel(((left + right) // 2, (top + bottom) // 2)), colour(24, 72))


def test_one_parameter_sweep_is_one_row(tmp_path: Path) -> None:
    """Four seeds, one row: a wide strip one cell high, columns left to right."""
    path = pictures(tmp_path)[ROWS[0], COLUMNS[0]]
    seeds = ["1", "2", "3", "4"]
    cells = [GridCell("", seed, path) for seed in seeds]
    out = sweep_grid(cells, tmp_path / "g.jpg", rows=[""], columns=seeds, column_title="seed")
    layout = grid_layout([""], seeds, cell_height=180, column_title="seed")
    assert Image.open(out).size == layout.size
    lefts = [layout.cells["", seed][0] for seed in seeds]
    assert lefts == sorted(lefts) and layout.row_labels[""][2] == 0  # no label column


def test_text_grows_with_the_grid_so_a_phone_can_read_it() -> None:
    """Labels of an eight-column grid are larger than a two-column one's (it is shrunk more)."""
    narrow = grid_layout(["r"], ["a", "b"]).label_px
    wide = grid_layout(["r"], [str(i) for i in range(8)]).label_px
    assert narrow >= 32 and wide > narrow


def test_cells_outside_the_grid_or_twice_are_refused(tmp_path: Path) -> None:
    """A cell on an unknown row, two cells in one place, or a repeated label: ValueError."""
    with pytest.raises(ValueError, match="outside"):
        sweep_grid([GridCell("x", "1", None)], tmp_path / "g.jpg", rows=["a"], columns=["1"])
    with pytest.raises(ValueError, match="two cells"):
        twice = [GridCell("a", "1", None), GridCell("a", "1", None)]
        sweep_grid(twice, tmp_path / "g.jpg", rows=["a"], columns=["1"])
    with pytest.raises(ValueError, match="repeat"):
        sweep_grid([], tmp_path / "g.jpg", rows=["a", "a"], columns=["1"])
    assert list(tmp_path.iterdir()) == []


def test_long_labels_are_cut_to_their_box(tmp_path: Path) -> None:
    """A label wider than its cell ends in an ellipsis and stays inside its box."""
    text = "a very long sampler name that cannot fit " * 3
    size = grid_layout(["r"], [text]).label_px
    fitted = canvas.fit_text(text, size, 320)
    assert fitted.endswith(canvas.ELLIPSIS) and canvas.text_width(fitted, size) <= 320


def test_bitmap_font_fallback_still_draws_large_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a scalable font (old Pillow), the bitmap font is enlarged to the asked size."""
    monkeypatch.setattr(canvas, "scalable_font", lambda size: None)
    assert canvas.line_height(33) == 33  # 11 px bitmap font, three times
    assert canvas.text_mask("seed…é", 22).height == 22
    cells = [GridCell(row, column, path) for (row, column), path in pictures(tmp_path).items()]
    out = sweep_grid(cells, tmp_path / "g.png", rows=ROWS, columns=COLUMNS, column_title="seed")
    image = Image.open(out)
    layout = grid_layout(ROWS, COLUMNS, cell_height=180, column_title="seed")
    assert image.size == layout.size
    for box in [*layout.row_labels.values(), *layout.column_labels.values()]:
        assert lit(image, box) > 20, box

"""Drawing helpers of the previews: fonts at a pixel size, text fitted to a width, atomic saves.

Pillow is imported inside the functions: the CLI starts without it (start-up time is a
product feature). Text is drawn through a mask (:func:`text_mask`), so the one code path
serves Pillow's scalable default font (Pillow ≥ 10.1, built with FreeType) and, where
that is missing, its tiny bitmap font enlarged by a whole factor (blocky but legible).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfycine.errors import OutputNotWritable

if TYPE_CHECKING:
    from PIL import Image, ImageFont

BACKGROUND = (17, 17, 17)
STRIP = (0, 0, 0)
TEXT = (238, 238, 238)
MUTED = (150, 150, 150)
ACCENT = (255, 204, 102)
FAILED = (60, 24, 24)
ELLIPSIS = "…"

# The height of Pillow's bitmap default font, the unit of its whole-factor enlargement.
_BITMAP_PX = 11
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


@functools.lru_cache(maxsize=32)
def scalable_font(size: int) -> ImageFont.FreeTypeFont | None:
    """Pillow's default font at ``size`` px, or None where only the bitmap font exists."""
    from PIL import ImageFont

    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: no size argument
        return None
    return font if isinstance(font, ImageFont.FreeTypeFont) else None


def line_height(size: int) -> int:
    """The height of one line of text at ``size`` px (ascent + descent), for any text."""
    font = scalable_font(size)
    if font is None:
        return _BITMAP_PX * _bitmap_factor(size)
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


def text_mask(text: str, size: int) -> Image.Image:
    """``text`` as an ``L`` mask one line high (:func:`line_height`), as wide as it draws."""
    from PIL import Image, ImageDraw, ImageFont

    font = scalable_font(size)
    if font is None:
        # The bitmap font knows Latin-1 only: anything else becomes "?".
        plain = text.replace(ELLIPSIS, "...").encode("latin-1", "replace").decode("latin-1")
        bitmap = ImageFont.load_default()
        width = max(1, int(bitmap.getlength(plain)))
        small = Image.new("L", (width, _BITMAP_PX))
        ImageDraw.Draw(small).text((0, 0), plain, fill=255, font=bitmap)
        factor = _bitmap_factor(size)
        return small.resize((width * factor, _BITMAP_PX * factor), Image.Resampling.NEAREST)
    mask = Image.new("L", (max(1, int(font.getlength(text)) + 1), line_height(size)))
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
    return mask


def text_width(text: str, size: int) -> int:
    """How many pixels wide ``text`` draws at ``size`` px."""
    return text_mask(text, size).width


def fit_text(text: str, size: int, width: int) -> str:
    """``text``, cut at its end with an ellipsis until it draws within ``width`` px."""
    if text_width(text, size) <= width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits, found by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS if low else ""


def draw_text(
    image: Image.Image,
    xy: tuple[int, int],
    text: str,
    size: int,
    fill: tuple[int, int, int] = TEXT,
    *,
    width: int | None = None,
    align: str = "left",
) -> tuple[int, int, int, int]:
    """Draw ``text`` with its top-left at ``xy``, fitted to ``width`` and aligned in it.

    ``align`` is ``left``, ``center`` or ``right`` within ``width`` (which defaults to
    the text's own width). Returns the box the drawn text covers (left, top, right,
    bottom); an empty box at ``xy`` when nothing fits.
    """
    x, y = xy
    shown = fit_text(text, size, width) if width is not None else text
    if not shown:
        return (x, y, x, y)
    mask = text_mask(shown, size)
    if width is not None and align == "center":
        x += max(0, (width - mask.width) // 2)
    elif width is not None and align == "right":
        x += max(0, width - mask.width)
    image.paste(fill, (x, y, x + mask.width, y + mask.height), mask)
    return (x, y, x + mask.width, y + mask.height)


def text_in_box(
    image: Image.Image,
    box: tuple[int, int, int, int],
    text: str,
    size: int,
    fill: tuple[int, int, int] = TEXT,
    *,
    align: str = "left",
    valign: str = "center",
    pad: int = 0,
) -> tuple[int, int, int, int]:
    """Draw one line of ``text`` inside ``box`` less ``pad``, fitted and aligned.

    ``valign`` is ``top``, ``center`` or ``bottom``; returns the box the text covers.
    """
    left, top, right, bottom = box
    room = bottom - top - 2 * pad - line_height(size)
    y = top + pad + {"top": 0, "bottom": max(0, room)}.get(valign, max(0, room) // 2)
    return draw_text(
        image, (left + pad, y), text, size, fill, width=right - left - 2 * pad, align=align
    )


def save_atomic(image: Image.Image, out: Path, *, quality: int = 85) -> Path:
    """Write ``image`` to ``out`` via a temporary file in its folder, then rename it.

    The format follows the suffix (``.jpg``/``.jpeg``, ``.png``, ``.webp``; anything
    else is JPEG). A reader never sees half a file, and a failure leaves no temporary
    file behind. File-system failures raise :class:`OutputNotWritable`.
    """
    kind = _FORMATS.get(out.suffix.lower(), "JPEG")
    options: dict[str, Any] = {"quality": quality} if kind in ("JPEG", "WEBP") else {}
    temp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "xb") as handle:
            image.save(handle, kind, **options)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not publish an empty file on a crash
        os.replace(temp, out)
    except OSError as exc:
        _discard(temp)
        code = "disk_full" if exc.errno in _DISK_FULL else "output_not_writable"
        raise OutputNotWritable(
            f"Cannot write the preview {out}: {exc.strerror or exc}.",
            code=code,
            hint="Free some space or fix the folder's permissions, then run the command again.",
            details={"path": str(out)},
        ) from exc
    except BaseException:
        _discard(temp)
        raise
    return out


def _discard(temp: Path) -> None:
    """Remove a temporary file if it is there (its folder may not even exist)."""
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)


def _bitmap_factor(size: int) -> int:
    """The whole factor that brings the bitmap font nearest to ``size`` px (at least 1)."""
    return max(1, round(size / _BITMAP_PX))

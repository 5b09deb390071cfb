"""Writing results without ever replacing a file: ``.part`` names, then a free name.

The house rule (as :func:`comfycine.watch.exchange.place_file`): a result is written
under a hidden ``.part`` name beside its destination and published only once complete,
under its name or, when that is taken, ``name-2``, ``name-3`` …, never over a file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from comfycine.errors import ComfycineError
from comfycine.files import name_variants, publish_part
from comfycine.media.errors import MediaError


def part_path(final: Path) -> Path:
    """The hidden name ``final`` is written under: ``.name.<pid>.part`` beside it."""
    return final.with_name(f".{final.name}.{os.getpid()}.part")


def publish(part: Path, final: Path, *, rename: bool = True) -> Path:
    """Move the finished ``part`` to ``final`` or, with ``rename``, its first free variant
    (:func:`comfycine.files.publish_part`). Without ``rename`` a taken ``final`` raises
    ``output_exists``.
    """
    published = publish_part(part, final, rename=rename)
    if published is not None:
        return published
    if not rename:
        part.unlink(missing_ok=True)
        raise exists_error(final)
    raise ComfycineError(f"Too many files named like {final.name} in {final.parent}.")


def exists_error(final: Path) -> MediaError:
    """The ``output_exists`` error: ``final`` is there and is never written over."""
    return MediaError(
        f"Will not write over {final.name}: it exists already.",
        code="output_exists",
        hint="Remove it or pick another name, then run the conform again.",
        details={"path": str(final)},
    )


def publish_folder(part: Path, final: Path, rename_inside: Callable[[Path, str], None]) -> Path:
    """Move the finished folder ``part`` to ``final`` or its first free variant.

    ``rename_inside(folder, name)`` renames the files in ``folder`` for the folder's
    new ``name`` when a variant is taken (their names carry it). A rename onto a folder
    that appeared meanwhile fails unless that folder is empty (nothing is lost then).
    """
    planned = final.name
    for candidate in name_variants(final):
        if candidate.exists():
            continue
        if candidate.name != planned:
            rename_inside(part, candidate.name)
            planned = candidate.name
        try:
            os.rename(part, candidate)
        except OSError:
            if candidate.exists():
                continue
            raise
        return candidate
    raise ComfycineError(f"Too many folders named like {final.name} in {final.parent}.")


def discard(path: Path) -> None:
    """Remove a ``.part`` file or folder left by a failed write (quietly)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

"""Writing files the way comfycine promises: atomically, and never over an existing file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError


def write_new_file(path: Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` via a temporary file; refuse to replace unless ``force``.

    Without ``force`` the final step is a hard link, which fails if the name was taken in
    the meantime, so a concurrent writer is never overwritten either.
    """
    if path.exists() and not force:
        raise UsageError(
            f"{path} already exists.",
            hint="Choose another name, or pass --force to replace it.",
            code="file_exists",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if force:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                raise UsageError(
                    f"{path} already exists.",
                    hint="Choose another name, or pass --force to replace it.",
                    code="file_exists",
                ) from None
    finally:
        Path(temp).unlink(missing_ok=True)
    return path


MAX_VARIANTS = 1000


def name_variants(final: Path) -> Iterator[Path]:
    """``final``, then ``final-2``, ``final-3`` … (the number before the suffix)."""
    yield final
    for number in range(2, MAX_VARIANTS):
        yield final.with_name(f"{final.stem}-{number}{final.suffix}")


def publish_part(part: Path, final: Path, *, rename: bool = True) -> Path | None:
    """Move the finished ``part`` to ``final`` (or, with ``rename``, its first free
    variant) without ever replacing a file; None when no name is free.

    A hard link makes the move fail rather than replace a file that appears meanwhile;
    where links do not work (exFAT, some network shares) the name is reserved with an
    exclusive create first. ``part`` is left in place when None is returned.
    """
    for candidate in name_variants(final) if rename else iter([final]):
        try:
            os.link(part, candidate)
        except FileExistsError:
            continue
        except OSError:
            try:
                with candidate.open("xb"):
                    pass
            except FileExistsError:
                continue
            os.replace(part, candidate)
            return candidate
        part.unlink()
        return candidate
    return None

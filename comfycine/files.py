"""Writing files the way comfycine promises: atomically, and never over an existing file."""

from __future__ import annotations

import os
import tempfile
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

"""The content hash that identifies an input file (batch and watch skip what they did).

A file is known by its bytes, not its name or path: a plate renamed or moved keeps its
hash, and a file rewritten under the same name gets a new one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 1024 * 1024


def content_hash(path: Path) -> str:
    """The SHA-256 of the file's bytes, as 64 lower-case hex digits.

    Read in 1 MiB chunks, so a multi-gigabyte video never sits in memory. ``OSError``
    (missing, unreadable, a directory) propagates for the caller to report.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()

"""The content hash of input files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from comfycine.filehash import CHUNK_BYTES, content_hash


def test_hash_is_sha256_of_the_bytes_across_chunks(tmp_path: Path) -> None:
    """A file larger than one chunk hashes to the SHA-256 of all its bytes."""
    data = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)
    path = tmp_path / "plate.exr"
    path.write_bytes(data)
    assert content_hash(path) == hashlib.sha256(data).hexdigest()


def test_hash_follows_content_not_name(tmp_path: Path) -> None:
    """Same bytes under two names hash alike; one byte changed hashes differently."""
    (tmp_path / "a.png").write_bytes(b"frame")
    (tmp_path / "b.png").write_bytes(b"frame")
    (tmp_path / "c.png").write_bytes(b"frane")
    hashes = [content_hash(tmp_path / n) for n in ("a.png", "b.png", "c.png")]
    assert hashes[0] == hashes[1] != hashes[2]


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    """An unreadable path raises OSError for the caller to report."""
    with pytest.raises(OSError):
        content_hash(tmp_path / "gone.png")

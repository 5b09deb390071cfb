"""A small tmpfs mounted for one test: a disk that fills up, or one that is read-only.

Only root on Linux may mount; anywhere else (or when the mount is refused, as in an
unprivileged container) the test is skipped, never failed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MOUNT_TIMEOUT = 30
FILL_BLOCK = 64 * 1024


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m", *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` for the block (skips when that is impossible)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=MOUNT_TIMEOUT,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount refused: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], timeout=MOUNT_TIMEOUT, check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until the disk is full; returns it (delete it to free)."""
    filler = folder / "filler.bin"
    block = b"\xff" * FILL_BLOCK
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler

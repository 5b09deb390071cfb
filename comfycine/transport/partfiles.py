"""``*.part`` files: where a download's bytes wait until the file is whole.

A part is named after its final file and its writer's pid
(``shot-01.mp4.4242.part``), so a later process can tell whose it is: a part whose
writer is gone (or that has not changed for :data:`STALE_AFTER`) is *stale*. A stale
part of the same destination is adopted and resumed; other stale parts are swept.
A part of a live writer is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from ..pids import process_exists

PART_SUFFIX = ".part"
# A writer touches its part at least every read timeout; one untouched for a day is
# abandoned even if its pid now belongs to another process (pids are reused).
STALE_AFTER = 24 * 3600.0
_PART = re.compile(r"^(?P<final>.+)\.(?P<pid>\d{1,10})\.part$")


def part_path(destination: Path, pid: int | None = None) -> Path:
    """The part file of ``destination`` written by ``pid`` (this process by default)."""
    return destination.with_name(f"{destination.name}.{pid or os.getpid()}{PART_SUFFIX}")


def parse_part(path: Path) -> tuple[str, int] | None:
    """``(final file name, writer pid)`` of a part file name, None if it is not one."""
    match = _PART.match(path.name)
    return (match["final"], int(match["pid"])) if match else None


def is_stale(path: Path, pid: int, *, now: float | None = None) -> bool:
    """Whether a part's writer is gone: a dead pid, or untouched for :data:`STALE_AFTER`."""
    if pid == os.getpid():
        return False
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_AFTER or not process_exists(pid)


def parts_in(folder: Path) -> list[tuple[Path, str, int]]:
    """Every part file directly in ``folder``: ``(path, final name, pid)``."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        parsed = parse_part(entry) if entry.name.endswith(PART_SUFFIX) else None
        if parsed is not None:
            found.append((entry, *parsed))
    return found


def adopt_part(destination: Path) -> Path:
    """This process's part of ``destination``, taking over the largest stale one.

    Returns the part path (it may not exist: nothing to resume). Smaller stale parts
    of the same destination are deleted; parts of live writers are left alone.
    """
    mine = part_path(destination)
    candidates = [mine] if mine.exists() else []
    for path, final, pid in parts_in(destination.parent):
        if final == destination.name and path != mine and is_stale(path, pid):
            candidates.append(path)
    if not candidates:
        return mine
    best = max(candidates, key=_size)
    for path in candidates:
        if path != best:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    if best != mine:
        with contextlib.suppress(FileNotFoundError):  # another process adopted it first
            os.replace(best, mine)
    return mine


def sweep_stale_parts(folder: Path, keep: Callable[[str], bool] | None = None) -> list[Path]:
    """Delete the stale parts in ``folder``, except those whose final name ``keep`` accepts.

    ``keep`` spares the parts of outputs that a later ``wait`` may still resume.
    """
    removed = []
    for path, final, pid in parts_in(folder):
        if (keep is not None and keep(final)) or not is_stale(path, pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1

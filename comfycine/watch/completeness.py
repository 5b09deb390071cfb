"""When is a file in the exchange folder complete? Final Cut writes exports progressively.

Nothing tells us a file is finished: macOS has no close event (FSEvents), and an export
may pause for minutes while the editor works. So a file is taken only when

1. its size and modification time stayed the same over ``polls`` consecutive polls
   spaced ``interval`` seconds apart (:class:`StabilityTracker`, pure: a clock is
   injected, observations are fed in);
2. no process holds it open for writing, where that can be seen (Linux: ``/proc``;
   macOS: ``lsof``). Not knowing (no tool) does not block;
3. for a video, ``ffprobe`` can read its container when ffprobe is installed: a
   QuickTime ``.mov`` is unreadable until its ``moov`` atom is written at the end.

See ../shared/FIELD-FACTS.md §4.1 for the recipe these follow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POLLS = 3
DEFAULT_INTERVAL = 2.0
PROBE_TIMEOUT = 10.0
FFPROBE_TIMEOUT = 30.0

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".exr", ".heic"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mov", ".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mxf", ".gif", ".mpg", ".mpeg"}
)

# Why a stable file is still not taken.
OPEN_FOR_WRITING = "open_for_writing"
UNREADABLE_CONTAINER = "unreadable_container"


def media_kind(path: Path | str) -> str | None:
    """``image``, ``video`` or None, from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


@dataclass(frozen=True)
class FileState:
    """What a poll sees of a file: any change means it is still being written."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileState:
        """The state of a ``stat`` result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass
class _Seen:
    state: FileState
    since: float
    count: int


class StabilityTracker:
    """Counts identical observations of each file; ready after ``polls`` over the interval.

    Ready means: the same :class:`FileState` seen ``polls`` times in a row, the first of
    them at least ``(polls - 1) * interval`` seconds ago, and the file not empty. Extra
    observations (a watchdog event waking the loop early) therefore never shorten the
    wait. Keys are whatever the caller uses to name files.
    """

    def __init__(
        self,
        *,
        polls: int = DEFAULT_POLLS,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if polls < 1 or interval < 0:
            raise ValueError("polls must be >= 1 and interval >= 0")
        self.polls = polls
        self.interval = interval
        self._clock = clock
        self._seen: dict[str, _Seen] = {}

    def observe(self, key: str, state: FileState) -> bool:
        """Record one poll of ``key``; True when the file is stable (ready to probe)."""
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or seen.state != state:
            seen = self._seen[key] = _Seen(state, now, 0)
        seen.count += 1
        window = (self.polls - 1) * self.interval
        return state.size > 0 and seen.count >= self.polls and now - seen.since >= window - 1e-9

    def stable_for(self, key: str) -> float:
        """Seconds since ``key`` was first seen in its current state (0 if unknown)."""
        seen = self._seen.get(key)
        return 0.0 if seen is None else self._clock() - seen.since

    def forget(self, key: str) -> None:
        """Stop tracking ``key`` (it was taken, moved or deleted)."""
        self._seen.pop(key, None)

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget every file not in ``keys`` (gone since the last scan)."""
        wanted = set(keys)
        for key in [k for k in self._seen if k not in wanted]:
            del self._seen[key]

    @property
    def tracked(self) -> set[str]:
        """Every key observed and not forgotten."""
        return set(self._seen)


def open_for_writing(path: Path) -> bool | None:
    """Whether some process holds ``path`` open for writing; None when it cannot be seen.

    Linux reads ``/proc/*/fd`` (only the processes we may look at); elsewhere ``lsof``
    answers when installed. Same-user processes (the editor) are always visible.
    """
    if sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd"):
        return _proc_writers(path)
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    try:
        done = subprocess.run(
            [lsof, "-w", "-F", "a", "--", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode not in (0, 1):
        return None
    return lsof_has_writer(done.stdout)


def lsof_has_writer(output: str) -> bool:
    """True when ``lsof -F a`` output shows a descriptor open for writing (``w`` or ``u``)."""
    return any(line.startswith("a") and ("w" in line or "u" in line) for line in output.split())


def _proc_writers(path: Path) -> bool:
    target = os.path.realpath(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or another user's process
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != target:
                    continue
            except OSError:
                continue
            flags = _fd_flags(pid, fd)
            if flags is None or flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                return True
    return False


def _fd_flags(pid: str, fd: str) -> int | None:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def container_readable(path: Path) -> bool | None:
    """For a video, whether ``ffprobe`` reads its container; None when not applicable.

    None for images, when ffprobe is not installed, or when it hangs: not knowing never
    blocks a file.
    """
    if media_kind(path) != "video":
        return None
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    command = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json"]
    try:
        done = subprocess.run(
            [*command, str(path)],
            capture_output=True,
            timeout=FFPROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    except OSError:
        return None
    return done.returncode == 0


@dataclass(frozen=True)
class Probes:
    """The checks run on a stable file (replaceable in tests)."""

    writers: Callable[[Path], bool | None] = open_for_writing
    container: Callable[[Path], bool | None] = container_readable


def incomplete_reason(path: Path, probes: Probes) -> str | None:
    """Why a stable file must still wait (:data:`OPEN_FOR_WRITING`, …), or None when complete.

    Blocking (runs processes): call it from a worker thread.
    """
    if probes.writers(path) is True:
        return OPEN_FOR_WRITING
    if probes.container(path) is False:
        return UNREADABLE_CONTAINER
    return None

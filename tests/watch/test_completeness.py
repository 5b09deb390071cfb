"""When a file in the exchange folder counts as complete."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from comfycine.watch.completeness import (
    OPEN_FOR_WRITING,
    UNREADABLE_CONTAINER,
    FileState,
    Probes,
    StabilityTracker,
    container_readable,
    incomplete_reason,
    lsof_has_writer,
    media_kind,
    open_for_writing,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tracker(clock: Clock, polls: int = 3, interval: float = 2.0) -> StabilityTracker:
    """A tracker on the hand clock."""
    return StabilityTracker(polls=polls, interval=interval, clock=clock)


def state(size: int, mtime: int = 1) -> FileState:
    """A file state of the given size and mtime."""
    return FileState(size=size, mtime_ns=mtime, inode=7)


def test_growing_file_is_never_ready() -> None:
    """A file whose size changes at every poll is not ready, however long it is watched."""
    clock = Clock()
    track = tracker(clock)
    for size in range(1, 20):
        assert not track.observe("a.mov", state(size * 1000, size))
        clock.now += 2.0


def test_stable_file_is_ready_after_polls_spaced_by_the_interval() -> None:
    """Three identical polls two seconds apart: ready on the third, not before."""
    clock = Clock()
    track = tracker(clock)
    assert not track.observe("a.mov", state(500))
    clock.now += 2.0
    assert not track.observe("a.mov", state(500))
    clock.now += 2.0
    assert track.observe("a.mov", state(500))


def test_extra_polls_do_not_shorten_the_wait() -> None:
    """Polls in quick succession (watchdog wake-ups) count only once the interval passed."""
    clock = Clock()
    track = tracker(clock)
    for _ in range(10):
        assert not track.observe("a.mov", state(500))
        clock.now += 0.1
    clock.now = 104.0
    assert track.observe("a.mov", state(500))


def test_a_change_restarts_the_count() -> None:
    """A new mtime with the same size (a rewrite in place) starts the wait over."""
    clock = Clock()
    track = tracker(clock)
    track.observe("a.mov", state(500, mtime=1))
    clock.now += 2.0
    track.observe("a.mov", state(500, mtime=1))
    clock.now += 2.0
    assert not track.observe("a.mov", state(500, mtime=2))
    clock.now += 2.0
    assert not track.observe("a.mov", state(500, mtime=2))
    clock.now += 2.0
    assert track.observe("a.mov", state(500, mtime=2))


def test_empty_file_is_not_ready() -> None:
    """An exporter creates the file empty first: zero bytes never count as complete."""
    clock = Clock()
    track = tracker(clock, polls=1, interval=0.0)
    assert not track.observe("a.mov", state(0))
    assert track.observe("a.mov", state(1))


def test_forgotten_and_vanished_files_start_over() -> None:
    """keep_only drops files gone from the folder; their next sighting waits again."""
    clock = Clock()
    track = tracker(clock, polls=2, interval=1.0)
    track.observe("a.png", state(5))
    track.observe("b.png", state(5))
    track.keep_only({"b.png"})
    assert track.tracked == {"b.png"}
    clock.now += 1.0
    assert not track.observe("a.png", state(5))
    assert track.observe("b.png", state(5))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_open_for_writing_is_seen_on_linux(tmp_path: Path) -> None:
    """A file held open for writing is reported; once closed, or only read, it is not."""
    path = tmp_path / "export.mov"
    path.write_bytes(b"x" * 10)
    with path.open("ab") as handle:
        handle.write(b"more")
        handle.flush()
        assert open_for_writing(path) is True
    assert open_for_writing(path) is False
    with path.open("rb"):
        assert open_for_writing(path) is False


def test_lsof_field_output_tells_writers_from_readers() -> None:
    """`lsof -F a` lines: access mode w or u is a writer, r is not."""
    assert lsof_has_writer("p812\nf12\naw\n")
    assert lsof_has_writer("p812\nf12\nar\np900\nf3\nau\n")
    assert not lsof_has_writer("p812\nf12\nar\n")
    assert not lsof_has_writer("")


def fake_ffprobe(folder: Path, exit_code: int) -> None:
    """An `ffprobe` on PATH that answers with ``exit_code``."""
    folder.mkdir(exist_ok=True)
    script = folder / "ffprobe"
    script.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_ffprobe_decides_for_videos_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ffprobe's exit code is the verdict for a video; images and a missing ffprobe: None."""
    video, image = tmp_path / "plan.mov", tmp_path / "still.png"
    video.write_bytes(b"\0" * 8)
    image.write_bytes(b"\0" * 8)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert container_readable(video) is None
    fake_ffprobe(tmp_path / "ok", 0)
    monkeypatch.setenv("PATH", str(tmp_path / "ok"))
    assert container_readable(video) is True
    assert container_readable(image) is None
    fake_ffprobe(tmp_path / "bad", 1)
    monkeypatch.setenv("PATH", str(tmp_path / "bad") + os.pathsep + str(tmp_path / "ok"))
    assert container_readable(video) is False


def test_incomplete_reason_uses_both_probes(tmp_path: Path) -> None:
    """A writer blocks; an unreadable container blocks; unknown answers never block."""
    path = tmp_path / "a.mov"
    assert incomplete_reason(path, Probes(lambda p: True, lambda p: True)) == OPEN_FOR_WRITING
    assert incomplete_reason(path, Probes(lambda p: False, lambda p: False)) == (
        UNREADABLE_CONTAINER
    )
    assert incomplete_reason(path, Probes(lambda p: None, lambda p: None)) is None


def test_media_kind_by_extension() -> None:
    """Extensions map to image or video, case-insensitively; others to None."""
    assert media_kind("plan12.MOV") == "video"
    assert media_kind("still.png") == "image"
    assert media_kind("notes.txt") is None

"""Rendering each shot's record range as a pull: files, failures, a bounded wait."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import ModuleType

import av
import pytest

from comfycine.errors import ExitCode
from comfycine.resolve import ResolveRenderFailed, connect
from comfycine.resolve.render import Clock

from .conftest import FakeClock
from .standin.stage import Stage


def frame_count(path: Path) -> int:
    """Frames in a video file, decoded (not the header's guess)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_each_shot_becomes_a_pull_of_its_frames(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """One ProRes .mov per shot, named in order, with the shot's frame count and rate."""
    session = connect(standin, clock=clock)
    shots = session.select()
    seen: list[tuple[int, float]] = []
    paths = session.render_pulls(
        shots, tmp_path / "pulls", timeout=60, on_progress=lambda s, p: seen.append((s.index, p))
    )
    assert [p.name for p in paths] == ["001-shot010.mov", "002-shot020.mov", "003-shot030.mov"]
    assert [frame_count(p) for p in paths] == [48, 24, 36]
    with av.open(str(paths[0])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert stream.average_rate == Fraction(24000, 1001)
    assert (1, 100.0) in seen


def test_render_jobs_are_deleted_and_settings_restored(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """After the render the queue holds none of the bridge's jobs; mode and codec are back."""
    queue = stage.project.queue
    connect(standin, clock=clock).render_pulls(connect(standin).select(), tmp_path, timeout=60)
    assert queue.jobs == {}
    assert (queue.mode, queue.format, queue.codec) == (0, "mp4", "H264")


def test_a_failed_job_is_reported_with_its_shot(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """A job Resolve fails: resolve_render_failed (exit 5) naming the shot and Resolve's error;
    the other pulls are listed as rendered, every job is deleted."""
    stage.fail_jobs = {"002-shot020"}
    session = connect(standin, clock=clock)
    with pytest.raises(ResolveRenderFailed) as caught:
        session.render_pulls(session.select(), tmp_path, timeout=60)
    error = caught.value
    assert (error.code, error.exit_code) == ("resolve_render_failed", ExitCode.FAILED)
    assert "002-shot020: Failed (Media offline)" in error.message
    assert [f["shot"] for f in error.details["failed"]] == [2]
    assert len(error.details["rendered"]) == 2
    assert stage.project.queue.jobs == {}


def test_a_render_that_never_ends_is_stopped_after_the_timeout(
    standin: ModuleType, stage: Stage, clock: Clock, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Jobs stuck in Rendering: the wait ends at the timeout, rendering is stopped, the
    jobs deleted, resolve_render_timeout names what was still waiting."""
    stage.never_finish = True
    session = connect(standin, clock=clock)
    with pytest.raises(ResolveRenderFailed) as caught:
        session.render_pulls(session.select(), tmp_path, timeout=10, poll=1)
    assert caught.value.code == "resolve_render_timeout"
    assert "001-shot010 (Rendering)" in caught.value.message
    assert fake_clock.sleeps == 10 and stage.project.queue.jobs == {}


def test_resolve_busy_rendering_queues_nothing(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """Resolve already rendering: resolve_busy, and no job added."""
    stage.busy = True
    session = connect(standin, clock=clock)
    with pytest.raises(ResolveRenderFailed) as caught:
        session.render_pulls(session.select(), tmp_path, timeout=60)
    assert caught.value.code == "resolve_busy" and stage.project.queue.count == 0


def test_a_refused_codec_lists_the_codecs_resolve_offers(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """SetCurrentRenderFormatAndCodec False: resolve_render_refused with details.codecs."""
    session = connect(standin, clock=clock)
    with pytest.raises(ResolveRenderFailed) as caught:
        session.render_pulls(session.select(), tmp_path, codec="DNxHR")
    assert caught.value.code == "resolve_render_refused"
    assert "ProRes422HQ" in caught.value.details["codecs"].values()


def test_an_existing_file_is_never_overwritten(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """A pull of the same name already in the folder: the new one is ``-2``."""
    (tmp_path / "001-shot010.mov").write_bytes(b"earlier")
    session = connect(standin, clock=clock)
    paths = session.render_pulls(session.select(marker="fix"), tmp_path, timeout=60)
    assert [p.name for p in paths] == ["001-shot010-2.mov"]
    assert (tmp_path / "001-shot010.mov").read_bytes() == b"earlier"


def test_no_shots_render_nothing(standin: ModuleType, stage: Stage, tmp_path: Path) -> None:
    """An empty selection adds no job and returns no file."""
    assert connect(standin).render_pulls([], tmp_path) == []
    assert stage.project.queue.count == 0

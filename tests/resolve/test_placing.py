"""Receiving results: a bin named after the template, a new track, record positions."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import ModuleType

from PIL import Image

from comfycine.conform.shots import Placement, Shot
from comfycine.errors import ExitCode
from comfycine.resolve import connect
from tests.takes.clips import make_clip

from .standin.stage import Stage

RATE = Fraction(24000, 1001)


def results(shots: list[Shot], folder: Path) -> list[Placement]:
    """A delivered file per shot, as long as the shot, at the timeline's rate."""
    folder.mkdir(parents=True, exist_ok=True)
    placements = []
    for shot in shots:
        frames = round(shot.duration * RATE)
        path = make_clip(
            folder / f"{shot.index:03d}-upscale.mp4", fps=RATE, frames=frames, size=(32, 18)
        )
        placements.append(Placement(shot, f"{shot.name} upscale", path, RATE, frames, 0))
    return placements


def layout(timeline: object, track: int) -> list[tuple[str, int, int]]:
    """(name, start, duration) of every item on a video track."""
    return [(i.name, i.start, i.duration) for i in timeline.video[track - 1]]


def test_results_go_on_a_new_track_at_their_record_frames(
    standin: ModuleType, stage: Stage, tmp_path: Path
) -> None:
    """Three results: bin "upscale-video" under the root, new V3 named after it, each clip
    at timeline start + record offset with its length; V1 and V2 untouched."""
    reel = stage.project.current
    before = (layout(reel, 1), layout(reel, 2))
    session = connect(standin)
    report = session.import_results("upscale-video", results(session.select(), tmp_path))
    assert (report.track, report.placed, report.failure()) == (3, 3, None)
    assert [c.record_frame for c in report.clips] == [86400, 86448, 86484]
    assert [(start, length) for _, start, length in layout(reel, 3)] == [
        (86400, 48),
        (86448, 24),
        (86484, 36),
    ]
    assert (layout(reel, 1), layout(reel, 2)) == before
    root = stage.project.media_pool.root
    assert [f.name for f in root.subfolders] == ["upscale-video"]
    assert len(root.subfolders[0].clips) == 3 and root.clips == []
    assert reel.track_names[3] == "upscale-video"
    assert stage.project.media_pool.current is root  # the editor's bin is selected again


def test_a_second_receive_reuses_the_bin_and_its_clips(
    standin: ModuleType, stage: Stage, tmp_path: Path
) -> None:
    """Receiving again: the same bin, no re-import, another new track."""
    session = connect(standin)
    placements = results(session.select(), tmp_path)
    session.import_results("upscale-video", placements)
    report = session.import_results("upscale-video", placements)
    root = stage.project.media_pool.root
    assert len(root.subfolders) == 1 and len(root.subfolders[0].clips) == 3
    assert report.track == 4 and all(c.reused and c.placed for c in report.clips)


def test_a_missing_file_is_reported_and_the_rest_placed(
    standin: ModuleType, stage: Stage, tmp_path: Path
) -> None:
    """A result whose file is gone: not placed, named in resolve_import_failed (exit 5)."""
    session = connect(standin)
    placements = results(session.select(), tmp_path)
    placements[1].media.unlink()
    report = session.import_results("upscale-video", placements)
    assert [c.placed for c in report.clips] == [True, False, True]
    failure = report.failure()
    assert failure is not None and failure.exit_code == ExitCode.FAILED
    assert "shot020 upscale: file not found" in failure.message


def test_results_go_to_the_sent_timeline_even_when_another_is_open(
    standin: ModuleType, stage: Stage, tmp_path: Path
) -> None:
    """The editor switched to Reel 2: receive opens Reel 1 and places there."""
    reel1, reel2 = stage.project.timelines
    session = connect(standin)
    placements = results(session.select(), tmp_path)
    stage.project.current = reel2
    connect(standin, timeline="Reel 1").import_results("upscale-video", placements)
    assert len(reel1.video) == 3 and reel2.video == [[]]


def test_nothing_to_place_adds_no_track(standin: ModuleType, stage: Stage) -> None:
    """No results: no bin, no track."""
    report = connect(standin).import_results("upscale-video", [])
    assert report.track is None and len(stage.project.current.video) == 2


def test_a_png_sequence_is_imported_as_one_clip(
    standin: ModuleType, stage: Stage, tmp_path: Path
) -> None:
    """A PNG-sequence result is imported with FilePath %07d, StartIndex, EndIndex."""
    shot = connect(standin).select(marker="VFX")[0]
    for number in range(86448, 86448 + 24):
        Image.new("RGB", (8, 8)).save(tmp_path / f"shot.{number:07d}.png")
    first = tmp_path / "shot.0086448.png"
    placement = Placement(
        shot, "shot020 png", first, RATE, 24, 86448, (tmp_path, "shot.", 7, ".png")
    )
    report = connect(standin).import_results("png", [placement])
    assert report.placed == 1
    assert layout(stage.project.current, 3) == [("shot.0086448.png", 86448, 24)]

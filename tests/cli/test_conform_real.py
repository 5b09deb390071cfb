"""``conform`` end to end on the real CPU ComfyUI: a timeline in, clips rendered, back in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import Isolation, invoke, ledger_rows
from tests.real_server import RealComfyUI
from tests.takes.clips import close, colour, make_clip

pytestmark = pytest.mark.real

RATE = 24
SIZE = (160, 96)


def otio_timeline(folder: Path) -> Path:
    """Two clips on V1 (a gap between them) from two files, written with OTIO's own writer."""
    import opentimelineio as otio

    make_clip(folder / "a.mov", frames=48, size=SIZE)
    make_clip(folder / "b.mov", frames=30, size=SIZE)

    def clip(name: str, media: str, start: int, frames: int, available: int) -> Any:
        reference = otio.schema.ExternalReference(
            target_url=(folder / media).as_uri(),
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(available, RATE)
            ),
        )
        return otio.schema.Clip(
            name=name,
            media_reference=reference,
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(frames, RATE)
            ),
        )

    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip("shot010", "a.mov", 12, 24, 48))
    track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(12, RATE)))
    track.append(clip("shot020", "b.mov", 0, 18, 30))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(track)
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def first_pixel(path: Path, index: int) -> tuple[int, ...]:
    """The centre pixel of frame ``index`` of a video."""
    import av

    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n == index:
                image = frame.to_image()
                return tuple(image.getpixel((image.width // 2, image.height // 2)))
    raise AssertionError(f"{path} has no frame {index}")


def test_conform_renders_each_clip_and_writes_them_back_in_place(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """Each clip's source range is rendered, delivered as ProRes and placed above itself."""
    import opentimelineio as otio

    source = otio_timeline(tmp_path)
    before = source.read_bytes()
    out = tmp_path / "conformed"
    result = invoke(
        "conform", str(source), "testinvert-video", "--deliver", "prores", "-o", str(out), "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)["data"]
    assert source.read_bytes() == before
    assert [s["status"] for s in data["shots"]] == ["conformed", "conformed"]
    first = data["shots"][0]
    assert first["pull"]["first"] == 12 and first["pull"]["frames"] == 24
    delivered = Path(first["delivered"])
    assert delivered.suffix == ".mov" and delivered.parent == out
    # The render inverted the source: frame 0 of the result is frame 12 of a.mov, inverted.
    want = tuple(255 - c for c in colour(12, 48))
    assert close(first_pixel(delivered, 0), want, 20)

    written = otio.adapters.read_from_file(data["timeline"])
    tracks = list(written.video_tracks())
    assert len(tracks) == 2
    placed = [c for c in tracks[-1].find_clips()]
    ranges = [c.range_in_parent() for c in placed]
    assert [(r.start_time.to_frames(), r.duration.to_frames()) for r in ranges] == [
        (0, 24),
        (36, 18),
    ]
    assert placed[0].metadata["comfycine"]["template"] == "testinvert-video"
    assert Path(placed[0].media_reference.target_url.removeprefix("file://")).name == delivered.name
    report = json.loads(Path(data["qc_report"]).read_text())
    assert report["conformed"] == 2
    recipe = invoke("take", str(delivered), "--json")  # the recipe travels inside the file
    assert recipe.exit_code == 0, recipe.stderr
    assert json.loads(recipe.stdout)["data"]["template"] == "testinvert-video"


def test_conform_run_again_sends_nothing_twice(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """A second run finds the renders and the deliveries: no new job, no -2 copies."""
    source = otio_timeline(tmp_path)
    out = tmp_path / "conformed"
    args = ("conform", str(source), "testinvert-video", "-o", str(out), "--json")
    assert invoke(*args).exit_code == 0
    jobs = len(ledger_rows(isolation))
    files = sorted(p.name for p in out.iterdir())
    again = invoke(*args)
    assert again.exit_code == 0, again.stderr
    assert len(ledger_rows(isolation)) == jobs
    data = json.loads(again.stdout)["data"]
    assert {Path(s["delivered"]).name for s in data["shots"]} <= set(files)


def test_conform_dry_run_lists_the_pulls_and_sends_nothing(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """--dry-run cuts the pulls, names the frames, and submits no job."""
    source = otio_timeline(tmp_path)
    result = invoke("conform", str(source), "testinvert-video", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)["data"]
    assert [s["pull"]["frames"] for s in data["shots"]] == [24, 18]
    assert data["timeline"] is None and ledger_rows(isolation) == []


def test_offline_media_is_refused_before_anything_is_sent(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """A clip whose file moved is exit 2 naming it, with --relink in the hint."""
    source = otio_timeline(tmp_path)
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "b.mov").rename(moved / "b.mov")
    result = invoke("conform", str(source), "testinvert-video", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "media_offline" and "b.mov" in error["message"]
    assert "--relink" in error["hint"] and ledger_rows(isolation) == []
    relinked = invoke("conform", str(source), "testinvert-video", "--relink", str(moved), "--json")
    assert relinked.exit_code == 0, relinked.stderr


TEMPLATES = Path(__file__).parent.parent / "fixtures" / "conform-templates"


def test_templates(isolation: Isolation) -> None:
    """The test-only templates (wrong length, black stretch) go into the workflow folder."""
    for path in TEMPLATES.iterdir():
        (isolation.workflow_dir / path.name).write_bytes(path.read_bytes())


def test_short_render_is_padded_and_said(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """A render 4 frames short is padded to its clip's 24 frames, with a warning saying so."""
    test_templates(isolation)
    source = otio_timeline(tmp_path)
    result = invoke("conform", str(source), "testtail-video", "--set", "keep=20", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    first = json.loads(result.stdout)["data"]["shots"][0]
    assert first["status"] == "conformed" and first["qc"]["status"] == "warnings"
    assert any("pad" in note for note in first["qc"]["notes"]), first["qc"]
    import av

    with av.open(first["delivered"]) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24


def test_strict_length_fails_a_short_render(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """--strict-length: a short render fails QC (exit 5) and is reported; the other is placed."""
    test_templates(isolation)
    source = otio_timeline(tmp_path)
    result = invoke(
        "conform", str(source), "testtail-video", "--set", "keep=20", "--strict-length", "--json"
    )
    assert result.exit_code == 5, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "conform_qc_failed"
    first, second = error["details"]["shots"]
    assert (first["status"], first["error"]) == ("qc_failed", "length_mismatch")
    assert second["status"] == "conformed"  # 18 frames kept of 18: the right length
    assert Path(error["details"]["qc_report"]).is_file()


def test_black_stretch_fails_qc_unless_the_source_has_it(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """14 black frames fail QC on a clip whose source is not black; not on one whose is."""
    test_templates(isolation)
    source = otio_timeline(tmp_path)

    def fade(index: int, image: Any) -> None:
        if index < 20:
            image.paste((0, 0, 0), (0, 0, image.width, image.height))

    make_clip(tmp_path / "b.mov", frames=30, size=SIZE, paint=fade)  # a fade from black
    result = invoke("conform", str(source), "testblack-video", "--set", "black=14", "--json")
    assert result.exit_code == 5, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "conform_qc_failed"
    first, second = error["details"]["shots"]
    assert (first["status"], first["error"]) == ("qc_failed", "black")
    assert second["status"] == "conformed", second
    import opentimelineio as otio

    written = otio.adapters.read_from_file(error["details"]["timeline"])
    placed = list(list(written.video_tracks())[-1].find_clips())
    assert [clip.name for clip in placed] == [second["clip_name"]]

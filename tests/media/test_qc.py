"""check() and write_report(): QC of delivered results against their clips."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.media.deliver import Delivered, deliver
from comfycine.media.errors import LengthMismatch
from comfycine.media.fit import FitPlan, plan_fit
from comfycine.media.probe import probe
from comfycine.media.qc import check, write_report
from comfycine.media.scan import scan
from tests.media.media import held, make_video
from tests.takes.clips import cut

R24 = Fraction(24)
BLACK = (0, 0, 0)


def delivered_h264(render: Path, out: Path, frames: int) -> tuple[Delivered, FitPlan]:
    """``render`` fitted to ``frames`` at 24 fps and delivered as H.264."""
    fit = plan_fit(probe(render), frames, R24)
    return deliver(render, out, kind="h264", fit=fit, rate=R24, timecode_frame=None), fit


def test_a_good_delivery_passes(tmp_path: Path) -> None:
    """48 frames for 48, nothing black or frozen: passed, no problems, no notes."""
    made, fit = delivered_h264(make_video(tmp_path / "r.mp4", frames=48), tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=None, fit=fit)
    assert (report.status, report.problems, report.notes, report.frames) == ("passed", [], [], 48)


def test_a_trimmed_render_passes_with_a_warning(tmp_path: Path) -> None:
    """53 frames rendered for 48: trimmed, status warnings, the trim in the notes."""
    made, fit = delivered_h264(make_video(tmp_path / "r.mp4", frames=53), tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=None, fit=fit)
    assert (report.status, report.problems) == ("warnings", [])
    assert report.notes == ["rendered 53 frames for a 48-frame clip: trimmed the last 5"]
    assert report.to_dict()["status"] == "warnings"


def test_a_wrong_frame_count_fails(tmp_path: Path) -> None:
    """Strict length refuses 53 for 48; a 53-frame file checked as 48 fails frame_count."""
    render = make_video(tmp_path / "r.mp4", frames=53)
    with pytest.raises(LengthMismatch):
        plan_fit(probe(render), 48, R24, strict_length=True)
    made, fit = delivered_h264(render, tmp_path / "s", 53)
    report = check(made, frames=48, rate=R24, source_scan=None, fit=fit)
    assert report.status == "failed"
    assert [p["code"] for p in report.problems] == ["frame_count"]
    assert report.problems[0]["frames"] == 53


def test_a_black_stretch_the_source_lacks_fails(tmp_path: Path) -> None:
    """Render black over frames 12–35, source not: failed, black 1 s from frame 12."""
    render = make_video(tmp_path / "r.mp4", frames=48, picture=held(48, range(12, 36), BLACK))
    source = scan(make_video(tmp_path / "src.mp4", frames=48), rate=R24)
    made, fit = delivered_h264(render, tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=source, fit=fit)
    assert report.status == "failed"
    [problem] = report.problems
    assert (problem["code"], problem["first"], problem["count"]) == ("black", 12, 24)
    assert problem["seconds"] == 1.0 and "black for 1.00 s from frame 12" in problem["message"]


def test_a_black_stretch_the_source_has_is_only_noted(tmp_path: Path) -> None:
    """A fade to black at the end of the source and the render (a frame later): passed."""
    src = make_video(tmp_path / "src.mp4", frames=48, picture=held(48, range(30, 48), BLACK))
    render = make_video(tmp_path / "r.mp4", frames=48, picture=held(48, range(31, 48), BLACK))
    made, fit = delivered_h264(render, tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=scan(src, rate=R24), fit=fit)
    assert (report.status, report.problems) == ("passed", [])
    assert report.matched[0]["first"] == 31 and "as in the source" in report.matched[0]["message"]


def test_a_short_source_fade_does_not_excuse_a_long_black(tmp_path: Path) -> None:
    """Source black for 6 frames, render for 30 from the same frame: still failed."""
    src = make_video(tmp_path / "src.mp4", frames=48, picture=held(48, range(0, 6), BLACK))
    render = make_video(tmp_path / "r.mp4", frames=48, picture=held(48, range(0, 30), BLACK))
    made, fit = delivered_h264(render, tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=scan(src, rate=R24), fit=fit)
    assert [p["code"] for p in report.problems] == ["black"]


def test_a_frozen_render_fails(tmp_path: Path) -> None:
    """Frames 10–39 one picture (a stuck render): failed, frozen from frame 10."""
    render = make_video(tmp_path / "r.mp4", frames=48, picture=held(48, range(10, 40)))
    made, fit = delivered_h264(render, tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=None, fit=fit)
    assert [(p["code"], p["first"], p["count"]) for p in report.problems] == [("frozen", 10, 30)]


def test_an_undecodable_or_wrong_rate_delivery_fails(tmp_path: Path) -> None:
    """A file cut short: decode_error; a 25 fps file for a 24 fps clip: frame_rate."""
    fit = FitPlan("none", 24, R24, 24, R24)
    broken = cut(make_video(tmp_path / "b.mov", frames=24), 0.5)
    report = check(Delivered(broken, "h264", 24, R24, None), frames=24, rate=R24,
                   source_scan=None, fit=fit)  # fmt: skip
    assert (report.status, report.problems[0]["code"]) == ("failed", "decode_error")
    pal = make_video(tmp_path / "p.mov", frames=24, fps=25)
    report = check(Delivered(pal, "h264", 24, R24, None), frames=24, rate=R24,
                   source_scan=None, fit=fit)  # fmt: skip
    assert [p["code"] for p in report.problems] == ["frame_rate"]
    assert "25 fps for a 24 fps clip" in report.problems[0]["message"]


def test_a_png_sequence_is_checked_frame_by_frame(tmp_path: Path) -> None:
    """A PNG sequence from 86400 decodes to its 24th frame: passed."""
    render = make_video(tmp_path / "r.mp4", frames=24)
    fit = plan_fit(probe(render), 24, R24)
    made = deliver(render, tmp_path / "s", kind="png", fit=fit, rate=R24, timecode_frame=86400)
    report = check(made, frames=24, rate=R24, source_scan=None, fit=fit)
    assert (report.status, report.frames) == ("passed", 24)


def test_the_report_file_is_json_with_a_text_summary(tmp_path: Path) -> None:
    """A list of reports: version, reports, summary counts; and one text line each."""
    made, fit = delivered_h264(make_video(tmp_path / "r.mp4", frames=53), tmp_path / "s", 48)
    report = check(made, frames=48, rate=R24, source_scan=None, fit=fit, name="shot010")
    path = write_report([report], tmp_path / "out" / "conform.qc.json")
    data = json.loads(path.read_text())
    assert data["summary"] == {"passed": 0, "warnings": 1, "failed": 0}
    assert data["reports"][0]["name"] == "shot010"
    text = (tmp_path / "out" / "conform.qc.txt").read_text()
    assert text.startswith("WARNINGS shot010: rendered 53 frames")
    assert sorted(p.name for p in path.parent.iterdir()) == ["conform.qc.json", "conform.qc.txt"]


def test_a_whole_result_is_written_as_it_is(tmp_path: Path) -> None:
    """A conform's dict goes out unchanged; its shots' QC make the text lines."""
    result = {
        "shots": [
            {
                "name": "a",
                "qc": {
                    "status": "failed",
                    "problems": [{"code": "black", "message": "black for 1.00 s"}],
                    "notes": [],
                },
            }
        ],
        "rate": R24,
    }
    path = write_report(result, tmp_path / "c.qc.json")
    assert json.loads(path.read_text())["rate"] == "24"
    assert (tmp_path / "c.qc.txt").read_text() == "FAILED   a: black for 1.00 s\n"

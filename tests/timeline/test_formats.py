"""Reading timeline files: each format to the right shots, and the errors for bad files."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.errors import ExitCode, UsageError
from comfycine.timeline.formats import read_timeline
from comfycine.timeline.shots import list_shots

from .conftest import FIXTURES, Stage

NTSC = Fraction(24000, 1001)


def frames(seconds: Fraction, rate: Fraction) -> Fraction:
    """Seconds as frames at ``rate`` (exact: a Fraction that must be whole)."""
    return seconds * rate


def table(path: Path, **options: object) -> list[tuple[str, str, Fraction, Fraction, Fraction]]:
    """(name, track, record start, duration, source start) per shot, times in frames."""
    doc = read_timeline(path, **options)  # type: ignore[arg-type]
    return [
        (
            s.name,
            s.track,
            *(frames(t, doc.rate) for t in (s.record_start, s.duration, s.source_start)),
        )
        for s in list_shots(doc).shots
    ]


def test_fcpxml_reads_clips_lanes_and_times(stage: Stage) -> None:
    """FCPXML: primary and lane-1 clips at their record frames, tcStart taken off."""
    path = stage("edit.fcpxml")
    doc = read_timeline(path)
    assert (doc.adapter, doc.label, doc.rate, doc.start, doc.name) == (
        "fcpx_xml",
        "Final Cut Pro XML",
        24,
        3600,
        "Edit 24",
    )
    assert table(path) == [
        ("shot010", "primary", 0, 12, 4),
        ("shot030", "lane 1", 2, 8, 0),
        ("shot020", "primary", 18, 16, 4),  # source from the timeMap: local 1/3 s → 1/6 s
    ]


def test_fcpxml_at_23976_is_exact_and_takes_the_first_project(stage: Stage) -> None:
    """A 23.976 project reads at 24000/1001 in whole frames; the second project is noted."""
    path = stage("edit2398.fcpxml")
    doc = read_timeline(path)
    assert doc.rate == NTSC and doc.start == Fraction(86400) / NTSC
    assert doc.start_timecode == "01:00:00:00"
    assert any("holds 2 timelines" in note for note in doc.notes)
    assert table(path) == [
        ("shot010", "primary", 0, 12, 86402),
        ("shot020 over", "lane 1", 3, 6, 0),
        ("shot020", "primary", 12, 10, 0),
    ]
    first = list_shots(doc).shots[0]
    assert (first.media_start, first.media_rate) == (Fraction(86400) / NTSC, NTSC)


def test_a_timeline_is_chosen_by_name(stage: Stage) -> None:
    """``timeline_name`` picks another project; an unknown name lists those there are."""
    path = stage("edit2398.fcpxml")
    doc = read_timeline(path, timeline_name="alt CUT")
    assert (doc.name, doc.index, doc.notes) == ("Alt cut", 1, [])
    with pytest.raises(UsageError) as caught:
        read_timeline(path, timeline_name="Final")
    assert caught.value.code == "timeline_not_found"
    assert "Cut 2398, Alt cut" in caught.value.message


def test_edl_reads_at_the_given_rate_with_its_speed_change(stage: Stage) -> None:
    """EDL: record timecodes from 01:00:00:00, the M2 clip at its record length, 24 by default."""
    path = stage("edit.edl")
    doc = read_timeline(path)
    assert (doc.adapter, doc.rate, doc.start) == ("cmx_3600", 24, 3600)
    assert any("read at 24 fps (the default" in note for note in doc.notes)
    assert table(path) == [
        ("shot010.mov", "V", 0, 12, 4),
        ("shot020.mov", "V", 12, 8, 0),
        ("shot030.mov", "V", 24, 10, 2),
    ]
    at_ntsc = read_timeline(path, rate="23.976")
    assert at_ntsc.rate == NTSC and at_ntsc.start == Fraction(86400) / NTSC
    assert [s[2:] for s in table(path, rate="23.976")] == [(0, 12, 4), (12, 8, 0), (24, 10, 2)]


def test_fcp7_xml_reads_both_video_tracks(stage: Stage) -> None:
    """FCP7 XML: V1 and V2 clips, in/out on the file's clock, the audio track left out."""
    path = stage("edit.xml")
    doc = read_timeline(path)
    assert (doc.adapter, doc.rate, doc.start, doc.name) == ("fcp_xml", 24, 3600, "Resolve cut")
    assert table(path) == [
        ("shot010", "V1", 0, 12, 4),
        ("shot030", "V2", 2, 8, 0),
        ("shot020", "V1", 18, 16, 0),
    ]


def test_otio_reads_named_tracks(stage: Stage) -> None:
    """OTIO JSON: the tracks' own names, the global start time as the start."""
    path = stage("edit.otio")
    doc = read_timeline(path)
    assert (doc.adapter, doc.rate, doc.start) == ("otio_json", 24, 3600)
    assert table(path) == [
        ("shot010", "V1", 0, 12, 4),
        ("shot030", "VFX", 2, 8, 0),
        ("shot020", "V1", 18, 16, 0),
    ]


def test_an_fcpxmld_bundle_and_an_fcpxml_named_xml_are_read(tmp_path: Path) -> None:
    """A .fcpxmld folder is read through its Info.fcpxml; an .xml holding <fcpxml> is FCPXML."""
    bundle = tmp_path / "Edit.fcpxmld"
    bundle.mkdir()
    shutil.copy(FIXTURES / "edit.fcpxml", bundle / "Info.fcpxml")
    doc = read_timeline(bundle)
    assert (doc.adapter, doc.document) == ("fcpx_xml", bundle / "Info.fcpxml")
    renamed = tmp_path / "export.xml"
    shutil.copy(FIXTURES / "edit.fcpxml", renamed)
    assert read_timeline(renamed).adapter == "fcpx_xml"


def test_a_missing_timeline_is_timeline_not_found(tmp_path: Path) -> None:
    """A path that does not exist: exit 2, code timeline_not_found."""
    with pytest.raises(UsageError) as caught:
        read_timeline(tmp_path / "nothing.fcpxml")
    assert caught.value.code == "timeline_not_found"
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.fcpxml", "<fcpxml version='1.10'><resources>"),
        ("broken.edl", "TITLE: X\n001  R  V  C  00:00:00:00 00:00:01:00\n"),
        ("broken.otio", "{not json"),
        ("notes.txt", "a shopping list"),
    ],
)
def test_an_unreadable_file_says_why_in_one_line(tmp_path: Path, name: str, content: str) -> None:
    """Malformed XML/EDL/JSON or an unknown suffix: timeline_unreadable, one line, the formats."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UsageError) as caught:
        read_timeline(path)
    error = caught.value
    assert error.code == "timeline_unreadable" and error.exit_code == ExitCode.USAGE
    assert "\n" not in error.message and name in error.message
    assert ".fcpxml" in error.hint and ".edl" in error.hint and ".otio" in error.hint


def test_a_timeline_without_video_clips_is_empty(tmp_path: Path) -> None:
    """An EDL holding only audio events, or an FCPXML without a project: timeline_empty."""
    audio = tmp_path / "audio.edl"
    audio.write_text("TITLE: A\n001  R1  A  C  00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n")
    with pytest.raises(UsageError) as caught:
        read_timeline(audio)
    assert caught.value.code == "timeline_empty"
    clips_only = tmp_path / "clips.fcpxml"
    clips_only.write_text(
        '<fcpxml version="1.10"><resources><format id="r1" frameDuration="1/24s"/></resources>'
        '<event name="E"/></fcpxml>'
    )
    with pytest.raises(UsageError) as caught:
        read_timeline(clips_only)
    assert caught.value.code == "timeline_empty"


def test_reading_never_writes(stage: Stage) -> None:
    """The timeline's bytes are the same after reading and listing."""
    path = stage("edit.fcpxml")
    before = path.read_bytes()
    list_shots(read_timeline(path))
    assert path.read_bytes() == before


def test_an_edl_read_at_too_low_a_rate_names_the_rate_to_give(tmp_path: Path) -> None:
    """Timecodes counting to frame 24 cannot be 24 fps: the hint says --rate 25."""
    edl = tmp_path / "pal.edl"
    edl.write_text(
        "TITLE: pal\nFCM: NON-DROP FRAME\n\n"
        "001  A001 V     C        01:00:00:00 01:00:01:24 01:00:00:00 01:00:01:24\n"
        "* FROM CLIP NAME: a.mov\n"
    )
    with pytest.raises(UsageError) as caught:
        read_timeline(edl)
    assert caught.value.code == "timeline_unreadable"
    assert "--rate 25" in caught.value.hint
    assert read_timeline(edl, rate=25).rate == 25

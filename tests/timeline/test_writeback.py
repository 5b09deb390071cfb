"""Writing a timeline back: the rendered clips above their originals, read back by OTIO."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from comfycine.conform.shots import Placement, Shot
from comfycine.timeline.formats import TimelineDoc, read_timeline
from comfycine.timeline.shots import list_shots
from comfycine.timeline.timing import seconds_of
from comfycine.timeline.writeback import free_path, write_back, write_new

from .conftest import Stage

TRACK = "comfycine invert"


def placements(doc: TimelineDoc, folder: Path, relink: Path | None = None) -> list[Placement]:
    """A delivered file per shot (a copy of its media), named for the template and job."""
    found = []
    for shot in list_shots(doc, relink=relink).shots:
        assert shot.media is not None
        delivered = folder / f"{shot.index:03d}-{shot.media.stem}-invert.mov"
        shutil.copy(shot.media, delivered)
        found.append(
            Placement(
                shot=shot,
                name=f"{Path(shot.name).stem} [invert job{shot.index}]",
                media=delivered,
                media_rate=shot.rate,
                frames=int(shot.duration * shot.rate),
                media_start_frame=int(shot.source_start * shot.rate),
                metadata={"template": "invert", "job": f"job{shot.index}", "seed": 7},
            )
        )
    return found


def new_clips(doc: TimelineDoc) -> dict[str, tuple[str, Fraction, Fraction]]:
    """The rendered clips of a re-read timeline: name → (track, record start, duration)."""
    found = {}
    for track in doc.timeline.video_tracks():
        for item in track:
            if isinstance(item, otio.schema.Clip) and "[invert" in item.name:
                placed = item.transformed_time_range(item.trimmed_range(), doc.timeline.tracks)
                start, length = seconds_of(placed.start_time), seconds_of(placed.duration)
                found[item.name] = (str(track.name), doc.start + start, length)
    return found


def expected(given: list[Placement], start: Fraction) -> dict[str, tuple[Fraction, Fraction]]:
    """name → (absolute record start, duration) each placement should have."""
    return {p.name: (start + p.shot.record_start, Fraction(p.frames) / p.media_rate) for p in given}


def originals(doc: TimelineDoc) -> list[tuple[str, str, Fraction, Fraction, Fraction]]:
    """The original shots: (name, track, absolute record start, duration, source start)."""
    return [
        (s.name, s.track, doc.start + s.record_start, s.duration, s.source_start)
        for s in list_shots(doc).shots
        if "[invert" not in s.name
    ]


@pytest.mark.parametrize(
    ("name", "tracks"),
    [
        ("edit.otio", {TRACK, f"{TRACK} 2"}),
        ("edit.xml", {""}),  # the FCP7 writer keeps no track names
        ("edit.fcpxml", {"lane 2", "lane 3"}),
        ("edit2398.fcpxml", {"lane 2", "lane 3"}),
    ],
)
def test_written_timeline_holds_new_clips_at_their_record_positions(
    stage: Stage, tmp_path: Path, name: str, tracks: set[str]
) -> None:
    """Each format re-reads with the renders at the shots' record starts and durations."""
    source = stage(name, rewrite=True)
    before = source.read_bytes()
    doc = read_timeline(source)
    given = placements(doc, tmp_path)
    written = write_back(
        doc, given, tmp_path / "out" / f"{source.stem}.comfycine{source.suffix}", track_name=TRACK
    )
    assert written.format == doc.adapter and written.path.exists()
    assert source.read_bytes() == before
    again = read_timeline(written.path)
    assert again.rate == doc.rate and again.start == doc.start
    found = new_clips(again)
    assert {n: (s, d) for n, (_, s, d) in found.items()} == expected(given, doc.start)
    assert {t for t, _, _ in found.values()} == tracks
    assert originals(again) == originals(doc)
    assert not list(written.path.parent.glob("*.part"))


def test_otio_keeps_the_recipe_and_media_ranges(stage: Stage, tmp_path: Path) -> None:
    """OTIO keeps metadata["comfycine"] and the delivered file's range on its own clock."""
    doc = read_timeline(stage("edit.otio", rewrite=True))
    given = placements(doc, tmp_path)
    written = write_back(doc, given, tmp_path / "edit.comfycine.otio")
    timeline = otio.adapters.read_from_file(str(written.path))
    clip = next(c for c in timeline.find_clips() if c.name == given[0].name)
    assert dict(clip.metadata["comfycine"]) | {} == {
        "template": "invert",
        "job": "job1",
        "seed": 7,
        "source_clip": "shot010",
        "shot": 1,
        "source_track": "V1",
    }
    assert clip.media_reference.target_url == given[0].media.as_uri()
    available = clip.media_reference.available_range
    assert (available.start_time.value, available.duration.value) == (4, 12)
    assert timeline.tracks[-1].kind == otio.schema.TrackKind.Video


def test_fcpxml_keeps_the_editors_document_and_adds_lanes(stage: Stage, tmp_path: Path) -> None:
    """FCPXML: a renamed project without uid, the other project left out, the title kept."""
    doc = read_timeline(stage("edit2398.fcpxml", rewrite=True))
    written = write_back(doc, placements(doc, tmp_path), tmp_path / "edit.fcpxml", track_name=TRACK)
    text = written.path.read_text()
    assert 'name="Cut 2398 (comfycine invert)"' in text and "Alt cut" not in text
    assert "uid=" not in text.split("<project")[1].split(">")[0]
    assert text.count("<media-rep") == 2 + 3 and '<keyword value="comfycine"' in text
    assert "File > Import > XML" in written.notes[0]
    again = read_timeline(written.path)
    assert [t.name for t in again.timeline.video_tracks()] == [
        "primary",
        "lane 1",
        "lane 2",
        "lane 3",
    ]
    kept = read_timeline(stage("edit.fcpxml", rewrite=True))
    rewritten = write_back(kept, placements(kept, tmp_path), tmp_path / "b.fcpxml")
    assert "Basic Title" in rewritten.path.read_text()
    assert [s["name"] for s in list_shots(read_timeline(rewritten.path)).skipped] == ["Basic Title"]


def test_edl_is_written_with_the_renders_alone_at_record_timecode(
    stage: Stage, tmp_path: Path
) -> None:
    """An EDL holds one track: the new EDL has only the renders, at the originals' timecodes."""
    doc = read_timeline(stage("edit.edl"))
    given = placements(doc, tmp_path)
    written = write_back(doc, given, tmp_path / "edit.comfycine.edl", track_name=TRACK)
    assert written.format == "cmx_3600" and written.extra == []
    assert any("one video track" in note for note in written.notes)
    text = written.path.read_text()
    assert "01:00:00:00 01:00:00:12" in text and "01:00:01:00 01:00:01:10" in text
    assert "* FROM CLIP NAME:  shot010 [invert job1]" in text
    again = read_timeline(written.path)
    assert {n: (s, d) for n, (_, s, d) in new_clips(again).items()} == expected(given, doc.start)
    assert all(s.media is not None for s in list_shots(again).shots)  # FROM CLIP: the file


def test_edl_overlapping_renders_go_to_a_second_edl(stage: Stage, tmp_path: Path) -> None:
    """Renders overlapping in time (V1 and V2) cannot share an EDL: the second file holds one."""
    doc = read_timeline(stage("edit.xml", rewrite=True))
    doc.adapter = "cmx_3600"  # the same shots, written as an EDL
    written = write_back(doc, placements(doc, tmp_path), tmp_path / "x.edl")
    assert [p.name for p in written.extra] == ["x-track2.edl"]
    assert "shot030 [invert job2]" in written.extra[0].read_text()


def test_an_image_sequence_becomes_an_image_sequence_reference(
    stage: Stage, tmp_path: Path
) -> None:
    """A PNG sequence placement is an ImageSequenceReference over its numbered frames."""
    doc = read_timeline(stage("edit.otio", rewrite=True))
    shot: Shot = list_shots(doc).shots[0]
    frames = tmp_path / "png"
    frames.mkdir()
    for number in range(86404, 86416):
        (frames / f"shot010.{number:07d}.png").write_bytes(b"")
    sequence = Placement(
        shot,
        "shot010 [png]",
        frames / "shot010.0086404.png",
        Fraction(24),
        12,
        86404,
        sequence=(frames, "shot010.", 7, ".png"),
    )
    written = write_back(doc, [sequence], tmp_path / "seq.otio")
    clip = next(
        c
        for c in otio.adapters.read_from_file(str(written.path)).find_clips()
        if c.name == "shot010 [png]"
    )
    reference = clip.media_reference
    assert isinstance(reference, otio.schema.ImageSequenceReference)
    assert (reference.start_frame, reference.frame_zero_padding, reference.name_suffix) == (
        86404,
        7,
        ".png",
    )
    assert reference.target_url_for_image_number(0).endswith("/png/shot010.0086404.png")


def test_otioz_is_written_back_as_otio(stage: Stage, tmp_path: Path) -> None:
    """An .otioz comes back as a plain .otio, said in the notes."""
    source = read_timeline(stage("edit.otio", rewrite=True))
    bundle = tmp_path / "edit.otioz"
    for clip in source.timeline.find_clips():  # the bundle adapter wants file:// URLs
        name = Path(clip.media_reference.target_url).name
        clip.media_reference.target_url = (source.path.parent / name).as_uri()
    otio.adapters.write_to_file(source.timeline, str(bundle))
    doc = read_timeline(bundle)
    assert any("inside the zip" in note for note in doc.notes)
    given = placements(doc, tmp_path, relink=source.path.parent)
    written = write_back(doc, given, tmp_path / "edit.comfycine.otioz")
    assert written.path.suffix == ".otio" and written.format == "otio_json"
    assert any(".otioz" in note for note in written.notes)


def test_never_overwrites_a_file(stage: Stage, tmp_path: Path) -> None:
    """An existing name gets -2, then -3; the original timeline's name is never taken."""
    source = stage("edit.otio", rewrite=True)
    doc = read_timeline(source)
    given = placements(doc, tmp_path)
    taken = tmp_path / "edit.comfycine.otio"
    taken.write_text("mine")
    first = write_back(doc, given, taken)
    second = write_back(doc, given, taken)
    assert (first.path.name, second.path.name) == ("edit.comfycine-2.otio", "edit.comfycine-3.otio")
    assert taken.read_text() == "mine"
    before = source.read_bytes()
    onto_source = write_back(doc, given, source)
    assert onto_source.path == source.with_name("edit-2.otio") and source.read_bytes() == before


def test_write_new_and_free_path(tmp_path: Path) -> None:
    """``write_new`` writes through .part to a fresh name; ``free_path`` skips taken ones."""
    target = tmp_path / "a.txt"
    assert write_new(target, "one") == target and target.read_text() == "one"
    assert write_new(target, "two") == tmp_path / "a-2.txt"
    assert target.read_text() == "one"
    (tmp_path / "a-3.txt.part").write_text("half")
    assert free_path(target) == tmp_path / "a-4.txt"


def test_no_placements_is_a_programming_error(stage: Stage, tmp_path: Path) -> None:
    """``write_back`` with nothing to place raises ValueError (the caller writes nothing)."""
    doc = read_timeline(stage("edit.otio"))
    with pytest.raises(ValueError):
        write_back(doc, [], tmp_path / "x.otio")

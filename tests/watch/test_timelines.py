"""Which scanned files are timelines, and which media a timeline claims."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from comfycine.watch.timelines import (
    claimed_media,
    in_bundle,
    move_tree,
    timeline_folders,
    timeline_of,
)

P = PurePosixPath


def test_timeline_files_stand_for_themselves() -> None:
    """An FCPXML, EDL, XML or OTIO is a timeline; a clip is not."""
    assert timeline_of(P("a/cut.fcpxml")) == P("a/cut.fcpxml")
    assert timeline_of(P("cut.EDL")) == P("cut.EDL")
    assert timeline_of(P("a/shot.mov")) is None


def test_a_bundle_is_its_info_fcpxml() -> None:
    """Info.fcpxml stands for its .fcpxmld bundle; the bundle's other files for nothing."""
    assert timeline_of(P("a/Cut.fcpxmld/Info.fcpxml")) == P("a/Cut.fcpxmld")
    assert timeline_of(P("a/Cut.fcpxmld/Other.txt")) is None
    assert in_bundle(P("a/Cut.fcpxmld/Other.txt")) and not in_bundle(P("a/shot.mov"))


def test_folders_holding_a_timeline() -> None:
    """Only the folders with a timeline claim their media."""
    rels = [P("s1/cut.edl"), P("s1/a.mov"), P("s2/b.mov"), P("s3/X.fcpxmld/Info.fcpxml")]
    assert timeline_folders(rels) == {P("s1"), P("s3")}


def test_claimed_media_are_those_used_under_input(tmp_path: Path) -> None:
    """Media used from input/ are claimed (relative); media elsewhere are not ours."""
    input_dir = tmp_path / "input"
    (input_dir / "s1").mkdir(parents=True)
    inside = input_dir / "s1" / "a.mov"
    inside.write_bytes(b"x")
    outside = tmp_path / "elsewhere.mov"
    outside.write_bytes(b"x")
    claimed = claimed_media(input_dir, P("s1/cut.edl"), [inside, outside, inside])
    assert claimed == [P("s1/a.mov")]


def test_move_tree_never_overwrites(tmp_path: Path) -> None:
    """A bundle moved onto a taken name gets -2."""
    (tmp_path / "done" / "Cut.fcpxmld").mkdir(parents=True)
    bundle = tmp_path / "Cut.fcpxmld"
    bundle.mkdir()
    (bundle / "Info.fcpxml").write_text("<fcpxml/>")
    moved = move_tree(bundle, tmp_path / "done" / "Cut.fcpxmld")
    assert moved.name == "Cut-2.fcpxmld" and (moved / "Info.fcpxml").is_file()

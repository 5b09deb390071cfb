"""Listing a timeline's shots: media online, offline and relinked, and what is not a shot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from comfycine.timeline.formats import read_timeline
from comfycine.timeline.media import media_name, media_path
from comfycine.timeline.shots import list_shots

from .conftest import Stage


def by_name(path: Path, **options: object) -> dict[str, object]:
    """The listing's shots keyed by clip name."""
    listing = list_shots(read_timeline(path), **options)  # type: ignore[arg-type]
    return {s.name: s for s in listing.shots}


@pytest.mark.parametrize("name", ["edit.fcpxml", "edit2398.fcpxml", "edit.xml", "edit.otio"])
def test_media_at_its_url_is_online(stage: Stage, name: str) -> None:
    """URLs pointing at existing files give the file (file://localhost and relative too)."""
    path = stage(name, rewrite=True)
    listing = list_shots(read_timeline(path))
    assert listing.offline == [] and listing.relinked == []
    for shot in listing.shots:
        assert shot.media is not None and shot.media.parent == path.parent
        assert shot.media.name == shot.media_name


def test_moved_media_is_relinked_from_the_relink_folder(stage: Stage) -> None:
    """Media gone from /Volumes/Media is found by name under ``relink``, and said so."""
    path = stage("edit.fcpxml")
    assert all(s.media is None for s in list_shots(read_timeline(path)).shots)
    listing = list_shots(read_timeline(path), relink=path.parent)
    assert [s.media for s in listing.shots] == [
        path.parent / "shot010.mov",
        path.parent / "shot030.mov",
        path.parent / "shot020.mov",
    ]
    assert [(r["index"], r["media_name"]) for r in listing.relinked] == [
        (1, "shot010.mov"),
        (2, "shot030.mov"),
        (3, "shot020.mov"),
    ]


def test_edl_clips_are_found_by_clip_name_beside_the_edl(stage: Stage) -> None:
    """An EDL names no path: its ``FROM CLIP NAME`` finds the media in the EDL's folder."""
    path = stage("edit.edl")
    shots = by_name(path)
    assert shots["shot020.mov"].media == path.parent / "shot020.mov"  # type: ignore[attr-defined]
    assert shots["shot010.mov"].metadata["reel"] == "SHOT010"  # type: ignore[attr-defined]


def test_edl_reel_relinks_when_the_clip_name_is_not_a_file(tmp_path: Path, media_dir: Path) -> None:
    """No FROM CLIP NAME: the reel (SHOT010) finds shot010.mov by stem, case-insensitively."""
    path = tmp_path / "reel.edl"
    path.write_text(
        "TITLE: R\n001  SHOT010  V  C  00:00:00:00 00:00:00:10 01:00:00:00 01:00:00:10\n"
    )
    shutil.copy(media_dir / "shot010.mov", tmp_path / "shot010.mov")
    (shot,) = list_shots(read_timeline(path)).shots
    assert shot.media == tmp_path / "shot010.mov"


def test_offline_media_stays_listed_with_the_reason(stage: Stage, tmp_path: Path) -> None:
    """No media anywhere: shots keep media=None and ``offline`` says where it looked."""
    path = stage("edit.otio", media=False)
    listing = list_shots(read_timeline(path))
    assert [s.media for s in listing.shots] == [None, None, None]
    assert [o["index"] for o in listing.offline] == [1, 2, 3]
    assert all("--relink" in o["reason"] for o in listing.offline)
    searched = list_shots(read_timeline(path), relink=tmp_path)
    assert searched.shots[0].metadata["offline"] == f"not found under {tmp_path}"


def test_a_given_path_is_not_relinked_beside_the_timeline(stage: Stage, media_dir: Path) -> None:
    """A file moved into a folder beside the timeline stays offline until ``relink`` says so."""
    path = stage("edit.fcpxml", media=False)
    moved = path.parent / "moved"
    moved.mkdir()
    shutil.copy(media_dir / "shot010.mov", moved / "shot010.mov")
    shutil.copy(media_dir / "shot010.mov", path.parent / "shot010.mov")
    assert list_shots(read_timeline(path)).shots[0].media is None
    assert list_shots(read_timeline(path), relink=moved).shots[0].media == moved / "shot010.mov"


def test_relink_folder_is_searched_recursively(
    stage: Stage, media_dir: Path, tmp_path: Path
) -> None:
    """``relink=FOLDER`` finds media in sub-folders, whatever the case of the name."""
    path = stage("edit.xml", media=False)
    deep = tmp_path / "drive" / "day1" / "cam A"
    deep.mkdir(parents=True)
    shutil.copy(media_dir / "shot010.mov", deep / "SHOT010.MOV")
    listing = list_shots(read_timeline(path), relink=tmp_path / "drive")
    shots = {s.name: s for s in listing.shots}
    assert shots["shot010"].media == deep / "SHOT010.MOV"
    assert shots["shot020"].media is None
    assert [o["name"] for o in listing.offline] == ["shot030", "shot020"]


def test_two_files_of_one_name_are_ambiguous(stage: Stage, media_dir: Path, tmp_path: Path) -> None:
    """The same name in two folders: none is chosen and the reason names both."""
    path = stage("edit.xml", media=False)
    for day in ("day1", "day2"):
        (tmp_path / "drive" / day).mkdir(parents=True)
        shutil.copy(media_dir / "shot010.mov", tmp_path / "drive" / day / "shot010.mov")
    listing = list_shots(read_timeline(path), relink=tmp_path / "drive")
    assert listing.shots[0].media is None
    reason = listing.offline[0]["reason"]
    assert reason.startswith("ambiguous: 2 files named shot010.mov")
    assert "day1" in reason and "day2" in reason


def test_titles_transitions_and_audio_are_not_shots(stage: Stage) -> None:
    """A title and a transition are skipped with a reason; audio lanes and tracks are not listed."""
    fcpxml = list_shots(read_timeline(stage("edit.fcpxml")))
    assert [(s["name"], s["reason"]) for s in fcpxml.skipped] == [
        ("Basic Title", "title: no source media")
    ]
    assert fcpxml.skipped[0]["at"] == "01:00:01:10"
    assert "music" not in {s.name for s in fcpxml.shots}
    otio_listing = list_shots(read_timeline(stage("edit.otio")))
    assert [s["reason"].split(":")[0] for s in otio_listing.skipped] == ["transition"]
    assert otio_listing.tracks == ["V1", "VFX"]


@pytest.mark.parametrize(
    ("name", "clip", "ignored"),
    [
        ("edit.edl", "shot020.mov", ["speed 50 %: rendered the source range at normal speed"]),
        ("edit.otio", "shot020", ["speed 200 %: rendered the source range at normal speed"]),
        (
            "edit.fcpxml",
            "shot020",
            [
                "speed 50 %: rendered the source range at normal speed",
                "effect Gaussian Blur: not applied",
            ],
        ),
        ("edit.xml", "shot030", ["effect Gaussian Blur: not applied"]),
    ],
)
def test_speed_changes_and_effects_are_reported(
    stage: Stage, name: str, clip: str, ignored: list[str]
) -> None:
    """Speed changes and effects become one line each in the shot's ``ignored``."""
    assert list(by_name(stage(name))[clip].ignored) == ignored  # type: ignore[attr-defined]


def test_markers_colours_and_keywords_per_format(stage: Stage) -> None:
    """What each format keeps: clip and timeline markers, colours, FCPXML keywords."""
    fcpxml = by_name(stage("edit.fcpxml"))["shot010"]
    assert fcpxml.markers == ("VFX sky",)  # type: ignore[attr-defined]
    assert fcpxml.metadata["markers"][0]["color"] == "red"  # type: ignore[attr-defined]
    assert fcpxml.keywords == ("hero", "sky", "exterior")  # type: ignore[attr-defined]
    fcp7 = by_name(stage("edit.xml"))
    assert fcp7["shot010"].color == "iris"  # type: ignore[attr-defined]
    assert fcp7["shot020"].markers == ("Review",)  # type: ignore[attr-defined]
    assert fcp7["shot010"].metadata["markers"][0]["color"] is None  # type: ignore[attr-defined]
    otio_shots = by_name(stage("edit.otio"))
    assert otio_shots["shot020"].color == "orange"  # type: ignore[attr-defined]
    assert otio_shots["shot020"].markers == ("Review",)  # type: ignore[attr-defined]
    edl = by_name(stage("edit.edl"))["shot030.mov"]
    assert edl.metadata["markers"] == [{"name": "VFX sky", "color": "red", "scope": "clip"}]  # type: ignore[attr-defined]


def test_shots_are_numbered_in_timeline_order_with_locators(stage: Stage) -> None:
    """Index 1..n by record start across tracks; the locator finds the clip again."""
    doc = read_timeline(stage("edit.xml"))
    shots = list_shots(doc).shots
    assert [s.index for s in shots] == [1, 2, 3]
    for shot in shots:
        track, item = shot.locator
        assert doc.timeline.tracks[track][item].name == shot.name


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///Volumes/A%20B/shot%20010.mov", Path("/Volumes/A B/shot 010.mov")),
        ("file://localhost/Volumes/Media/x.mov", Path("/Volumes/Media/x.mov")),
        ("/abs/x.mov", Path("/abs/x.mov")),
        ("media/x.mov", Path("/base/media/x.mov")),
        ("http://example.com/x.mov", None),
        ("", None),
    ],
)
def test_media_urls_become_paths(url: str, expected: Path | None) -> None:
    """file:// URLs (percent-encoded, localhost), absolute and relative paths; not http."""
    assert media_path(url, Path("/base")) == expected


def test_windows_paths_keep_their_file_name() -> None:
    """A Windows path or file:///C:/ URL keeps the name relinking needs."""
    assert media_path("file:///C:/Media/shot010.mov", Path("/base")).name == "shot010.mov"  # type: ignore[union-attr]
    assert media_name("D:\\Footage\\Day 1\\shot020.mov") == "shot020.mov"
    assert media_name("file:///C:/Media/shot%20030.mov") == "shot 030.mov"


MIXED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.11">
  <resources>
    <format id="r1" frameDuration="1/25s" width="160" height="90"/>
    <asset id="a1" name="shot010" start="0s" duration="2s" hasVideo="1" hasAudio="1" format="r1">
      <media-rep kind="original-media" src="shot010.mov"/>
    </asset>
    <media id="m1" name="Compound">
      <sequence format="r1" tcStart="0s" duration="1s">
        <spine><asset-clip ref="a1" offset="0s" start="0s" duration="1s"/></spine>
      </sequence>
    </media>
  </resources>
  <project name="Mixed">
    <sequence format="r1" tcStart="0s" duration="4s">
      <spine>
        <clip name="clip A" offset="0s" start="10s" duration="1s">
          <video ref="a1" offset="10s" start="1/5s" duration="2s"/>
          <audio ref="a1" lane="-1" offset="10s" start="1/5s" duration="1s"/>
        </clip>
        <sync-clip name="sync B" offset="1s" start="0s" duration="1s">
          <asset-clip ref="a1" offset="0s" start="2/5s" duration="1s"/>
          <spine lane="1" offset="1/5s">
            <asset-clip ref="a1" name="story 1" offset="0s" start="0s" duration="2/5s"/>
            <asset-clip ref="a1" name="story 2" offset="2/5s" start="1s" duration="1/5s"/>
          </spine>
        </sync-clip>
        <ref-clip ref="m1" name="Compound" offset="2s" duration="1s"/>
        <mc-clip ref="m1" name="Multicam" offset="3s" duration="1s"/>
      </spine>
    </sequence>
  </project>
</fcpxml>
"""


def test_fcpxml_clips_sync_clips_storylines_compounds_and_multicam(stage: Stage) -> None:
    """clip/sync-clip take their media's clock; storylines count from 0; compounds are skipped."""
    path = stage("edit.fcpxml").with_name("mixed.fcpxml")
    path.write_text(MIXED)
    listing = list_shots(read_timeline(path))
    rows = [
        (s.name, s.track, s.record_start * 25, s.duration * 25, s.source_start * 25)
        for s in listing.shots
    ]
    assert rows == [
        ("clip A", "primary", 0, 25, 5),
        ("sync B", "primary", 25, 25, 10),
        ("story 1", "lane 1", 30, 10, 0),
        ("story 2", "lane 1", 40, 5, 25),
    ]
    assert all(s.media == path.parent / "shot010.mov" for s in listing.shots)
    assert [(s["name"], s["reason"].split(":")[0]) for s in listing.skipped] == [
        ("Compound", "compound clip or nested sequence"),
        ("Multicam", "multicam clip"),
    ]

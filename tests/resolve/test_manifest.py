"""The record between send and receive: round trip, atomic write, nothing sent."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

from comfycine.conform.shots import Placement
from comfycine.errors import ExitCode
from comfycine.resolve import (
    ResolveNothingSent,
    connect,
    load_manifest,
    manifest_path,
    new_manifest,
    save_manifest,
)

RATE = Fraction(24000, 1001)


def test_a_send_round_trips_with_exact_times(standin: ModuleType, tmp_path: Path) -> None:
    """Shots (fractions, paths, notes, metadata), pulls and results read back equal."""
    session = connect(standin)
    info, shots = session.timeline_info(), session.select()
    pulls = [tmp_path / f"{s.index}.mov" for s in shots]
    manifest = new_manifest(info, "upscale-video", shots, pulls)
    result = Placement(
        shots[0],
        "shot010 upscale",
        tmp_path / "r.mov",
        RATE,
        48,
        1214525,
        sequence=(tmp_path, "shot.", 7, ".png"),
        metadata={"job": "abc"},
    )
    manifest.record_result(result)
    path = save_manifest(tmp_path / "data", manifest)
    assert path.parent == tmp_path / "data" / "resolve"
    back = load_manifest(tmp_path / "data", "Feature", "Reel 1")
    assert back.shots == shots and [s.metadata for s in back.shots] == [s.metadata for s in shots]
    assert back.shots[2].ignored == shots[2].ignored
    assert back.pulls == {s.index: str(p) for s, p in zip(shots, pulls, strict=True)}
    assert (back.template, back.rate, back.start_frame) == ("upscale-video", RATE, 86400)
    assert back.placements() == [result]
    assert back.placements()[0].metadata == {"job": "abc"}


def test_the_write_leaves_no_temporary_file(standin: ModuleType, tmp_path: Path) -> None:
    """Only the record is in the folder after a save (the temp file was renamed)."""
    session = connect(standin)
    save_manifest(tmp_path, new_manifest(session.timeline_info(), "t", [], []))
    assert [p.suffix for p in (tmp_path / "resolve").iterdir()] == [".json"]


def test_receive_before_send_says_to_send(tmp_path: Path) -> None:
    """No record: resolve_nothing_sent, exit 2, hint naming the send command."""
    with pytest.raises(ResolveNothingSent) as caught:
        load_manifest(tmp_path, "Feature", "Reel 1")
    error = caught.value
    assert (error.code, error.exit_code) == ("resolve_nothing_sent", ExitCode.USAGE)
    assert "comfycine resolve send TEMPLATE" in error.hint


def test_an_unreadable_record_counts_as_nothing_sent(tmp_path: Path) -> None:
    """A damaged record: resolve_nothing_sent saying it is unreadable."""
    path = manifest_path(tmp_path, "Feature", "Reel 1")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"project": "Feature"}))
    with pytest.raises(ResolveNothingSent) as caught:
        load_manifest(tmp_path, "Feature", "Reel 1")
    assert "unreadable" in caught.value.message


def test_names_that_clean_up_alike_get_their_own_record(tmp_path: Path) -> None:
    """ "Reel 1" and "Reel_1" are different timelines: different files."""
    assert manifest_path(tmp_path, "F", "Reel 1") != manifest_path(tmp_path, "F", "Reel_1")

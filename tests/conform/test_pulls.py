"""Where a shot's frames lie in its media, and the conform's words."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.conform.pulls import conform_id, fraction_text, plan_pull, pull_name
from comfycine.conform.result import ConformedShot, ConformResult
from comfycine.conform.shots import Shot
from comfycine.errors import UsageError

NTSC = Fraction(24000, 1001)


@dataclass
class Probe:
    """The fields of media.probe.VideoInfo that plan_pull reads."""

    path: Path
    rate: Fraction
    frames: int
    start_frame: int = 0
    timecode: str | None = None


def shot(**fields: object) -> Shot:
    """A shot of 2 s at 24 fps from 1 s into its media."""
    values: dict[str, object] = {
        "index": 1,
        "name": "shot010",
        "track": "V1",
        "rate": Fraction(24),
        "record_start": Fraction(10),
        "duration": Fraction(2),
        "source_start": Fraction(1),
        "media_name": "shot010.mov",
        "media": Path("/media/shot010.mov"),
    }
    values.update(fields)
    return Shot(**values)  # type: ignore[arg-type]


def test_pull_starts_at_the_source_offset_in_media_frames() -> None:
    """1 s into a 24 fps file with no timecode is frame 24; 2 s is 48 frames."""
    first, frames, rate, tc = plan_pull(shot(), Probe(Path("m.mov"), Fraction(24), 100))
    assert (first, frames, rate, tc) == (24, 48, Fraction(24), 24)


def test_pull_subtracts_the_media_start_timecode() -> None:
    """A file starting at 01:00:00:00 holds source 01:00:01:00 at frame 24."""
    hour = 3600 * 24
    s = shot(source_start=Fraction(3601))
    first, frames, _, tc = plan_pull(s, Probe(Path("m.mov"), Fraction(24), 100, start_frame=hour))
    assert (first, frames, tc) == (24, 48, hour + 24)


def test_pull_uses_the_media_start_the_timeline_gives() -> None:
    """An FCPXML asset start wins over reading the file's timecode."""
    s = shot(source_start=Fraction(3601), media_start=Fraction(3600))
    first, _, _, _ = plan_pull(s, Probe(Path("m.mov"), Fraction(24), 100))
    assert first == 24


def test_pull_at_ntsc_rate_is_exact() -> None:
    """A 23.976 shot of 48 frames is 48 frames, not 47 or 49."""
    s = shot(rate=NTSC, duration=Fraction(48) / NTSC, source_start=Fraction(24) / NTSC)
    first, frames, rate, _ = plan_pull(s, Probe(Path("m.mov"), NTSC, 200))
    assert (first, frames, rate) == (24, 48, NTSC)


def test_pull_takes_the_files_rate_over_the_timelines() -> None:
    """A 25 fps file in a 24 fps timeline is pulled at 25 over the same seconds."""
    _, frames, rate, _ = plan_pull(shot(), Probe(Path("m.mov"), Fraction(25), 200))
    assert (frames, rate) == (50, Fraction(25))


def test_pull_beyond_the_media_is_refused() -> None:
    """A range past the file's end is exit 2 naming the frames and the file's length."""
    with pytest.raises(UsageError) as caught:
        plan_pull(shot(), Probe(Path("m.mov"), Fraction(24), 40))
    assert caught.value.code == "source_range_outside_media"
    assert "40" in caught.value.message


def test_pull_names_keep_timeline_order_and_safe_characters() -> None:
    """The index leads, odd characters become underscores."""
    assert pull_name(shot(index=3, name="Shot 10/b (v2).mov")) == "003-Shot_10_b_v2.mp4"


def test_conform_id_follows_the_shots() -> None:
    """The same shots give the same id; a moved shot another."""
    a = conform_id(Path("t.fcpxml"), [shot()])
    assert a == conform_id(Path("t.fcpxml"), [shot()])
    assert a != conform_id(Path("t.fcpxml"), [shot(record_start=Fraction(11))])


def test_fraction_text_is_exact() -> None:
    """Whole rates print whole; NTSC prints as a fraction."""
    assert (fraction_text(Fraction(24)), fraction_text(NTSC)) == ("24", "24000/1001")


def test_incomplete_conform_is_a_failure_naming_the_shots() -> None:
    """An offline and a QC-failed shot make exit 5 listing both."""
    shots = [
        ConformedShot(shot(), status="conformed"),
        ConformedShot(shot(index=2, name="b"), status="offline", error="media_offline"),
        ConformedShot(shot(index=3, name="c"), status="qc_failed", error="black"),
    ]
    result = ConformResult(Path("t.edl"), "cmx_3600", "x", shots, "render")
    failure = result.failure()
    assert failure is not None and failure.exit_code == 5
    assert "b (media_offline)" in failure.message and "c (black)" in failure.message
    assert result.to_dict()["conformed"] == 1


def test_only_qc_failures_have_their_own_code() -> None:
    """When every miss is a QC failure the code says so."""
    shots = [ConformedShot(shot(), status="qc_failed", error="frozen")]
    failure = ConformResult(Path("t.edl"), "cmx_3600", "x", shots, "render").failure()
    assert failure is not None and failure.code == "conform_qc_failed"


def test_a_full_disk_is_exit_8_naming_what() -> None:
    """ENOSPC while writing becomes disk_full (exit 8) saying what could not be written."""
    import errno

    from comfycine.conform.result import not_writable

    error = not_writable(OSError(errno.ENOSPC, "No space left", "/x/y.mov"), "the delivery")
    assert (error.code, error.exit_code) == ("disk_full", 8)
    assert "disk is full" in error.message and "rerun" in error.hint


def test_records_read_forgivingly_and_write_whole(tmp_path: Path) -> None:
    """A damaged record reads empty; a write replaces it with exactly the mapping."""
    from comfycine.conform.records import read_record, write_record

    path = tmp_path / "work" / "delivered.json"
    assert read_record(path) == {}
    path.parent.mkdir()
    path.write_text("{half")
    assert read_record(path) == {}
    write_record(path, {"a": 1})
    assert read_record(path) == {"a": 1} and not path.with_name("delivered.json.part").exists()

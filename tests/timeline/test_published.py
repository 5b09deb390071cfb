"""Published sample timelines of other tools: read, written back, read again in place."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.conform.shots import Placement
from comfycine.timeline.formats import read_timeline
from comfycine.timeline.shots import list_shots
from comfycine.timeline.writeback import write_back

from ..takes.clips import make_clip
from .conftest import FIXTURES

PUBLISHED = FIXTURES / "published"
RATES = {"25fps.edl": 25}


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small clip standing in for every render."""
    return make_clip(tmp_path_factory.mktemp("render") / "render.mov", frames=24, size=(64, 36))


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in PUBLISHED.iterdir() if p.suffix in (".fcpxml", ".xml", ".edl")),
)
def test_published_timeline_comes_back_with_every_clip_in_place(
    name: str, delivered: Path, tmp_path: Path
) -> None:
    """A placement over each clip is read back at that clip's position and duration."""
    source = PUBLISHED / name
    before = source.read_bytes()
    doc = read_timeline(source, rate=RATES.get(name))
    shots = list_shots(doc).shots
    assert shots, name
    placements = [
        Placement(
            s, f"render {s.index}", delivered, doc.rate, max(1, round(s.duration * doc.rate)), 0
        )
        for s in shots
    ]
    written = write_back(doc, placements, tmp_path / f"back{source.suffix}")
    assert source.read_bytes() == before
    again = read_timeline(written.path, rate=RATES.get(name))
    back = {
        s.name: (again.start + s.record_start, s.duration)
        for s in list_shots(again).shots
        if s.name.startswith("render ")
    }
    want = {f"render {s.index}": (doc.start + s.record_start, s.duration) for s in shots}
    assert back == want
    assert isinstance(doc.rate, Fraction)

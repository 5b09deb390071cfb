"""``conform`` on the sample timelines of every format, rendered on the real CPU ComfyUI.

Each sample (tests/fixtures/timelines, written to the formats' documentation) is copied
beside freshly made media, conformed through a model-free template, and the timeline
written back is read again: every rendered clip must sit where its original sits, for
as long, and the original file must be byte for byte what it was.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.timeline.formats import read_timeline
from comfycine.timeline.shots import list_shots
from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI
from tests.takes.clips import make_clip

pytestmark = pytest.mark.real

FIXTURES = Path(__file__).parent.parent / "fixtures" / "timelines"
MEDIA = ("shot010.mov", "shot020.mov", "shot030.mov")


def staged(folder: Path, name: str) -> Path:
    """The sample ``name`` copied into ``folder``, with its three clips made beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for media in MEDIA:
        make_clip(folder / media, frames=24, size=(160, 90))
    target = folder / name
    shutil.copy(FIXTURES / name, target)
    return target


def placed_where(timeline: Path, names: set[str]) -> dict[str, tuple[Fraction, Fraction]]:
    """Absolute record start and duration of each clip named in ``names``."""
    doc = read_timeline(timeline, rate="23.976" if "2398" in timeline.name else None)
    shots = list_shots(doc).shots
    return {s.name: (doc.start + s.record_start, s.duration) for s in shots if s.name in names}


@pytest.mark.parametrize(
    "name", ["edit.fcpxml", "edit2398.fcpxml", "edit.edl", "edit.xml", "edit.otio"]
)
def test_every_format_comes_back_with_the_renders_in_place(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path, name: str
) -> None:
    """The renders sit at their originals' record positions, for as long, in the same format."""
    source = staged(tmp_path / "edit", name)
    before = source.read_bytes()
    original = read_timeline(source)
    wanted = {
        s.name: (original.start + s.record_start, s.duration)
        for s in list_shots(original, relink=source.parent).shots
    }
    out = tmp_path / "out"
    result = invoke(
        "conform", str(source), "testinvert-video", "--relink", str(source.parent),
        "-o", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)["data"]
    assert source.read_bytes() == before
    conformed = [s for s in data["shots"] if s["status"] == "conformed"]
    assert conformed and len(conformed) == len(data["shots"])
    written = Path(data["timeline"])
    assert written.suffix == source.suffix and written.parent == out
    back = placed_where(written, {s["clip_name"] for s in conformed})
    for shot in conformed:
        assert back[shot["clip_name"]] == wanted[shot["name"]], shot["name"]
    report = json.loads(Path(data["qc_report"]).read_text())
    assert report["conformed"] == len(conformed)


def test_speed_change_is_rendered_at_source_speed_and_reported(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """The EDL's M2 (50 %) clip renders its source range and says what was ignored."""
    source = staged(tmp_path / "edit", "edit.edl")
    result = invoke("conform", str(source), "testinvert-video", "--json")
    assert result.exit_code == 0, result.stderr
    shots = json.loads(result.stdout)["data"]["shots"]
    slowed = [s for s in shots if s["ignored"]]
    assert slowed and any("speed" in text for text in slowed[0]["ignored"])


def test_a_final_cut_bundle_is_read_and_written_as_fcpxml(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """An .fcpxmld bundle (Final Cut 10.6+) is conformed; the result is a plain .fcpxml."""
    folder = tmp_path / "edit"
    staged(folder, "edit.fcpxml")
    bundle = folder / "edit.fcpxmld"
    bundle.mkdir()
    (folder / "edit.fcpxml").rename(bundle / "Info.fcpxml")
    result = invoke("conform", str(bundle), "testinvert-video", "--relink", str(folder), "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)["data"]
    assert Path(data["timeline"]).name == "edit.comfycine.fcpxml"
    assert any("plain .fcpxml" in note for note in data["notes"])

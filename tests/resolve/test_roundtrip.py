"""Send then receive through the stand-in found by locate(): select, render, record, place."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import ModuleType

from comfycine.conform.shots import Placement
from comfycine.resolve import connect, load_manifest, new_manifest, save_manifest
from comfycine.resolve.render import Clock

from .standin.stage import Stage


def test_send_then_receive_places_the_pulls_back(
    standin: ModuleType, stage: Stage, clock: Clock, tmp_path: Path
) -> None:
    """The pulls of the VFX-marked shots, recorded as results, land on a new track at
    their shots' record frames of the timeline they were sent from."""
    data = tmp_path / "data"
    session = connect(standin, clock=clock)
    info, shots = session.timeline_info(), session.select(marker="VFX")
    pulls = session.render_pulls(shots, tmp_path / "exchange" / "input", timeout=60)
    manifest = new_manifest(info, "upscale-video", shots, pulls)
    for shot, pull in zip(shots, pulls, strict=True):
        frames = round(shot.duration * info.rate)
        manifest.record_result(Placement(shot, pull.stem, pull, info.rate, frames, 0))
    save_manifest(data, manifest)

    stage.project.current = stage.project.timelines[1]  # the editor moved on
    sent = load_manifest(data, info.project, info.timeline)
    report = connect(standin, timeline=sent.timeline_id).import_results(
        sent.template, sent.placements()
    )
    reel = stage.project.timelines[0]
    assert report.placed == 1 and report.track == 3
    assert [(i.start, i.duration) for i in reel.video[2]] == [(86448, 24)]
    assert sent.rate == Fraction(24000, 1001)

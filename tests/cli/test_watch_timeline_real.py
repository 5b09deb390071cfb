"""A timeline dropped into the exchange with its media is conformed whole (real ComfyUI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke, ledger_rows
from tests.real_server import RealComfyUI
from tests.takes.clips import make_clip

pytestmark = pytest.mark.real

FIXTURES = Path(__file__).parent.parent / "fixtures" / "timelines"
QUICK = ("--poll", "0.05", "--polls", "2")


def drop(folder: Path, timeline: str) -> Path:
    """The sample timeline and its three clips, dropped into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("shot010.mov", "shot020.mov", "shot030.mov"):
        make_clip(folder / name, frames=24, size=(160, 90))
    shutil.copy(FIXTURES / timeline, folder / timeline)
    return folder / timeline


def test_dropped_edl_is_conformed_and_filed_with_its_media(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """The EDL's clips are rendered as its shots, never whole; all of it moves to .done."""
    exchange = isolation.root / "exchange"
    drop(exchange / "input" / "scene4", "edit.edl")
    result = invoke("watch", "--once", "--template", "testinvert-video", "--json", *QUICK)
    assert result.exit_code == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    conformed = [e for e in events if e.get("event") == "timeline_conformed"]
    assert len(conformed) == 1, events
    written = Path(conformed[0]["timeline"])
    assert written.name == "edit.comfycine.edl"
    assert written.parent == exchange / "output" / "scene4" / "edit-testinvert-video"
    # One job per shot of the EDL, none for the media files as inputs of their own.
    assert len(ledger_rows(isolation)) == conformed[0]["conformed"]
    left = sorted(p.name for p in (exchange / "input" / "scene4").iterdir())
    assert left == []
    done = sorted(p.name for p in (exchange / "input" / ".done" / "scene4").iterdir())
    assert "edit.edl" in done and "shot010.mov" in done


def test_a_timeline_missing_its_media_goes_to_failed_with_the_reason(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """An FCPXML whose clips are not beside it is filed in failed/ with media_offline."""
    exchange = isolation.root / "exchange"
    folder = exchange / "input" / "scene5"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "edit.fcpxml", folder / "edit.fcpxml")
    result = invoke("watch", "--once", "--template", "testinvert-video", "--json", *QUICK)
    assert result.exit_code != 0 or "item_failed" in result.stdout, result.stdout
    reason = json.loads((exchange / "failed" / "scene5" / "edit.fcpxml.json").read_text())
    assert reason["error"]["code"] == "media_offline"
    assert ledger_rows(isolation) == []

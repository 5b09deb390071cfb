"""``resolve send`` / ``resolve receive`` on the Resolve stand-in and the real CPU ComfyUI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke, ledger_rows
from tests.real_server import RealComfyUI
from tests.resolve.conftest import install_standin
from tests.resolve.standin import stage as stages
from tests.resolve.standin.scenario import build


@pytest.fixture
def resolve_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[stages.Stage]:
    """A running stand-in Resolve, found through RESOLVE_SCRIPT_API as Resolve documents."""
    built = build()
    stages.use(built)
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(install_standin(tmp_path / "Scripting")))
    monkeypatch.delenv("RESOLVE_SCRIPT_LIB", raising=False)
    yield built
    stages.use(None)


@pytest.mark.real
def test_send_renders_the_marked_clip_and_receive_places_it(
    real: RealComfyUI, isolation: Isolation, resolve_stage: stages.Stage
) -> None:
    """The VFX-marked clip is pulled by Resolve, rendered on ComfyUI, and laid back above itself."""
    sent = invoke("resolve", "send", "testinvert-video", "--marker", "VFX", "--json")
    assert sent.exit_code == 0, sent.stdout + sent.stderr
    data = json.loads(sent.stdout)["data"]
    assert data["format"] == "resolve" and data["conformed"] == 1
    shot = data["shots"][0]
    assert shot["name"] == "shot020" and Path(shot["delivered"]).is_file()
    # 23.976 pulls come back from ComfyUI at 23.976 rounded: restamped frame for frame, said.
    assert shot["qc"]["status"] in ("passed", "warnings")

    received = invoke("resolve", "receive", "--json")
    assert received.exit_code == 0, received.stdout + received.stderr
    placed = json.loads(received.stdout)["data"]
    assert placed["placed"] == 1 and placed["bin"] == "testinvert-video"
    reel = resolve_stage.project.timelines[0]
    new_track = reel.video[placed["track"] - 1]
    assert [(item.start, item.duration) for item in new_track] == [(86448, 24)]

    jobs = len(ledger_rows(isolation))
    again = invoke("resolve", "send", "testinvert-video", "--marker", "VFX", "--json")
    assert again.exit_code == 0, again.stderr
    assert len(ledger_rows(isolation)) == jobs  # the pull and its render are found again


def test_resolve_not_running_names_the_timeline_file_path(
    isolation: Isolation, resolve_stage: stages.Stage
) -> None:
    """Resolve closed (or the free edition): exit 3, and the hint names conform."""
    resolve_stage.running = False
    result = invoke("resolve", "send", "testinvert-video", "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "resolve_not_running"
    assert "comfycine conform TIMELINE TEMPLATE" in error["hint"]


def test_resolve_not_installed_is_a_clear_usage_error(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No scripting module anywhere: exit 2, one line, the fallback in the hint."""
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(tmp_path / "nowhere"))
    result = invoke("resolve", "receive")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "comfycine conform" in result.stderr


def test_receive_before_any_send_says_to_send(
    isolation: Isolation, resolve_stage: stages.Stage
) -> None:
    """Nothing sent from this timeline: exit 2 resolve_nothing_sent naming the send."""
    result = invoke("resolve", "receive", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "resolve_nothing_sent" and "resolve send" in error["hint"]


def test_send_dry_run_lists_the_clips_and_renders_nothing(
    isolation: Isolation, resolve_stage: stages.Stage
) -> None:
    """--dry-run names the chosen clips; Resolve queues no render job and nothing is sent."""
    result = invoke(
        "resolve", "send", "testinvert-video", "--color", "orange", "--dry-run", "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)["data"]
    assert [s["name"] for s in data["shots"]] == ["shot010"]
    assert data["dry_run"] and ledger_rows(isolation) == []
    assert not (isolation.root / "exchange" / "resolve").exists()

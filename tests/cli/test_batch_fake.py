"""comfycine batch through the CLI against the fake ComfyUI: envelopes, exit codes,
bad input, events, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from comfycine.ledger import Ledger
from comfycine.transport.local import ComfyClient
from tests.batch.support import make_pngs, wait_for
from tests.cli_support import Isolation, files_under, invoke, join, sigint_raises
from tests.fakecomfy.files import write_png
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def test_json_envelope_lists_every_item(fake: FakeComfy, tmp_path: Path) -> None:
    """--json: one envelope with the batch id, template, counts and each item's output."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    result = invoke("batch", str(folder), "testblur", "--set", "radius=2", "--json")
    assert result.exit_code == 0, result
    envelope = result.envelope()
    data = envelope["data"]
    assert envelope["ok"] and envelope["command"] == "batch"
    assert (data["template"], data["total"], data["succeeded"], data["failed"]) == (
        "testblur",
        3,
        3,
        0,
    )
    assert data["batch"].startswith("b") and data["skipped"] == 0
    assert [Path(i["outputs"][0]).is_file() for i in data["items"]] == [True] * 3
    assert {p["prompt"]["2"]["inputs"]["blur_radius"] for p in fake.prompts_received} == {2}


def test_failed_item_is_exit_5_with_details(fake: FakeComfy, tmp_path: Path) -> None:
    """One item failing: exit 5, batch_failed_items, every item in details, the others done."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    write_png(folder / "tiny.png", 2, 2, 0xABCDEF, {})
    result = invoke("batch", str(folder), "testblur", "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "batch_failed_items" and "tiny.png" in error["message"]
    statuses = {i["name"]: i["status"] for i in error["details"]["items"]}
    assert statuses == {"shot00.png": "succeeded", "shot01.png": "succeeded", "tiny.png": "failed"}
    assert "--retry-failed" in error["hint"]


def test_people_get_a_table_and_a_summary(fake: FakeComfy, tmp_path: Path) -> None:
    """Without --json: the table of items on stdout, per-item lines and counts on stderr."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    (folder / "notes.txt").write_text("x")
    result = invoke("batch", str(folder), "testblur")
    assert result.exit_code == 0, result
    for name in ("shot00.png", "shot01.png", "notes.txt"):
        assert name in result.stdout
    assert "not an image or video file (.txt)" in result.stdout
    assert "2 succeeded, 0 failed, 1 skipped" in result.stderr
    assert "✓ shot00.png succeeded" in result.stderr


def test_wrong_type_and_unreadable_files_are_skipped_rest_runs(
    fake: FakeComfy, tmp_path: Path
) -> None:
    """A video, a broken link and an empty file are skipped with reasons; the images run."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    (folder / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (folder / "ghost.png").symlink_to(tmp_path / "missing.png")
    (folder / "half.png").write_bytes(b"")
    result = invoke("batch", str(folder), "testblur", "--json")
    assert result.exit_code == 0, result
    items = {i["name"]: i for i in result.envelope()["data"]["items"]}
    assert items["clip.mp4"]["status"] == "skipped" and "video" in items["clip.mp4"]["reason"]
    assert items["ghost.png"]["reason"].startswith("unreadable")
    assert "empty" in items["half.png"]["reason"]
    assert len(fake.prompts_received) == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "clip.mp4",
        "ghost.png",
        "half.png",
        "shot00.png",
        "shot01.png",
    ]


@pytest.mark.parametrize(
    ("setup", "template", "code"),
    [
        ("empty", "testblur", "empty_folder"),
        ("missing", "testblur", "folder_not_found"),
        ("images", "testimage", "no_media_input"),
        ("text", "testblur", "no_usable_inputs"),
        ("images", "nosuch", "unknown_template"),
    ],
)
def test_bad_input_is_exit_2_before_anything_is_sent(
    fake: FakeComfy, tmp_path: Path, setup: str, template: str, code: str
) -> None:
    """Empty or missing folder, a template without media input, no usable file: exit 2."""
    folder = tmp_path / "in"
    if setup != "missing":
        folder.mkdir()
    if setup == "images":
        make_pngs(folder, 1)
    if setup == "text":
        (folder / "a.txt").write_text("x")
        (folder / "b.json").write_text("{}")
    result = invoke("batch", str(folder), template, "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == code
    assert fake.prompts_received == []


def test_setting_the_input_itself_is_refused(fake: FakeComfy, tmp_path: Path) -> None:
    """--set input=… would override every file: a usage error."""
    folder = tmp_path / "in"
    (path,) = make_pngs(folder, 1)
    result = invoke("batch", str(folder), "testblur", "--set", f"input={path}", "--json")
    assert result.exit_code == 2 and result.envelope()["error"]["code"] == "invalid_parameter"


def test_dry_run_lists_plans(fake: FakeComfy, tmp_path: Path) -> None:
    """--dry-run: the plan of every item, nothing sent, nothing written."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    (folder / "x.txt").write_text("x")
    result = invoke("batch", str(folder), "testblur", "--dry-run", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["dry_run"] and [i["plan"] for i in data["items"]] == ["run", "run", "skip"]
    assert fake.requests == []


def test_events_stream_ndjson_then_the_envelope(fake: FakeComfy, tmp_path: Path) -> None:
    """--events: batch and item events as NDJSON with totals, the envelope last."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    result = invoke("batch", str(folder), "testblur", "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    names = [line.get("event") for line in lines[:-1]]
    assert names[0] == "batch_started" and names[-1] == "batch_finished"
    assert names.count("item_started") == 2 and names.count("item_succeeded") == 2
    assert lines[-2]["totals"]["remaining"] == 0 and lines[-1]["ok"] is True


def test_unreachable_pc_proposes_the_cloud(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening: exit 3 before anything runs, with the cloud command proposed."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    result = invoke("batch", str(folder), "testblur", "--json")
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["details"]["fallback"] == "cloud"
    assert error["details"]["command"].endswith("testblur --targets cloud --json")


def test_target_and_targets_conflict(fake: FakeComfy, tmp_path: Path) -> None:
    """--target local with --targets local,cloud is a usage error."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    result = invoke(
        "batch", str(folder), "testblur", "--target", "local", "--targets", "local,cloud", "--json"
    )
    assert result.exit_code == 2, result


def test_ctrl_c_prints_how_to_resume_and_loses_nothing(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT mid-batch: exit 130 and the resume command; the rerun sends no job twice."""
    folder = tmp_path / "in"
    make_pngs(folder, 4)
    fake.pause()
    answered = _spy_on_submit_answers(monkeypatch)

    finished, lock = threading.Event(), threading.Lock()

    def interrupt() -> None:
        try:
            wait_for(lambda: len(fake.prompts_received) >= 2 or finished.is_set())
        finally:
            with lock:  # even after a timeout, so the batch never hangs; never once it ended
                if not finished.is_set():
                    os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    with sigint_raises():
        thread.start()
        try:
            stopped = invoke("batch", str(folder), "testblur", "--set", "sigma=2")
        finally:
            with lock:
                finished.set()
    join(thread)
    assert stopped.exit_code == 130, stopped
    assert f"Resume with: comfycine batch {folder} testblur --set sigma=2" in stopped.stderr
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        left = {record.id: record.status for record in ledger.recent()}
    sent = {body["prompt_id"] for body in fake.prompts_received}
    # The server got two POSTs; whether their answers came back before the Ctrl-C is a
    # race. An answered job is recorded queued; one whose answer never arrived stays
    # submitting (the next run asks the server). Either way nothing is lost.
    assert set(left) == sent and len(sent) == 2
    assert {job: "queued" for job in answered} == {job: left[job] for job in answered}
    assert set(left.values()) <= {"queued", "submitting"}
    fake.resume()
    again = invoke("batch", str(folder), "testblur", "--set", "sigma=2", "--json")
    assert again.exit_code == 0, again
    assert again.envelope()["data"]["succeeded"] == 4
    assert len(fake.prompts_received) == 4  # the two submitted jobs were not sent again
    assert len(fake.history) == 4
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        assert {r.id for r in ledger.recent() if r.status == "succeeded"} == set(fake.history)
    assert len([p for p in files_under(isolation.output_dir) if p.suffix == ".png"]) == 4


def _spy_on_submit_answers(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Collect the ids of the jobs whose POST /prompt answer reached the client."""
    answered: set[str] = set()
    original = ComfyClient.submit

    async def submit(self: ComfyClient, *args: Any, **kwargs: Any) -> Any:
        answer = await original(self, *args, **kwargs)
        answered.add(kwargs["prompt_id"])
        return answer

    monkeypatch.setattr(ComfyClient, "submit", submit)
    return answered


def test_retry_failed_through_the_cli(fake: FakeComfy, tmp_path: Path) -> None:
    """A failed item is not rerun (exit 5) until --retry-failed renders only it (exit 0)."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    fake.fail_next("RuntimeError", "driver reset")
    first = invoke("batch", str(folder), "testblur", "--concurrency", "1", "--json")
    assert first.exit_code == 5, first
    again = invoke("batch", str(folder), "testblur", "--json")
    assert again.exit_code == 5 and len(fake.prompts_received) == 2
    assert again.envelope()["error"]["hint"].endswith("testblur --json --retry-failed")
    dry = invoke("batch", str(folder), "testblur", "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    assert sorted(i["plan"] for i in dry.envelope()["data"]["items"]) == ["skip", "skip"]
    retried = invoke("batch", str(folder), "testblur", "--retry-failed", "--json")
    assert retried.exit_code == 0, retried
    plans = sorted(i["plan"] for i in retried.envelope()["data"]["items"])
    assert plans == ["retry", "skip"] and len(fake.prompts_received) == 3

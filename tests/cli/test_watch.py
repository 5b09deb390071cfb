"""`comfycine watch` through the CLI: the exchange folder, bad input, NDJSON, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import plistlib
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from comfycine.filehash import content_hash
from comfycine.ledger import JobRecord, Ledger
from comfycine.settings import resolve
from comfycine.watch import WatchOptions, item_key, watch_exchange
from comfycine.watch.watcher import exchange_lock
from tests.cli_support import CliResult, Isolation, invoke, join
from tests.fakecomfy.server import FakeComfy
from tests.watch.support import TICK, png_bytes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK = ("--poll", str(TICK), "--polls", "2")


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


@pytest.fixture
def exchange(isolation: Isolation) -> Path:
    """The isolated exchange folder (COMFYCINE_EXCHANGE_DIR), not created yet."""
    return isolation.root / "exchange"


def drop(exchange: Path, rel: str, content: bytes | None = None) -> Path:
    """Put a file into input/ (a fresh random PNG unless content is given)."""
    path = exchange / "input" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes() if content is None else content)
    return path


def events(result: CliResult) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """NDJSON events and the final envelope of a --json run."""
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return lines[:-1], lines[-1]


def of_kind(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events of one kind."""
    return [e for e in found if e["event"] == kind]


def test_missing_exchange_folder_is_created_with_a_message(exchange: Path) -> None:
    """--once on a missing folder creates input/ output/ failed/ and says so; exit 0."""
    result = invoke("watch", "--once")
    assert result.exit_code == 0, result
    assert all((exchange / sub).is_dir() for sub in ("input", "output", "failed"))
    assert f"The exchange folder {exchange} did not exist" in result.stderr
    assert "input/<template>/" in result.stderr


def test_json_is_ndjson_events_then_the_envelope(fake: FakeComfy, exchange: Path) -> None:
    """Every stdout line is JSON; events carry the event schema; the envelope comes last."""
    drop(exchange, "testblur/a.png")
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    found, envelope = events(result)
    assert all(e["schema"] == "comfycine/event/1" for e in found)
    assert envelope["schema"] == "comfycine/1" and envelope["command"] == "watch"
    assert envelope["data"]["succeeded"] == 1
    done = of_kind(found, "item_succeeded")[0]
    assert done["input"] == "testblur/a.png" and done["template"] == "testblur"
    output = Path(done["outputs"][0])
    assert output == exchange / "output" / "a.testblur.png"
    assert output.read_bytes().startswith(PNG_MAGIC)
    assert (exchange / "input" / ".done" / "testblur" / "a.png").is_file()
    assert not (exchange / "input" / "testblur" / "a.png").exists()


def test_wrong_media_type_fails_alone(fake: FakeComfy, exchange: Path) -> None:
    """A .mov for an image template goes to failed/ with its reason; the PNG is rendered."""
    drop(exchange, "testblur/plan12.mov", b"\0\0\0\x14ftypqt  " + b"\0" * 64)
    drop(exchange, "testblur/still.png")
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    _, envelope = events(result)
    assert (envelope["data"]["succeeded"], envelope["data"]["failed"]) == (1, 1)
    failed = exchange / "failed" / "testblur" / "plan12.mov"
    assert failed.read_bytes().startswith(b"\0\0\0\x14ftyp")
    reason = json.loads((failed.parent / "plan12.mov.json").read_text())
    assert reason["error"]["code"] == "wrong_media_type"
    assert "plan12.mov is a video" in reason["error"]["message"]
    assert reason["error"]["hint"] and reason["diagnosis"]["code"]
    assert (exchange / "output" / "still.testblur.png").is_file()
    assert len(fake.prompts_received) == 1


def test_unreadable_file_fails_with_a_reason(
    fake: FakeComfy, exchange: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be read goes to failed/ (unreadable_input); the other is rendered."""
    from comfycine.watch import items

    real_hash = items.content_hash

    def refuse(path: Path) -> str:
        if path.name == "locked.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path)

    monkeypatch.setattr(items, "content_hash", refuse)
    drop(exchange, "testblur/locked.png")
    drop(exchange, "testblur/open.png")
    result = invoke("watch", "--once", *QUICK)
    assert result.exit_code == 0, result
    reason = json.loads((exchange / "failed" / "testblur" / "locked.png.json").read_text())
    assert reason["error"]["code"] == "unreadable_input"
    assert "Permission denied" in reason["error"]["message"]
    assert (exchange / "failed" / "testblur" / "locked.png").is_file()
    assert (exchange / "output" / "open.testblur.png").is_file()
    assert "✗ testblur/locked.png: Cannot read locked.png" in result.stderr


def test_template_without_media_is_a_usage_error(exchange: Path) -> None:
    """--template testimage (no media placeholder): exit 2 before anything is touched."""
    drop(exchange, "plan.png")
    result = invoke("watch", "--once", "--template", "testimage", "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "template_without_media"
    assert "PARAM_IMAGE" in error["message"]
    assert (exchange / "input" / "plan.png").is_file()


def test_bad_folders_fail_their_files_clearly(fake: FakeComfy, exchange: Path) -> None:
    """No-media template folder, unknown template folder, top-level file: each to failed/."""
    drop(exchange, "testimage/a.png")
    drop(exchange, "upscal/b.png")
    drop(exchange, "c.png")
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    codes = {
        name: json.loads((exchange / "failed" / name).read_text())["error"]["code"]
        for name in ("testimage/a.png.json", "upscal/b.png.json", "c.png.json")
    }
    assert codes == {
        "testimage/a.png.json": "template_without_media",
        "upscal/b.png.json": "unknown_template",
        "c.png.json": "no_template",
    }
    assert fake.prompts_received == []


def test_fixed_template_takes_every_file(fake: FakeComfy, exchange: Path) -> None:
    """--template testblur renders files anywhere in input/, outputs keep their subfolder."""
    drop(exchange, "top.png")
    drop(exchange, "scene1/shot.png")
    result = invoke("watch", "--once", "--template", "testblur", *QUICK)
    assert result.exit_code == 0, result
    assert (exchange / "output" / "top.testblur.png").is_file()
    assert (exchange / "output" / "scene1" / "shot.testblur.png").is_file()
    printed = result.stdout.split()
    assert str(exchange / "output" / "top.testblur.png") in printed


def test_same_file_again_is_not_rendered_twice(fake: FakeComfy, exchange: Path) -> None:
    """The same bytes dropped again at the same place: skipped (ledger key), filed in .done."""
    content = png_bytes()
    drop(exchange, "testblur/a.png", content)
    assert invoke("watch", "--once", *QUICK).exit_code == 0
    drop(exchange, "testblur/a.png", content)
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    found, envelope = events(result)
    assert envelope["data"]["skipped"] == 1
    assert of_kind(found, "item_skipped")[0]["reason"] == "already_done"
    assert len(fake.prompts_received) == 1
    assert sorted(p.name for p in (exchange / "input" / ".done" / "testblur").iterdir()) == [
        "a-2.png",
        "a.png",
    ]
    assert [p.name for p in (exchange / "output").iterdir()] == ["a.testblur.png"]


def test_unreachable_server_keeps_files_and_exits_3(
    isolation: Isolation, exchange: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--once with the PC off: the file stays in input/, exit 3 with target_unreachable."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    drop(exchange, "testblur/a.png")
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 3, result
    _, envelope = events(result)
    assert envelope["error"]["code"] == "target_unreachable"
    assert envelope["error"]["details"]["held"] == ["testblur/a.png"]
    assert (exchange / "input" / "testblur" / "a.png").is_file()
    assert not (exchange / "failed" / "testblur").exists()


def test_a_second_watcher_is_refused(isolation: Isolation, exchange: Path) -> None:
    """While a watcher holds the exchange folder, another one exits 2 (watcher_running)."""
    for sub in ("input", "output", "failed"):
        (exchange / sub).mkdir(parents=True)
    with exchange_lock(exchange):
        result = invoke("watch", "--once", "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == "watcher_running"


def test_notify_hook_hears_each_item_and_cannot_stop_the_watcher(
    fake: FakeComfy, exchange: Path
) -> None:
    """notify(kind, payload) runs per filed item; a notifier that raises is only reported."""
    drop(exchange, "testblur/good.png")
    drop(exchange, "testblur/bad.txt", b"not an image")
    heard: list[tuple[str, str]] = []
    seen: list[dict[str, Any]] = []

    async def notify(kind: str, payload: dict[str, Any]) -> None:
        heard.append((kind, payload["input"]))
        raise RuntimeError("notifier down")

    options = WatchOptions(exchange, once=True, poll_interval=TICK, polls=2)
    summary = asyncio.run(watch_exchange(resolve(), options, on_event=seen.append, notify=notify))
    assert (summary.succeeded, summary.failed) == (1, 1)
    assert sorted(heard) == [
        ("watch.failed", "testblur/bad.txt"),
        ("watch.succeeded", "testblur/good.png"),
    ]
    assert len(of_kind(seen, "notify_failed")) == 2


def test_ledger_rows_carry_source_path_and_item_key(
    fake: FakeComfy, exchange: Path, isolation: Isolation
) -> None:
    """The job is recorded with the input's path and a watch: item key, filing noted in extra."""
    path = drop(exchange, "testblur/a.png")
    assert invoke("watch", "--once", *QUICK).exit_code == 0
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        (row,) = ledger.recent()
    assert row.source_path == str(path)
    assert row.item_key is not None and row.item_key.startswith("watch:")
    assert row.extra["watch"]["outputs"] == ["output/a.testblur.png"]
    assert row.extra["watch"]["moved_to"] == "input/.done/testblur/a.png"


def test_growing_file_is_taken_only_once_complete(fake: FakeComfy, exchange: Path) -> None:
    """A PNG written in chunks while --once waits: rendered once, from the complete bytes."""
    content = png_bytes(64, 64)
    path = exchange / "input" / "testblur" / "slow.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(content[:100])
    finished = threading.Event()

    def write_rest() -> None:
        with path.open("ab") as handle:
            for start in range(100, len(content), 2000):
                threading.Event().wait(TICK)
                handle.write(content[start : start + 2000])
                handle.flush()
        finished.set()

    writer = threading.Thread(target=write_rest)
    writer.start()
    result = invoke("watch", "--once", "--json", "--poll", str(TICK), "--polls", "3")
    join(writer)
    assert result.exit_code == 0, result
    assert finished.is_set()
    assert len(fake.prompts_received) == 1
    (uploaded,) = (fake.base_dir / "input").iterdir()
    assert uploaded.read_bytes() == content
    assert (exchange / "output" / "slow.testblur.png").is_file()


def test_install_launchd_writes_the_plist_and_prints_bootstrap(
    isolation: Isolation, exchange: Path
) -> None:
    """install-launchd --json: plist under HOME, the bootstrap line, KeepAlive in the file."""
    result = invoke("watch", "install-launchd", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    plist_path = Path(data["plist"])
    assert plist_path.parent == isolation.root / "home" / "Library" / "LaunchAgents"
    plist = plistlib.loads(plist_path.read_bytes())
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert str(exchange) in plist["ProgramArguments"]
    assert data["bootstrap"] == f"launchctl bootstrap gui/{os.getuid()} {plist_path}"
    again = invoke("watch", "install-launchd", "--exchange", str(isolation.root / "other"))
    assert again.exit_code == 2, again
    assert "--force" in again.stderr


def seed_job(isolation: Isolation, path: Path, status: str, url: str, **fields: Any) -> str:
    """A ledger row for the watch item at ``path``, as a crashed watcher leaves it."""
    rel = PurePosixPath(path.relative_to(path.parents[1]).as_posix())
    key = item_key(rel.parts[0], rel, content_hash(path))
    job = str(uuid.uuid4())
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.add(
            JobRecord(
                id=job,
                client_id="c",
                target="local",
                server_url=url,
                template=rel.parts[0],
                status=status,
                source_path=str(path),
                item_key=key,
                **fields,
            )
        )
    return job


def test_job_cut_before_posting_is_rerun_once(
    fake: FakeComfy, exchange: Path, isolation: Isolation
) -> None:
    """A 'submitting' row the server never got: followed, found lost, rendered once more."""
    path = drop(exchange, "testblur/a.png")
    cut = seed_job(isolation, path, "submitting", fake.url)
    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    found, _ = events(result)
    assert [e["job"] for e in of_kind(found, "item_resumed")] == [cut]
    assert [e["rerun"] for e in of_kind(found, "item_started")] == [True]
    assert len(of_kind(found, "item_succeeded")) == 1
    assert len(fake.prompts_received) == 1
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        assert sorted(r.status for r in ledger.recent()) == ["lost", "succeeded"]


def test_second_crash_sends_the_input_to_failed(
    fake: FakeComfy, exchange: Path, isolation: Isolation
) -> None:
    """Two lost attempts already: no third job; failed/ with the job_lost reason."""
    path = drop(exchange, "testblur/a.png")
    lost = {"code": "job_lost", "message": "Job lost.", "hint": "", "details": {}, "exit": 5}
    for _ in range(2):
        seed_job(isolation, path, "lost", fake.url, error=lost)
    result = invoke("watch", "--once", *QUICK)
    assert result.exit_code == 0, result
    reason = json.loads((exchange / "failed" / "testblur" / "a.png.json").read_text())
    assert reason["error"]["code"] == "job_lost"
    assert fake.prompts_received == []

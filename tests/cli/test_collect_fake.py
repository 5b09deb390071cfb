"""Downloads are resumable facts (fake server): cut, resumed, collected once, never re-rendered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from comfycine.collecting import _try_lock, lock_path
from comfycine.ledger import Ledger
from tests.batch.support import make_pngs
from tests.cli_support import (
    CliResult,
    Isolation,
    files_under,
    invoke,
    outputs_under,
    rendered_bytes,
)
from tests.fakecomfy.server import FakeComfy
from tests.watch.support import TICK, png_bytes

TEMPLATE = "testimage"
SUBPROCESS_TIMEOUT = 60
POLL = 0.02


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server, with a short outage window."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    # A download cut every time must give up within the test, not after 10 minutes.
    monkeypatch.setenv("COMFYCINE_OUTAGE_WINDOW", "1")
    return fake_comfy


def wait_until(condition: Any, timeout: float = 20.0) -> None:
    """Poll ``condition()`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(POLL)


def server_outputs(fake: FakeComfy) -> list[Path]:
    """The files the fake server wrote into its output folder."""
    return files_under(fake.base_dir / "output")


def stranded_job(fake: FakeComfy) -> tuple[str, CliResult]:
    """A generate whose download is cut every time: the job ends ``rendered``."""
    fake.cut_view_after(20, times=10_000)
    result = invoke("generate", TEMPLATE, "--json")
    fake.view_normal()
    job = result.envelope()["error"]["details"]["job"]
    return str(job), result


def recorded(isolation: Isolation, job: str) -> Any:
    """The job as the ledger holds it now."""
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        return ledger.find(job)


def test_a_cut_download_is_resumed_within_generate(fake: FakeComfy, isolation: Isolation) -> None:
    """/view cut once mid-file: generate waits it out, resumes, one whole file, exit 0."""
    fake.cut_view_after(20, times=1)
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    (output,) = outputs_under(isolation.output_dir)
    (source,) = server_outputs(fake)
    assert rendered_bytes(output) == rendered_bytes(source)
    assert fake.count("GET", "/view") == 2


def test_a_cut_download_from_a_server_ignoring_range_starts_again(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """No Range support: after the cut the file is fetched again from byte 0, whole."""
    fake.view_ignores_range()
    fake.cut_view_after(20, times=1)
    result = invoke("generate", TEMPLATE, "--json")
    fake.view_normal()
    assert result.exit_code == 0, result
    (output,) = outputs_under(isolation.output_dir)
    assert rendered_bytes(output) == rendered_bytes(server_outputs(fake)[0])


def test_bytes_past_the_announced_length_are_never_written(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """A /view body longer than its Content-Length: the file has exactly the announced bytes."""
    fake.view_overlong(extra_bytes=5000)
    result = invoke("generate", TEMPLATE, "--json")
    fake.view_normal()
    assert result.exit_code == 0, result
    (output,) = outputs_under(isolation.output_dir)
    assert rendered_bytes(output) == rendered_bytes(server_outputs(fake)[0])


def test_a_stranded_download_is_rendered_not_failed(fake: FakeComfy, isolation: Isolation) -> None:
    """The link gives up on the download: exit 3 naming the job and its wait; no cloud."""
    job, result = stranded_job(fake)
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["details"]["rendered"] and f"comfycine wait {job[:8]}" in error["hint"]
    assert "cloud" not in error["hint"].lower() and "fallback" not in error["details"]
    assert recorded(isolation, job).status == "rendered"
    assert [p for p in outputs_under(isolation.output_dir) if not p.name.endswith(".part")] == []
    shown = invoke("status", job[:8], "--json").envelope()["data"]["job"]
    assert shown["status"] == "rendered"
    assert f"comfycine wait {job[:8]}" in shown["server_state"]


def test_wait_finishes_a_download_cut_short(fake: FakeComfy, isolation: Isolation) -> None:
    """wait on a rendered job downloads it (resuming the part) and marks it succeeded."""
    job, _ = stranded_job(fake)
    posts, histories = fake.count("POST", "/prompt"), fake.count("GET", "/history")
    result = invoke("wait", job[:8], "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    (output,) = outputs_under(isolation.output_dir)
    (source,) = server_outputs(fake)
    assert data["status"] == "succeeded" and data["outputs"] == [str(output)]
    assert rendered_bytes(output) == rendered_bytes(source)
    assert fake.count("POST", "/prompt") == posts  # not rendered again
    assert fake.count("GET", "/history") == histories  # nothing followed: files only


def test_wait_collects_after_the_server_lost_its_history(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """A restart wiped history and queue: wait still downloads from the recorded outputs."""
    job, _ = stranded_job(fake)
    fake.restart()
    fake.wait_until_up()
    assert job not in fake.history
    result = invoke("wait", job[:8], "--json")
    assert result.exit_code == 0, result
    (output,) = outputs_under(isolation.output_dir)
    assert rendered_bytes(output) == rendered_bytes(server_outputs(fake)[0])
    assert recorded(isolation, job).status == "succeeded"


def test_legacy_download_failure_is_downloaded_by_wait(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """A job an older version recorded failed/download_failed: wait downloads it."""
    job, _ = stranded_job(fake)
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        error = {"code": "download_failed", "message": "stopped", "exit": 5}
        ledger.mark(job, "failed", error=error, outputs=[])
    result = invoke("wait", job[:8], "--json")
    assert result.exit_code == 0, result
    assert len(outputs_under(isolation.output_dir)) == 1


def _comfycine(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comfycine", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_two_waits_of_one_job_make_one_copy(fake: FakeComfy, isolation: Isolation) -> None:
    """Two `comfycine wait` processes at once: one GET /view, one file, the same paths."""
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    wait_until(lambda: job in fake.history)
    # Hold the job's collection lock so both waiters meet at it, then let them go.
    lock = lock_path(isolation.data_dir, job)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    waiters: list[subprocess.Popen[str]] = []
    try:
        assert _try_lock(fd)
        waiters = [_comfycine("wait", job, "--json") for _ in range(2)]

        def one_at_the_lock() -> bool:
            for waiter in waiters:
                if waiter.poll() is not None:  # ended before the lock was released
                    pytest.fail(f"wait ended early: {waiter.communicate()}")
            return bool(recorded(isolation, job).status == "rendered")

        # Any interleaving must give one copy; holding the lock makes them overlap.
        wait_until(one_at_the_lock)
    except BaseException:
        for waiter in waiters:
            waiter.kill()
            waiter.wait(SUBPROCESS_TIMEOUT)
        raise
    finally:
        os.close(fd)
    envelopes = []
    try:
        for waiter in waiters:
            out, err = waiter.communicate(timeout=SUBPROCESS_TIMEOUT)
            assert waiter.returncode == 0, err
            envelopes.append(json.loads(out))
    finally:
        for waiter in waiters:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait(SUBPROCESS_TIMEOUT)
    first, second = (e["data"]["outputs"] for e in envelopes)
    assert first == second and len(first) == 1
    assert outputs_under(isolation.output_dir) == [Path(first[0])]
    assert fake.count("GET", "/view") == 1


def test_batch_retry_failed_downloads_without_rendering_again(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """A batch item whose download was stranded: the rerun downloads it, no second POST."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    fake.cut_view_after(20, times=10_000)
    first = invoke("batch", str(folder), "testblur", "--json")
    fake.view_normal()
    assert first.exit_code == 3, first
    assert fake.count("POST", "/prompt") == 1
    again = invoke("batch", str(folder), "testblur", "--retry-failed", "--json")
    assert again.exit_code == 0, again
    (item,) = again.envelope()["data"]["items"]
    assert item["status"] == "succeeded" and Path(item["outputs"][0]).is_file()
    assert fake.count("POST", "/prompt") == 1


def test_batch_retry_failed_downloads_a_legacy_download_failure(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """An item an older version recorded failed/download_failed is downloaded, not rendered."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    assert invoke("batch", str(folder), "testblur", "--json").exit_code == 0
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        (job,) = ledger.recent(1)
        for path in job.outputs:
            Path(path).unlink()
        error = {"code": "download_failed", "message": "stopped", "exit": 5}
        ledger.mark(job.id, "failed", error=error, outputs=[])
    plain = invoke("batch", str(folder), "testblur", "--json")
    assert plain.exit_code == 5, plain  # failed earlier: not retried without the flag
    again = invoke("batch", str(folder), "testblur", "--retry-failed", "--json")
    assert again.exit_code == 0, again
    assert fake.count("POST", "/prompt") == 1
    assert len(outputs_under(isolation.output_dir)) == 1


def test_watch_collects_a_stranded_render_instead_of_rendering_again(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """watch: a render whose download was stranded is held, then collected, not re-rendered."""
    quick = ("--poll", str(TICK), "--polls", "2")
    source = isolation.root / "exchange" / "input" / "testblur" / "a.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(png_bytes())
    fake.cut_view_after(20, times=10_000)
    first = invoke("watch", "--once", "--json", *quick)
    fake.view_normal()
    assert first.exit_code == 3, first
    assert source.is_file()  # held in input/, not filed as failed
    second = invoke("watch", "--once", "--json", *quick)
    assert second.exit_code == 0, second
    data = json.loads(second.stdout.splitlines()[-1])["data"]
    assert (data["succeeded"], data["resumed"]) == (1, 1)
    assert fake.count("POST", "/prompt") == 1
    assert [p.name for p in (isolation.root / "exchange" / "output").iterdir()] == [
        "a.testblur.png"
    ]

"""Every --timeout is a real limit, whatever the server does with its answers (fake)."""

from __future__ import annotations

import time

import pytest

from tests.cli_support import Isolation, invoke, outputs_under
from tests.fakecomfy.server import FakeComfy

TEMPLATE = "testimage"


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def finished_job(fake: FakeComfy) -> str:
    """A detached job, left to finish on the server with nobody collecting it."""
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    deadline = time.monotonic() + 10
    while job not in fake.history and time.monotonic() < deadline:
        time.sleep(0.02)
    return str(job)


def timed_wait(job: str, timeout: float) -> tuple[float, object]:
    """Run ``wait JOB --timeout`` and measure how long it took (for the bound, not speed)."""
    started = time.monotonic()
    result = invoke("wait", job, "--timeout", str(timeout), "--json")
    return time.monotonic() - started, result


def test_wait_timeout_holds_against_a_dribbled_history(fake: FakeComfy) -> None:
    """/history sent a byte at a time: wait --timeout 1.5 ends with exit 6, not minutes later."""
    job = finished_job(fake)
    fake.dribble("/history/", byte_ms=200)
    took, result = timed_wait(job, 1.5)
    assert result.exit_code == 6, result  # type: ignore[attr-defined]
    assert result.envelope()["error"]["details"]["job"] == job  # type: ignore[attr-defined]
    assert took < 10, f"took {took:.1f} s"


def test_wait_timeout_holds_against_an_endless_download(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """An endless /view body: wait --timeout ends it, says the download is unfinished."""
    job = finished_job(fake)
    fake.view_endless()
    took, result = timed_wait(job, 2.0)
    assert result.exit_code == 6, result  # type: ignore[attr-defined]
    error = result.envelope()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "still_downloading" and f"comfycine wait {job[:8]}" in error["hint"]
    assert took < 10, f"took {took:.1f} s"
    fake.view_normal()
    finished = invoke("wait", job, "--json")
    assert finished.exit_code == 0, finished
    assert len(outputs_under(isolation.output_dir)) == 1


def test_generate_timeout_holds_while_the_server_is_silent(
    fake: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that never ends: generate --timeout 1 returns exit 6 with the job id."""
    fake.node_seconds = 20
    took_from = time.monotonic()
    result = invoke("generate", TEMPLATE, "--timeout", "1", "--json")
    assert result.exit_code == 6, result
    assert result.envelope()["error"]["details"]["job"]
    assert time.monotonic() - took_from < 10
    invoke("cancel", result.envelope()["error"]["details"]["job"])

"""Following a job when the socket is not the way: polling, stalls, forced cancels (fake)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy

TEMPLATE = "testimage"


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def socket_opens(fake: FakeComfy) -> int:
    """How many WebSocket connections the fake saw."""
    return sum(1 for method, path in fake.requests if method == "GET" and path == "/ws")


def test_poll_mode_ends_exactly_as_the_socket_does(fake: FakeComfy) -> None:
    """--transport poll: same outcome, outputs and ledger as the socket, and no socket at all."""
    fake.node_seconds = 0.2
    polled = invoke("generate", TEMPLATE, "--transport", "poll", "--json")
    assert polled.exit_code == 0, polled
    assert socket_opens(fake) == 0
    by_socket = invoke("generate", TEMPLATE, "--json")
    assert by_socket.exit_code == 0, by_socket
    a, b = polled.envelope()["data"], by_socket.envelope()["data"]
    assert a["status"] == b["status"] == "succeeded"
    assert len(a["outputs"]) == len(b["outputs"]) == 1 and Path(a["outputs"][0]).is_file()
    recorded = invoke("status", a["job"], "--json").envelope()["data"]["job"]
    assert recorded["status"] == "succeeded" and recorded["outputs"] == a["outputs"]


def test_poll_mode_says_once_why_live_progress_is_missing(fake: FakeComfy) -> None:
    """The stderr carries one line saying polling replaces live progress."""
    fake.node_seconds = 0.3
    result = invoke("generate", TEMPLATE, "--transport", "poll")
    assert result.exit_code == 0, result
    assert result.stderr.count("No live progress") == 1, result


def test_poll_mode_events_show_queued_running_done(fake: FakeComfy) -> None:
    """--events while polling: the phases that can be known, then the envelope."""
    fake.node_seconds = 0.6
    result = invoke("generate", TEMPLATE, "--transport", "poll", "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    phases = [line["progress"]["phase"] for line in lines if "progress" in line]
    assert "running" in phases and phases[-1] == "done"
    assert any(line.get("event") == "notice" for line in lines)
    assert lines[-1]["ok"] is True


def test_poll_mode_failure_has_the_same_exit_and_code(fake: FakeComfy) -> None:
    """An out-of-memory job followed by polling: exit 5, out_of_memory, as with the socket."""
    fake.oom_next()
    result = invoke("generate", TEMPLATE, "--transport", "poll", "--json")
    assert result.exit_code == 5, result
    assert result.envelope()["error"]["code"] == "out_of_memory"


def test_bad_transport_value_is_a_usage_error(fake: FakeComfy) -> None:
    """--transport carrier-pigeon: exit 2 naming the setting."""
    result = invoke("generate", TEMPLATE, "--transport", "carrier-pigeon", "--json")
    assert result.exit_code == 2, result
    assert "transport" in result.envelope()["error"]["message"]


def test_a_silent_running_job_is_reported_stalled_not_cancelled(
    fake: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sign of life past the threshold: a stderr line and an event; the job still ends."""
    monkeypatch.setenv("COMFYCINE_STALL_AFTER", "0.4")
    fake.node_seconds = 1.2
    result = invoke("generate", TEMPLATE, "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    stalled = [line for line in lines if line.get("event") == "stalled"]
    assert len(stalled) >= 1 and "cancel --force" in stalled[0]["message"]
    assert lines[-1]["ok"] is True and not fake.queue_remaining


def test_wait_that_times_out_on_a_stalled_job_says_so(
    fake: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """wait --timeout on a stalled job: exit 6 with details.stalled; status shows it too."""
    monkeypatch.setenv("COMFYCINE_STALL_AFTER", "0.3")
    fake.node_seconds = 2.0
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    waited = invoke("wait", job, "--timeout", "1.2", "--json")
    assert waited.exit_code == 6, waited
    details = waited.envelope()["error"]["details"]
    assert details["stalled"]["seconds"] >= 0.3
    shown = invoke("status", job, "--json").envelope()["data"]["job"]
    assert shown["stalled"]["seconds"] >= 0.3
    fake.wait_until_idle()


def test_cancel_interrupts_a_running_job(fake: FakeComfy) -> None:
    """cancel on a running job: interrupted, recorded once the server confirms."""
    fake.node_seconds = 5.0
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    deadline = time.monotonic() + 10
    while fake.queue_remaining and not _running(fake) and time.monotonic() < deadline:
        time.sleep(0.02)
    result = invoke("cancel", job, "--force", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["action"] == "interrupted" and data["steps"] == ["interrupt"]
    assert invoke("status", job, "--json").envelope()["data"]["job"]["status"] == "interrupted"


def running_job(fake: FakeComfy, node_seconds: float) -> str:
    """A detached job that is running on the fake when this returns."""
    fake.node_seconds = node_seconds
    job = str(invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"])
    deadline = time.monotonic() + 10
    while not _running(fake) and time.monotonic() < deadline:
        time.sleep(0.02)
    return job


def test_cancel_force_escalates_to_free_when_the_interrupt_is_ignored(
    fake: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that ignores the interrupt but yields to POST /free: action freed."""
    monkeypatch.setattr("comfycine.jobcontrol.STOP_WAIT", 1.0)
    job = running_job(fake, 30.0)
    fake.get_stuck("until_free")
    result = invoke("cancel", job, "--force", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["action"] == "freed" and data["steps"] == ["interrupt", "free"]
    assert ("POST", "/free") in fake.requests


def test_cancel_force_reports_a_job_that_will_not_stop(
    fake: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupt and /free both ignored: exit 5 cancel_ignored naming the job and a restart."""
    monkeypatch.setattr("comfycine.jobcontrol.STOP_WAIT", 1.0)
    job = running_job(fake, 60.0)
    fake.get_stuck("always")
    result = invoke("cancel", job, "--force", "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "cancel_ignored" and error["details"]["job"] == job
    assert "Restart ComfyUI" in error["hint"]
    fake.get_stuck(None)
    invoke("cancel", job)
    fake.wait_until_idle()


def _running(fake: FakeComfy) -> bool:
    return any(path == "/prompt" for _, path in fake.requests) and fake.queue_remaining > 0

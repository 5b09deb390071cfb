"""generate / wait against the protocol-faithful fake, for what a CPU server cannot do on cue."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.cli_support import Isolation, files_under, invoke, join
from tests.fakecomfy.server import FakeComfy
from tests.ports import closed_port

TEMPLATE = "testimage"


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def once_submitted(
    fake: FakeComfy, action: object, delay: float = 0.1, count: int = 1
) -> threading.Thread:
    """Run ``action()`` shortly after the fake received ``count`` prompts (however slow)."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 30
        while len(fake.prompts_received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=wait_then_act)
    thread.start()
    return thread


def test_dropped_socket_mid_job_still_collects(fake: FakeComfy) -> None:
    """The socket drops while the job runs; we reconnect, reconcile, and get the output."""
    fake.node_seconds = 0.3
    timer = once_submitted(fake, fake.drop_sockets, delay=0.35)
    result = invoke("generate", TEMPLATE, "--json")
    join(timer)
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()
    paths = [path for method, path in fake.requests if method == "GET"]
    assert paths.count("/ws") >= 2, "never reconnected"


def test_job_finishing_while_disconnected_is_collected(fake: FakeComfy) -> None:
    """The job ends during the outage (no replay): history reconciliation still collects it."""
    fake.node_seconds = 0.15
    fake.drop_sockets_after(8)
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["status"] == "succeeded"


def test_server_restart_loses_the_job_clearly(fake: FakeComfy, isolation: Isolation) -> None:
    """A restart wipes queue and history: reported as job_lost (exit 5), not waited on."""
    fake.node_seconds = 0.5
    timer = once_submitted(fake, fake.restart, delay=0.3)
    result = invoke("generate", TEMPLATE, "--json")
    join(timer)
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "job_lost" and "restarted" in error["message"]
    assert files_under(isolation.output_dir) == []
    assert invoke("status", "last", "--json").envelope()["data"]["job"]["status"] == "lost"


def test_history_race_is_retried(fake: FakeComfy) -> None:
    """History answering {} for a while after the end is retried, not taken as lost."""
    fake.history_delay_polls = 3
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    assert len(result.envelope()["data"]["outputs"]) == 1


def test_generate_timeout_exits_6_then_wait_collects(fake: FakeComfy) -> None:
    """--timeout ends the wait with exit 6 and the job id; wait later downloads the result."""
    fake.node_seconds = 0.4
    result = invoke("generate", TEMPLATE, "--timeout", "0.2", "--json")
    assert result.exit_code == 6, result
    error = result.envelope()["error"]
    assert error["code"] == "still_running" and "comfycine wait" in error["hint"]
    waited = invoke("wait", error["details"]["job"], "--json")
    assert waited.exit_code == 0, waited


def test_wait_collects_a_job_that_ended_unobserved(fake: FakeComfy) -> None:
    """A detached job that finished with nobody listening is collected from history."""
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    deadline = time.monotonic() + 10
    while job not in fake.history and time.monotonic() < deadline:
        time.sleep(0.02)
    waited = invoke("wait", job[:8], "--json")
    assert waited.exit_code == 0, waited
    assert Path(waited.envelope()["data"]["outputs"][0]).is_file()


def test_wait_on_job_lost_to_restart(fake: FakeComfy) -> None:
    """wait on a detached job the server forgot reports job_lost at once."""
    fake.pause()
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    fake.restart()
    fake.resume()
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 5, waited
    assert waited.envelope()["error"]["code"] == "job_lost"


def test_out_of_memory_is_exit_5_with_its_own_code(fake: FakeComfy, isolation: Isolation) -> None:
    """A CUDA OOM becomes out_of_memory; the hint is the computed smaller render."""
    fake.oom_next()
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "out_of_memory"
    assert "--set width=" in error["hint"] and error["details"]["exception_type"].endswith(
        "OutOfMemoryError"
    )
    diagnosis = error["details"]["diagnosis"]
    assert diagnosis["code"] == "out_of_memory" and diagnosis["facts"]["width"] < 256
    assert files_under(isolation.output_dir) == []
    recorded = invoke("status", "last", "--json").envelope()["data"]["job"]
    assert recorded["status"] == "failed" and recorded["error"]["code"] == "out_of_memory"


def test_node_exception_names_the_node(fake: FakeComfy) -> None:
    """A runtime error names the failing node's title and the exception."""
    fake.fail_next("RuntimeError", "Padding size should be less than input dimension", node_id="2")
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "node_exception"
    assert "node 2" in error["message"] and "RuntimeError" in error["message"]
    assert "Padding size" in result.stderr


def test_500_text_plain_is_one_clear_line(fake: FakeComfy, isolation: Isolation) -> None:
    """A 500 text/plain answer to the submission: exit 4, one red line, no traceback."""
    fake.answer_500_text("/prompt")
    result = invoke("generate", TEMPLATE)
    assert result.exit_code == 4, result
    assert "HTTP 500" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1
    assert files_under(isolation.output_dir) == []


def test_progress_events_are_ndjson_then_envelope(fake: FakeComfy) -> None:
    """--events prints one JSON object per line, the envelope last."""
    result = invoke("generate", TEMPLATE, "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["schema"] == "comfycine/1" and lines[-1]["ok"]
    assert all(line["schema"] == "comfycine/event/1" for line in lines[:-1])
    assert lines[-2]["progress"]["phase"] == "done"


def test_socket_opened_before_submission(fake: FakeComfy) -> None:
    """The WebSocket with our client id is open before POST /prompt, and previews negotiated."""
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    order = [(m, p) for m, p in fake.requests if p in {"/ws", "/prompt"}]
    assert order[0] == ("GET", "/ws") and ("POST", "/prompt") in order
    assert any(flags.get("supports_preview_metadata") for flags in fake.ws_feature_flags.values())
    prompt = fake.prompts_received[-1]
    assert prompt["client_id"] in fake.ws_feature_flags and prompt["prompt_id"]


def test_secrets_never_leak(
    fake: FakeComfy,
    isolation: Isolation,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The cloud key, bot token, a target's token (from .env) and a URL password appear in
    no output, ledger, output file or log, even in --debug tracebacks and refusals."""
    key, token = "comfyui-SENTINEL-key-31337", "123456:SENTINEL-token-abcdefghij"
    target_token, url_password = "tok-SENTINEL-target-2718", "pw-SENTINEL-url-3141"
    secrets = (key, token, target_token, url_password)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", key)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    # The fake wants the token (kept in a .env outside the scanned tree); "guarded" sends
    # the URL password instead (refused, exit 7), "gone" sends it nowhere (exit 3).
    fake.bearer_token = target_token
    dotenv = tmp_path_factory.mktemp("config") / ".env"
    dotenv.write_text(f"COMFYCINE_TARGET_LOCAL_TOKEN={target_token}\n")
    monkeypatch.setenv("COMFYCINE_ENV_FILE", str(dotenv))
    guarded = fake.url.replace("http://", f"http://film:{url_password}@")
    gone = f"http://film:{url_password}@127.0.0.1:{closed_port()}"
    monkeypatch.setenv("COMFYCINE_TARGETS", f"guarded={guarded},gone={gone}")
    fake.fail_next("RuntimeError", f"boom with {key} and {target_token} inside")
    runs = [
        invoke("generate", TEMPLATE, "--json", "--debug"),
        invoke("generate", TEMPLATE, "--events"),
        invoke("status", "--json"),
        invoke("generate", "nosuch", "--debug"),
        invoke("generate", TEMPLATE, "--target", "guarded", "--json", "--debug"),
        invoke("generate", TEMPLATE, "--target", "gone", "--debug"),
        invoke("targets", "--json", "--debug"),
        invoke("targets"),
        invoke("doctor", "--debug"),
        invoke("debug", "last", "--debug"),
    ]
    assert runs[0].exit_code == 5 and runs[1].exit_code == 0
    assert runs[4].exit_code == 7 and runs[5].exit_code == 3, runs[4:6]
    assert "Traceback" in runs[5].stderr
    for result in runs:
        for secret in secrets:
            assert secret not in result.stdout and secret not in result.stderr, result
    for path in files_under(isolation.root):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path


def test_queue_position_is_reported_while_waiting(fake: FakeComfy) -> None:
    """Behind other jobs, progress shows the queue position, then the job runs."""
    fake.pause()
    for color in ("1", "2"):
        invoke("generate", TEMPLATE, "--set", f"color={color}", "--detach", "--json")
    timer = once_submitted(fake, fake.resume, delay=0.3, count=3)
    result = invoke("generate", TEMPLATE, "--set", "color=3", "--events")
    join(timer)
    assert result.exit_code == 0, result
    positions = [
        json.loads(line)["progress"].get("queue_position")
        for line in result.stdout.splitlines()[:-1]
    ]
    assert 2 in positions, positions
    assert json.loads(result.stdout.splitlines()[-2])["progress"]["phase"] == "done"

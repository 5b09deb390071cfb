"""generate / wait through a loopback proxy that fakes a blinking link (fake ComfyUI)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke, outputs_under
from tests.fakecomfy.server import FakeComfy
from tests.faultproxy import FaultProxy

TEMPLATE = "testimage"


@pytest.fixture
def link(
    isolation: Isolation,
    fake_comfy: FakeComfy,
    fault_proxy: Callable[[str], FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> FaultProxy:
    """The CLI pointed at the fake server through the fault proxy."""
    proxy = fault_proxy(fake_comfy.url)
    monkeypatch.setenv("COMFYUI_URL", proxy.url)
    return proxy


def after(
    condition: Callable[[], bool], action: Callable[[], object], delay: float = 0.0
) -> threading.Thread:
    """Run ``action`` on a thread once ``condition`` holds (bounded at 60 s)."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def submitted(fake: FakeComfy) -> Callable[[], bool]:
    """True once the fake has received a prompt."""
    return lambda: len(fake.prompts_received) >= 1


def outage(proxy: FaultProxy, seconds: float, kind: str = "refuse") -> None:
    """Take the link down for ``seconds``, then restore it with the old connections reset."""
    if kind == "refuse":
        proxy.refuse()
    else:
        proxy.blackhole(connect="timeout")
    time.sleep(seconds)
    proxy.restore(cut_existing=True)


def test_an_outage_mid_job_is_waited_out(link: FaultProxy, fake_comfy: FakeComfy) -> None:
    """Connections refused for 2.5 s while the job runs: collected, a line said what happened."""
    fake_comfy.node_seconds = 0.5
    fault = after(submitted(fake_comfy), lambda: outage(link, 2.5), delay=0.1)
    result = invoke("generate", TEMPLATE, "--json")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()
    assert "out of reach" in result.stderr and "answers again" in result.stderr, result
    assert len(fake_comfy.prompts_received) == 1


def test_a_silent_outage_mid_job_is_waited_out(link: FaultProxy, fake_comfy: FakeComfy) -> None:
    """Packets dropped for 7 s (connects time out): waited out, the job collected once."""
    fake_comfy.node_seconds = 0.5
    fault = after(submitted(fake_comfy), lambda: outage(link, 7, "blackhole"), delay=0.1)
    result = invoke("generate", TEMPLATE)
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    assert "out of reach (timeout)" in result.stderr, result
    assert len(fake_comfy.prompts_received) == 1


def test_an_outage_past_the_window_names_the_job_and_never_proposes_the_cloud(
    link: FaultProxy, fake_comfy: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Window spent: exit 3 naming the job, `comfycine wait JOB`; wait collects it later."""
    monkeypatch.setenv("COMFYCINE_OUTAGE_WINDOW", "1.5")
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", "sk-never-used-here")
    fake_comfy.node_seconds = 0.4
    fault = after(submitted(fake_comfy), lambda: link.blackhole(connect="timeout"), delay=0.05)
    result = invoke("generate", TEMPLATE, "--json")
    fault.join(timeout=30)
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    job = error["details"]["job"]
    assert job[:8] in error["message"] and f"comfycine wait {job[:8]}" in error["hint"]
    assert "cloud" not in error["hint"].lower() and "fallback" not in error["details"]
    assert all("cloud" not in fix["text"].lower() for fix in error["details"]["diagnosis"]["fixes"])
    link.restore(cut_existing=True)
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert len(outputs_under(isolation.output_dir)) == 1
    assert len(fake_comfy.prompts_received) == 1


def test_a_refused_websocket_falls_back_to_polling(link: FaultProxy, fake_comfy: FakeComfy) -> None:
    """A proxy that passes HTTP but refuses the upgrade: the job is polled to its end."""
    link.refuse_upgrades()
    fake_comfy.node_seconds = 0.3
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["status"] == "succeeded"
    assert result.stderr.count("No live progress") == 1, result
    assert link.count("GET", "/history/") >= 1


def test_a_websocket_refused_mid_job_falls_back_to_polling(
    link: FaultProxy, fake_comfy: FakeComfy
) -> None:
    """The socket is cut and refused while the job runs: polling collects the result."""
    fake_comfy.node_seconds = 0.6
    fault = after(submitted(fake_comfy), lambda: link.refuse_upgrades(cut_open=True), delay=0.1)
    result = invoke("generate", TEMPLATE, "--json")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()


def test_forced_ws_with_a_refused_socket_is_exit_3_before_submitting(
    link: FaultProxy, fake_comfy: FakeComfy
) -> None:
    """--transport ws and a refused socket: exit 3 websocket_refused, nothing submitted."""
    link.refuse_upgrades()
    result = invoke("generate", TEMPLATE, "--transport", "ws", "--json")
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["code"] == "websocket_refused" and "--transport poll" in result.stdout
    assert fake_comfy.prompts_received == []


def test_wait_through_a_refused_socket_collects_from_history(
    link: FaultProxy, fake_comfy: FakeComfy
) -> None:
    """wait on a job while the socket is refused: /history serves the result."""
    fake_comfy.node_seconds = 0.3
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    link.refuse_upgrades()
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert Path(waited.envelope()["data"]["outputs"][0]).is_file()


def test_cut_connections_mid_job_lose_nothing(link: FaultProxy, fake_comfy: FakeComfy) -> None:
    """Every connection reset while the job runs: reconnected, collected, one job."""
    fake_comfy.node_seconds = 0.5
    fault = after(submitted(fake_comfy), link.cut, delay=0.1)
    result = invoke("generate", TEMPLATE, "--json")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    assert len(fake_comfy.prompts_received) == 1


def test_a_socket_that_keeps_dropping_is_given_up_for_polling(
    link: FaultProxy, fake_comfy: FakeComfy
) -> None:
    """Three drops in a row: polling takes over, said once; the job still ends."""
    fake_comfy.node_seconds = 1.5

    def keep_cutting() -> None:
        for _ in range(4):
            link.cut()
            time.sleep(0.25)

    fault = after(submitted(fake_comfy), keep_cutting, delay=0.05)
    result = invoke("generate", TEMPLATE, "--events")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    notices = [
        json.loads(line)["message"]
        for line in result.stdout.splitlines()
        if json.loads(line).get("event") == "notice"
    ]
    assert any("keeps dropping" in text for text in notices), notices


def test_a_lost_post_answer_never_queues_the_job_twice(
    link: FaultProxy, fake_comfy: FakeComfy
) -> None:
    """The link resets as the POST goes out: the job is found or sent again, once."""
    fake_comfy.node_seconds = 0.2
    fault = after(lambda: link.count("POST", "/prompt") >= 1, link.cut)
    result = invoke("generate", TEMPLATE, "--json")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    fake_comfy.wait_until_idle()
    assert len(fake_comfy.history) == 1


def test_polling_goes_back_to_the_socket_when_it_returns(
    link: FaultProxy, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket refused at first, then passed again: live progress comes back, said once."""
    monkeypatch.setattr("comfycine.transport.updates.SOCKET_RETRY_AFTER", 0.3)
    link.refuse_upgrades()
    fake_comfy.node_seconds = 1.5
    fault = after(submitted(fake_comfy), link.restore, delay=0.2)
    result = invoke("generate", TEMPLATE, "--events")
    fault.join(timeout=30)
    assert result.exit_code == 0, result
    notices = [
        json.loads(line)["message"]
        for line in result.stdout.splitlines()
        if json.loads(line).get("event") == "notice"
    ]
    assert any("No live progress" in text for text in notices), notices
    assert any("WebSocket is back" in text for text in notices), notices
    transports = [
        json.loads(line)["progress"].get("transport")
        for line in result.stdout.splitlines()
        if "progress" in json.loads(line)
    ]
    assert "poll" in transports and transports[-1] == "ws"

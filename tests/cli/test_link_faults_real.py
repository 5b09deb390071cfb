"""generate / wait on the real CPU ComfyUI behind a loopback proxy that fakes a blinking link."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from comfycine.localserver import build_server, start_server, terminate_server
from tests.cli.test_generate_real import slow_graph, write_template
from tests.cli.test_link_faults_fake import after
from tests.cli_support import Isolation, invoke, outputs_under
from tests.faultproxy import FaultProxy
from tests.real_server import RealComfyUI, real_cache_dir

pytestmark = pytest.mark.real


@pytest.fixture
def link(
    real: RealComfyUI, fault_proxy: Callable[[str], FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> FaultProxy:
    """The CLI pointed at the real server through the fault proxy."""
    proxy = fault_proxy(real.url)
    monkeypatch.setenv("COMFYUI_URL", proxy.url)
    return proxy


def posted(proxy: FaultProxy) -> Callable[[], bool]:
    """True once a POST /prompt went through the proxy."""
    return lambda: proxy.count("POST", "/prompt") >= 1


def server_history(url: str, job: str) -> dict[str, object]:
    """The real server's own history entry for ``job`` (empty when it has none)."""
    return dict(httpx.get(f"{url}/history/{job}", timeout=10).json())


def test_through_the_proxy_a_job_runs_as_usual(link: FaultProxy, isolation: Isolation) -> None:
    """pass: the proxy forwards HTTP and the socket; the job ends with its file."""
    result = invoke("generate", "testimage", "--json")
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()
    assert link.count("GET", "/ws") >= 1


def test_blackhole_both_ways_then_recover_collects_the_job_once(
    link: FaultProxy, real: RealComfyUI, isolation: Isolation
) -> None:
    """Packets dropped both ways for 7 s mid-job: waited out, one job, one file."""
    write_template(isolation.workflow_dir, "slow", slow_graph(16))

    def outage() -> None:
        link.blackhole(connect="timeout")
        time.sleep(7)
        link.restore(cut_existing=True)

    fault = after(posted(link), outage, delay=0.2)
    result = invoke("generate", "slow")
    fault.join(timeout=60)
    assert result.exit_code == 0, result
    # Held requests on open connections fail only when the link returns (reset), and are
    # sent again at once: a 7 s blackhole needs no outage line (the fake tests have one).
    assert link.count("POST", "/prompt") == 1
    assert link.count("GET", "/history/") >= 1
    assert len(outputs_under(isolation.output_dir)) == 2  # the chain renders a batch of two


def test_cut_mid_job_reconnects_and_collects(link: FaultProxy, isolation: Isolation) -> None:
    """Every connection reset mid-job: reconnected, reconciled, collected once."""
    write_template(isolation.workflow_dir, "slow", slow_graph(10))
    fault = after(posted(link), link.cut, delay=0.3)
    result = invoke("generate", "slow", "--json")
    fault.join(timeout=60)
    assert result.exit_code == 0, result
    assert link.count("POST", "/prompt") == 1
    assert len(outputs_under(isolation.output_dir)) == 2  # the chain renders a batch of two


def test_refused_upgrades_only_are_followed_by_polling(
    link: FaultProxy, isolation: Isolation
) -> None:
    """A proxy passing HTTP but not WebSocket: the real job ends by polling, said once."""
    link.refuse_upgrades()
    result = invoke("generate", "testpattern", "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["status"] == "succeeded"
    assert result.stderr.count("No live progress") == 1, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()


def test_a_slow_link_still_delivers(link: FaultProxy, isolation: Isolation) -> None:
    """slow: every chunk delayed; the job and its download still complete."""
    link.slow(delay_ms=20)
    result = invoke("generate", "testimage", "--json")
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()


def test_outage_past_the_window_is_exit_3_and_wait_collects_later(
    link: FaultProxy,
    real: RealComfyUI,
    isolation: Isolation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window spent: exit 3 naming the job; once back, wait downloads it; one render."""
    monkeypatch.setenv("COMFYCINE_OUTAGE_WINDOW", "2")
    write_template(isolation.workflow_dir, "slow", slow_graph(8))
    fault = after(posted(link), lambda: link.blackhole(connect="timeout"), delay=0.1)
    result = invoke("generate", "slow", "--json")
    fault.join(timeout=60)
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    job = error["details"]["job"]
    assert f"comfycine wait {job[:8]}" in error["hint"] and "cloud" not in error["hint"]
    link.restore(cut_existing=True)
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert server_history(real.url, job)
    assert link.count("POST", "/prompt") == 1


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A second real ComfyUI of this test's own, so it can be killed and restarted."""
    install = build_server(real_cache_dir())
    base = tmp_path / "own-base"
    base.mkdir()
    server = start_server(install, base_dir=base, record_state=False)
    state: dict[str, object] = {"install": install, "server": server, "base": base}
    try:
        yield state
    finally:
        terminate_server(state["server"])  # type: ignore[arg-type]


def test_a_server_killed_and_restarted_mid_job_reports_the_job_lost(
    own_server: dict[str, object],
    isolation: Isolation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ComfyUI restarts mid-job (its queue is not kept): exit 5 job_lost, naming the job."""
    server = own_server["server"]
    url = server.url  # type: ignore[attr-defined]
    monkeypatch.setenv("COMFYUI_URL", url)
    write_template(isolation.workflow_dir, "slow", slow_graph(40))

    def restart() -> None:
        terminate_server(own_server["server"])  # type: ignore[arg-type]
        time.sleep(1)
        own_server["server"] = start_server(
            own_server["install"],  # type: ignore[arg-type]
            port=server.port,  # type: ignore[attr-defined]
            base_dir=own_server["base"],  # type: ignore[arg-type]
            record_state=False,
        )

    def running() -> bool:
        try:
            queue = httpx.get(f"{url}/queue", timeout=2).json()
        except httpx.HTTPError:
            return False
        return bool(queue.get("queue_running"))

    fault = after(running, restart, delay=0.3)
    result = invoke("generate", "slow", "--json")
    fault.join(timeout=120)
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "job_lost" and error["details"]["job"][:8] in error["message"]
    assert outputs_under(isolation.output_dir) == []

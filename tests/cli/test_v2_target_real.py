"""A Comfy API v2 server as a named target: the real comfy-api-proxy in front of the real
ComfyUI, driven through the CLI exactly like a ComfyUI target (recognised from its URL)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from comfycine.transport.v2 import V2Client
from comfycine.transport.v2answers import IdempotencyKeyReused
from tests.cli.test_generate_real import slow_graph, tiny_sd_graph, write_template
from tests.cli_support import Isolation, invoke
from tests.ports import closed_port
from tests.real_proxy import RealV2Proxy, image_graph, running_proxy, solid_png
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def box(
    real: RealComfyUI, real_v2_proxy: RealV2Proxy, monkeypatch: pytest.MonkeyPatch
) -> RealV2Proxy:
    """COMFYCINE_TARGETS=box=<the proxy's URL>: nothing says it is v2 but the server."""
    monkeypatch.setenv("COMFYCINE_TARGETS", f"box={real_v2_proxy.url}")
    return real_v2_proxy


def proxy_jobs(proxy: RealV2Proxy) -> list[dict[str, object]]:
    """Every job the proxy knows (its own list route)."""
    with proxy.client() as http:
        return list(http.get("/api/v2/jobs", params={"limit": 100}).json()["jobs"])


def test_generate_on_a_v2_target_downloads_the_output(
    box: RealV2Proxy, isolation: Isolation
) -> None:
    """generate --target box: runs over v2, the PNG lands, the skipped validation is said."""
    result = invoke("generate", "testimage", "--target", "box", "--set", "width=48", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["status"] == "succeeded"
    assert Path(data["outputs"][0]).read_bytes().startswith(PNG_MAGIC)
    assert data["job"] in {job["id"] for job in proxy_jobs(box)}
    assert "Validation skipped" in result.stderr and "no node catalog" in result.stderr


def test_sampling_progress_comes_over_the_event_stream(
    box: RealV2Proxy, real: RealComfyUI, isolation: Isolation
) -> None:
    """--events on a v2 target shows the sampler's steps (from the job's SSE stream)."""
    write_template(isolation.workflow_dir, "tinysd", tiny_sd_graph(real.checkpoint))
    # 30 steps: the stream throttles progress (~2/s); a sampler must last to be seen.
    result = invoke(
        "generate", "tinysd", "--target", "box", "-p", "a boat", "--steps", "30", "--events"
    )
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    steps = {p["progress"].get("steps") for p in lines[:-1] if "progress" in p}
    assert 30 in steps and lines[-1]["ok"]
    assert any(p.get("progress", {}).get("transport") == "sse" for p in lines[:-1])


def test_polling_only_also_finishes(box: RealV2Proxy, isolation: Isolation) -> None:
    """--transport poll on a v2 target: GET /api/v2/jobs/{id} alone brings the job home."""
    result = invoke("generate", "testimage", "--target", "box", "--transport", "poll", "--json")
    assert result.exit_code == 0, result
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()


def test_an_input_is_uploaded_once(
    box: RealV2Proxy, real: RealComfyUI, isolation: Isolation
) -> None:
    """A plate used twice reaches the server once: the second job finds it by its hash."""
    first = invoke("generate", "testimage", "--set", "color=1234", "--json")
    plate = Path(first.envelope()["data"]["outputs"][0])
    runs = [
        invoke("generate", "testblur", "--target", "box", "--image", str(plate), "--json")
        for _ in range(2)
    ]
    assert all(r.exit_code == 0 for r in runs), runs
    stored = list((real.base_dir / "input").glob(f"{plate.stem}*"))
    assert len(stored) == 1, stored


def test_detach_then_wait_and_status(box: RealV2Proxy, isolation: Isolation) -> None:
    """--detach answers the server's job id; status and wait reach it there later."""
    detached = invoke("generate", "testimage", "--target", "box", "--detach", "--json")
    assert detached.exit_code == 0, detached
    job = detached.envelope()["data"]["job"]
    status = invoke("status", job[:8], "--json")
    assert status.exit_code == 0, status
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert Path(waited.envelope()["data"]["outputs"][0]).is_file()


def test_a_node_failure_is_exit_5_with_the_servers_reason(
    box: RealV2Proxy, isolation: Isolation
) -> None:
    """A job that fails on the v2 server: exit 5, job id, the node's message."""
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "no-such-file.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    write_template(isolation.workflow_dir, "broken", graph)
    result = invoke("generate", "broken", "--target", "box", "--json")
    error = result.envelope()["error"]
    assert result.exit_code in {4, 5}, result
    assert "no-such-file" in json.dumps(error)
    assert "Look at the ComfyUI console on the PC" not in json.dumps(error)


def test_cancel_on_this_comfyui_is_only_requested(box: RealV2Proxy, isolation: Isolation) -> None:
    """comfy-api-proxy's cancel does not stop a job on ComfyUI 0.3.75: said, never hidden."""
    write_template(isolation.workflow_dir, "slow", slow_graph(25))
    job = invoke("generate", "slow", "--target", "box", "--detach", "--json").envelope()["data"][
        "job"
    ]
    result = invoke("cancel", job, "--json")
    assert result.exit_code == 0, result
    action = result.envelope()["data"]["action"]
    # The job runs to its end: either still running after the wait, or already done.
    assert action in {"cancel_requested", "finished_anyway"}, result
    status = invoke("status", job, "--json").envelope()["data"]["job"]
    assert status["status"] not in {"interrupted", "cancelled"}
    assert invoke("wait", job, "--json").exit_code == 0


def test_targets_says_what_the_url_is_and_which_api(box: RealV2Proxy, isolation: Isolation) -> None:
    """targets recognises the proxy from its URL alone and names the API of each part."""
    result = invoke("targets", "--json")
    rows = {row["name"]: row for row in result.envelope()["data"]["targets"]}
    assert rows["box"]["kind"] == "v2" and rows["box"]["ok"], rows["box"]
    assert "v2" in rows["box"]["api"]["jobs"] and "no node catalog" in rows["box"]["api"]["nodes"]
    assert rows["local"]["kind"] == "comfyui"


def test_a_token_target_needs_its_token(
    real: RealComfyUI,
    real_v2_proxy_token: RealV2Proxy,
    isolation: Isolation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A v2 server started with --token: the token from .env works; a wrong one is exit 7."""
    monkeypatch.setenv("COMFYCINE_TARGETS", f"guarded={real_v2_proxy_token.url}")
    (isolation.root / ".env").write_text(
        f"COMFYCINE_TARGET_GUARDED_TOKEN={real_v2_proxy_token.token}\n"
    )
    good = invoke("generate", "testimage", "--target", "guarded", "--json")
    assert good.exit_code == 0, good
    assert Path(good.envelope()["data"]["outputs"][0]).is_file()
    (isolation.root / ".env").write_text("COMFYCINE_TARGET_GUARDED_TOKEN=wrong-token-0000\n")
    bad = invoke("generate", "testimage", "--target", "guarded", "--json")
    assert bad.exit_code == 7, bad
    error = bad.envelope()["error"]
    assert error["code"] == "target_auth" and "COMFYCINE_TARGET_GUARDED_TOKEN" in error["hint"]
    assert "wrong-token-0000" not in bad.stdout + bad.stderr
    assert real_v2_proxy_token.token not in good.stdout + good.stderr


async def test_a_resent_submission_never_makes_a_second_job(real_v2_proxy: RealV2Proxy) -> None:
    """Same Idempotency-Key twice: the proxy refuses the copy; the job is found by its graph."""
    graph = image_graph("idem", size=24)
    key = f"comfycine-test-{time.time_ns()}"
    async with V2Client(real_v2_proxy.url) as client:
        first = await client.submit(graph, prompt_id=key, client_id="c")
        with pytest.raises(IdempotencyKeyReused):
            await client.submit(graph, prompt_id=key, client_id="c")
        found = await client.find_submission(graph, since=time.time() - 60)
    assert found == first["prompt_id"]
    with httpx.Client(base_url=real_v2_proxy.url, timeout=10) as http:
        jobs = http.get("/api/v2/jobs", params={"limit": 100}).json()["jobs"]
    assert sum(1 for job in jobs if job["id"] == first["prompt_id"]) == 1


def test_doctor_on_a_v2_target_checks_what_v2_has(box: RealV2Proxy, isolation: Isolation) -> None:
    """doctor --target box --deep: http and a real job pass; socket, GPU, catalog skipped why."""
    result = invoke("doctor", "--target", "box", "--deep", "--json")
    checks = {c["name"]: c for c in result.envelope()["data"]["checks"]}
    assert checks["http"]["status"] == "ok" and "v2" in checks["http"]["value"], checks["http"]
    assert checks["job"]["status"] == "ok", checks["job"]
    for name in ("websocket", "gpu", "templates"):
        assert checks[name]["status"] == "skip" and "v2" in checks[name]["value"], checks[name]


def test_a_v2_server_whose_comfyui_is_down_is_exit_3(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy answers but its ComfyUI is down: exit 3 naming that, nothing left queued."""
    with running_proxy(f"http://127.0.0.1:{closed_port()}", tmp_path / "orphan") as orphan:
        monkeypatch.setenv("COMFYCINE_TARGETS", f"orphan={orphan.url}")
        result = invoke("generate", "testimage", "--target", "orphan", "--json")
        rows = {r["name"]: r for r in invoke("targets", "--json").envelope()["data"]["targets"]}
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert "ComfyUI behind it" in error["message"] and "\n" not in error["message"]
    assert rows["orphan"]["kind"] == "v2" and not rows["orphan"]["ok"]
    assert rows["orphan"]["state"] == "upstream"


def test_a_batch_runs_on_a_v2_target(box: RealV2Proxy, isolation: Isolation) -> None:
    """batch --target box: every image rendered over v2, the skipped validation said once."""
    folder = isolation.root / "plates"
    folder.mkdir()
    for index in range(3):
        (folder / f"plate-{index}.png").write_bytes(solid_png(0x102030 + index * 4099, size=16))
    result = invoke("batch", str(folder), "testblur", "--target", "box", "--json")
    assert result.exit_code == 0, result
    items = result.envelope()["data"]["items"]
    assert [i["status"] for i in items] == ["succeeded"] * 3
    assert result.stderr.count("Validation skipped") <= 1

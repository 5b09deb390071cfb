"""generate on Comfy Cloud (the fake, built from its OpenAPI spec) with --target cloud / @cloud."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.cli_support import Isolation, files_under, invoke
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def cloud(
    isolation: Isolation, fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> FakeCloud:
    """An isolated CLI whose cloud target is the fake Comfy Cloud."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    return fake_cloud


def test_generate_on_cloud_downloads_without_leaking_the_key(
    cloud: FakeCloud, isolation: Isolation
) -> None:
    """--target cloud runs the template on Cloud; the output comes from the storage host."""
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["target"] == "cloud" and Path(data["outputs"][0]).read_bytes()[:4] == b"\x89PNG"
    assert cloud.storage_requests, "the output did not come through the signed URL"
    assert cloud.take_storage_violations() == []
    for path in files_under(isolation.root):
        assert cloud.api_key.encode() not in path.read_bytes(), path


def test_cloud_prefix_in_prompt_selects_cloud(cloud: FakeCloud, isolation: Isolation) -> None:
    """A prompt starting with @cloud runs on Cloud, with the prefix stripped."""
    (isolation.workflow_dir / "prompted.json").write_text(
        '{"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, '
        '"batch_size": 1, "color": 0}}, "2": {"class_type": "SaveImage", "inputs": '
        '{"images": ["1", 0], "filename_prefix": "PARAM_PROMPT"}}}'
    )
    result = invoke("generate", "prompted", "--prompt", "@cloud shot-12", "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["target"] == "cloud"
    _, body = cloud.v2_submits[-1]
    assert body["workflow"]["2"]["inputs"]["filename_prefix"] == "shot-12"


def test_cloud_out_of_credits_is_exit_7(cloud: FakeCloud) -> None:
    """402 insufficient credits: exit 7, cloud_credits, nothing downloaded."""
    cloud.v2_refuse(402, "insufficient_credits")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    assert result.envelope()["error"]["code"] == "cloud_credits"


def test_cloud_without_key_is_exit_7(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key configured: exit 7 naming COMFY_CLOUD_API_KEY, no request made."""
    monkeypatch.setenv("COMFY_CLOUD_URL", "http://127.0.0.1:9")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    assert "COMFY_CLOUD_API_KEY" in result.envelope()["error"]["hint"]


def test_unknown_named_target(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> None:
    """--target NAME must be configured in COMFYCINE_TARGETS."""
    monkeypatch.setenv("COMFYCINE_TARGETS", "studio=http://127.0.0.1:9")
    result = invoke("generate", "testimage", "--target", "mini", "--json")
    assert result.exit_code == 2 and result.envelope()["error"]["code"] == "unknown_target"
    named = invoke("generate", "testimage", "--target", "studio", "--json")
    assert named.exit_code == 3, named  # configured, but nothing listens there


def test_local_down_proposes_the_cloud_never_switches(
    cloud: FakeCloud, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PC off, no consent, no terminal: exit 3 with the exact cloud command; Cloud untouched."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    result = invoke("generate", "testimage", "--set", "color=7", "--json")
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["details"]["fallback"] == "cloud"
    assert error["details"]["command"] == (
        "comfycine generate testimage --set color=7 --target cloud"
    )
    assert cloud.v2_submits == [] and cloud.submits == []


def test_fallback_cloud_consents_in_advance(
    cloud: FakeCloud, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--fallback cloud runs on the cloud when the PC is unreachable, and says so."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    result = invoke("generate", "testimage", "--fallback", "cloud", "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["target"] == "cloud"
    assert "--fallback cloud" in result.stderr and len(cloud.v2_submits) == 1


def test_targets_lists_reachability(
    cloud: FakeCloud, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """targets probes local, cloud and named servers, telling apart ok and refused."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COMFYCINE_TARGETS", f"spare={cloud.url}")
    rows = {r["name"]: r for r in invoke("targets", "--json").envelope()["data"]["targets"]}
    assert rows["local"]["state"] == "refused" and not rows["local"]["ok"]
    assert rows["cloud"]["ok"], rows["cloud"]
    assert rows["spare"]["state"] in {"http_error", "not_comfyui", "auth"}  # cloud's API shape


def test_targets_does_not_probe_a_keyless_cloud(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the cloud row says so and no request is sent anywhere."""
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COMFY_CLOUD_URL", "http://127.0.0.1:9")
    rows = {r["name"]: r for r in invoke("targets", "--json").envelope()["data"]["targets"]}
    assert rows["cloud"]["state"] == "no_key"


@pytest.fixture
def both(
    cloud: FakeCloud, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeComfy, FakeCloud]:
    """The PC is the fake ComfyUI, the cloud the fake Comfy Cloud."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy, cloud


def test_out_of_memory_proposes_the_cloud(both: tuple[FakeComfy, FakeCloud]) -> None:
    """OOM on the PC without consent: exit 5 with the cloud command; the cloud untouched."""
    local, cloud = both
    local.oom_next()
    result = invoke("generate", "testimage", "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "out_of_memory" and error["details"]["fallback"] == "cloud"
    assert error["details"]["command"].endswith("--target cloud") and cloud.v2_submits == []


def test_on_oom_cloud_reruns_on_the_cloud(both: tuple[FakeComfy, FakeCloud]) -> None:
    """--on-oom cloud consents in advance: the job is rendered on the cloud."""
    local, cloud = both
    local.oom_next()
    result = invoke("generate", "testimage", "--on-oom", "cloud", "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["target"] == "cloud" and len(cloud.v2_submits) == 1


def test_cloud_out_of_credits_proposes_the_pc(both: tuple[FakeComfy, FakeCloud]) -> None:
    """No credits left on the cloud: exit 7 proposing the same job on the PC."""
    _, cloud = both
    cloud.v2_refuse(402, "insufficient_credits")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    details = result.envelope()["error"]["details"]
    assert details["fallback"] == "local" and details["command"].endswith("--target local")


def test_the_cloud_key_never_leaks(both: tuple[FakeComfy, FakeCloud], isolation: Isolation) -> None:
    """Every command, succeeding or failing, with --debug: the key is in no output or file."""
    _, cloud = both
    key = cloud.api_key
    runs = [
        invoke("generate", "testimage", "--target", "cloud", "--json", "--debug"),
        invoke("generate", "testimage", "--events"),
        invoke("status", "--json"),
        invoke("status", "last", "--debug"),
        invoke("wait", "last", "--json"),
        invoke("workflow", "validate", "testimage", "--target", "cloud", "--json"),
        invoke("workflow", "nodes", "image", "--target", "cloud", "--json"),
        invoke("workflow", "list", "--json"),
        invoke("targets", "--json"),
        invoke("version", "--json"),
        invoke("server", "status", "--json"),
    ]
    cloud.v2_refuse(402, "insufficient_credits", message=f"no credits left for {key}")
    runs.append(invoke("generate", "testimage", "--target", "cloud", "--json", "--debug"))
    cloud.fail_next("RuntimeError", f"upstream said key={key}")
    runs.append(invoke("generate", "testimage", "--target", "cloud", "--json", "--debug"))
    assert runs[0].exit_code == 0 and runs[-2].exit_code == 7, runs[-2]
    for result in runs:
        assert key not in result.stdout and key not in result.stderr, result
    written = files_under(isolation.root)
    assert any(p.name == "ledger.sqlite3" for p in written)
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    assert cloud.take_storage_violations() == []


def test_wait_on_cloud_polls_status_then_collects(cloud: FakeCloud) -> None:
    """A cloud job left running (timeout) is followed later: its v2 job polled, outputs fetched."""
    cloud.node_seconds = 0.4
    first = invoke("generate", "testimage", "--target", "cloud", "--timeout", "0.2", "--json")
    assert first.exit_code == 6, first
    job = first.envelope()["error"]["details"]["job"]
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert Path(waited.envelope()["data"]["outputs"][0]).is_file()
    assert any(path.startswith("/api/v2/jobs/") for _, path, _ in cloud.requests)
    assert cloud.deprecated_calls == []
    assert cloud.take_storage_violations() == []


def test_other_jobs_on_the_same_cloud_socket_are_ignored(cloud: FakeCloud) -> None:
    """Cloud sends every job of the account on each socket: only ours is followed."""
    cloud.node_seconds = 0.05
    cloud.pause()
    foreign = cloud.other_user_job()
    threading.Timer(0.3, cloud.resume).start()
    result = invoke("generate", "testimage", "--target", "cloud", "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    job = lines[-1]["data"]["job"]
    assert job != foreign and all(p["progress"]["job_id"] == job for p in lines[:-1])
    assert len(lines[-1]["data"]["outputs"]) == 1


def test_cloud_job_followed_by_polling_its_job_route(
    cloud: FakeCloud, isolation: Isolation
) -> None:
    """--transport poll on the cloud: no socket, the job route polled, the output collected."""
    result = invoke("generate", "testimage", "--target", "cloud", "--transport", "poll", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["status"] == "succeeded" and Path(data["outputs"][0]).is_file()
    paths = [path for _, path, _ in cloud.requests]
    assert not any(path.endswith("/ws") for path in paths), paths
    assert not any(path.endswith("/events") for path in paths), paths
    assert any(path.startswith("/api/v2/jobs/") for path in paths), paths
    assert cloud.take_storage_violations() == []

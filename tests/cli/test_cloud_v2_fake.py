"""Comfy Cloud over API v2 through the CLI, on the fake Cloud (its v2 routes from the
OpenAPI file): billing refusals, back-pressure, missing event streams, lost answers,
keys taken by one API and not the other, and never a doubled or doubly billed job."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from comfycine.ledger import JobRecord, Ledger
from tests.cli_support import Isolation, invoke
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy
from tests.real_proxy import solid_png

PNG = b"\x89PNG"


@pytest.fixture
def cloud(
    isolation: Isolation, fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> FakeCloud:
    """An isolated CLI whose cloud target is the fake Comfy Cloud."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    return fake_cloud


def run_on_cloud(*extra: str) -> object:
    """generate testimage on the cloud, JSON envelope."""
    return invoke("generate", "testimage", "--target", "cloud", "--json", *extra)


def test_a_cloud_job_runs_over_v2_and_never_calls_deprecated_routes(cloud: FakeCloud) -> None:
    """One v2 submission under an Idempotency-Key, the output fetched keyless, no v1 job routes."""
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert Path(data["outputs"][0]).read_bytes()[:4] == PNG
    ((key, body),) = cloud.v2_submits
    assert key and set(body) == {"workflow"}
    assert data["job"] in cloud.job_ids
    assert cloud.deprecated_calls == [] and cloud.submits == []
    paths = [path for _, path, _ in cloud.requests]
    assert "/api/interrupt" not in paths and not any(p.startswith("/ws") for p in paths)


def test_402_is_exit_7_and_nothing_runs(cloud: FakeCloud) -> None:
    """insufficient_credits: exit 7 cloud_credits, no job, the PC proposed, not its console."""
    cloud.v2_refuse(402, "insufficient_credits")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    error = result.envelope()["error"]
    assert error["code"] == "cloud_credits" and cloud.job_ids == []
    assert "console on the PC" not in json.dumps(error)


def test_queue_full_is_waited_out_then_runs_once(cloud: FakeCloud) -> None:
    """429 queue_full with Retry-After: waited, then exactly one job is made."""
    cloud.v2_refuse(429, "queue_full", times=1, retry_after="1")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert len(cloud.v2_submits) == 2 and len(cloud.job_ids) == 1


def test_queue_that_stays_full_is_exit_7_cloud_queue_full(cloud: FakeCloud) -> None:
    """A queue full past the wait budget: exit 7 cloud_queue_full naming what to do."""
    cloud.v2_refuse(429, "queue_full", times=5, retry_after="25")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    error = result.envelope()["error"]
    assert error["code"] == "cloud_queue_full" and cloud.job_ids == []


def test_rate_limited_polls_are_waited_out(cloud: FakeCloud) -> None:
    """429 rate_limited on the job route: waited out, the job still collected."""
    cloud.v2_refuse_get(429, "rate_limited", times=1, retry_after="1")
    result = invoke("generate", "testimage", "--target", "cloud", "--transport", "poll", "--json")
    assert result.exit_code == 0, result


def test_no_event_stream_means_polling_said_once(cloud: FakeCloud) -> None:
    """501 on /events: one notice that live progress is missing, the job followed by polling."""
    cloud.v2_events = "501"
    cloud.node_seconds = 0.2
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert result.stderr.count("does not serve live job events") == 1
    events = [path for _, path, _ in cloud.requests if path.endswith("/events")]
    assert len(events) == 1  # not asked again every minute


def test_a_stream_that_drops_mid_job_still_ends_well(cloud: FakeCloud) -> None:
    """An SSE stream cut before the end: the job route brings the job home."""
    cloud.v2_events = "drop"
    cloud.node_seconds = 0.2
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert len(cloud.job_ids) == 1


def test_a_lost_submission_answer_is_never_resubmitted_blindly(cloud: FakeCloud) -> None:
    """The 201 is lost: the same key is sent again, refused; exit 3 says how to find the job."""
    cloud.drop_submit_answer()
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["code"] == "submission_unknown" and error["details"]["submitted"] is True
    assert "fallback" not in error["details"]
    keys = [key for key, _ in cloud.v2_submits]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(cloud.job_ids) == 1  # one job, billed once
    assert "cloud.comfy.org" in error["hint"] and "PC" not in error["hint"]


def test_key_refused_by_v2_but_taken_by_v1_is_one_clear_line(cloud: FakeCloud) -> None:
    """v2 refuses the key v1 accepts: exit 7 saying so, with the v1 escape hatch; no job."""
    cloud.v2_key_refused = True
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 7, result
    error = result.envelope()["error"]
    assert error["code"] == "cloud_auth" and "v1 API accepts" in error["message"]
    assert "COMFYCINE_CLOUD_API=v1" in error["hint"] and cloud.job_ids == []
    assert cloud.api_key not in result.stdout + result.stderr


def test_key_refused_by_v1_still_runs_over_v2(cloud: FakeCloud) -> None:
    """v1 (the catalog) refuses the key v2 takes: validation skipped with why, the job runs."""
    cloud.v1_key_refused = True
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert "Validation skipped" in result.stderr


def test_v1_only_deployment_falls_back_without_deprecated_routes(cloud: FakeCloud) -> None:
    """v2 answers 404 everywhere: the job goes over v1, never /api/job/{id}/status or history_v2."""
    cloud.v2_enabled = False
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert len(cloud.submits) == 1 and cloud.v2_submits == []
    assert cloud.deprecated_calls == []


def test_cloud_api_v1_setting_uses_v1_only(
    cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMFYCINE_CLOUD_API=v1: no v2 request at all."""
    monkeypatch.setenv("COMFYCINE_CLOUD_API", "v1")
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert cloud.v2_submits == [] and cloud.deprecated_calls == []
    assert not any(path.startswith("/api/v2/") for _, path, _ in cloud.requests)


@pytest.mark.parametrize("shape", ["html", "v1"])
def test_a_v2_route_answering_html_or_v1_shapes_is_one_line(cloud: FakeCloud, shape: str) -> None:
    """A captive portal or a v1 body on the v2 route: exit 4, one line, no job followed."""
    cloud.v2_answers = shape
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 4, result
    error = result.envelope()["error"]
    assert error["code"] == "not_comfy_api_v2" and "\n" not in error["message"]
    assert "Traceback" not in result.stderr


def test_an_input_is_uploaded_once_across_jobs(cloud: FakeCloud, isolation: Isolation) -> None:
    """The same plate for two cloud jobs: sent once, found by its hash the second time."""
    plate = isolation.root / "plate.png"
    plate.write_bytes(solid_png(0x336699, size=16))
    for _ in range(2):
        run = invoke("generate", "testblur", "--target", "cloud", "--image", str(plate), "--json")
        assert run.exit_code == 0, run
    assert [u.file_path for u in cloud.asset_uploads] == ["plate.png"]
    assert cloud.take_storage_violations() == []


def test_cancel_stops_only_this_cloud_job(cloud: FakeCloud) -> None:
    """Per-job cancel: the other running cloud job goes on to succeed."""
    cloud.node_seconds = 1.0
    ours = invoke("generate", "testimage", "--target", "cloud", "--detach", "--json")
    other = invoke(
        "generate", "testimage", "--set", "color=9", "--target", "cloud", "--detach", "--json"
    )
    ours_id = ours.envelope()["data"]["job"]
    other_id = other.envelope()["data"]["job"]
    deadline = time.monotonic() + 10
    while cloud.v2_status(ours_id) != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    result = invoke("cancel", ours_id, "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["action"] in {"interrupted", "removed"}
    assert cloud.cancels == [ours_id]
    cloud.node_seconds = 0.01
    assert invoke("wait", other_id, "--json").exit_code == 0
    assert cloud.v2_status(ours_id) == "canceled"


def test_an_expired_job_is_reported_lost(cloud: FakeCloud) -> None:
    """A job past its retention (expired) is lost, named, exit 5."""
    cloud.node_seconds = 0.5
    job = invoke("generate", "testimage", "--target", "cloud", "--detach", "--json").envelope()[
        "data"
    ]["job"]
    cloud.expire_job(job)
    result = invoke("wait", job, "--json")
    assert result.exit_code == 5, result
    assert result.envelope()["error"]["code"] == "job_lost"


def test_fallback_from_the_pc_goes_to_v2_once(
    cloud: FakeCloud, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--on-oom cloud: the PC's OOM reruns the job on the cloud, one v2 job."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    fake_comfy.oom_next()
    result = invoke("generate", "testimage", "--on-oom", "cloud", "--json")
    assert result.exit_code == 0, result
    assert len(cloud.v2_submits) == 1 and len(cloud.job_ids) == 1


def test_live_progress_arrives_from_the_event_stream(cloud: FakeCloud) -> None:
    """--events shows the job running via the cloud's SSE stream, not the v1 socket."""
    cloud.node_seconds = 0.1
    threading.Timer(0.0, lambda: None).start()
    result = invoke("generate", "testimage", "--target", "cloud", "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    phases = {line["progress"]["phase"] for line in lines[:-1] if "progress" in line}
    assert "running" in phases
    assert any(path.endswith("/events") for _, path, _ in cloud.requests)


GRAPH = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "g"}},
}


def ghost(isolation: Isolation, cloud: FakeCloud) -> str:
    """A cloud job recorded (submitting) by a run that died before the server answered."""
    job_id = str(uuid.uuid4())
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.add(JobRecord(job_id, "c", "cloud", cloud.url, graph=GRAPH, status="submitting"))
    return job_id


def test_wait_on_a_job_that_never_reached_the_cloud_submits_it_once(
    cloud: FakeCloud, isolation: Isolation
) -> None:
    """wait on a recorded-but-unsent job: sent under its own key, one job, collected."""
    job_id = ghost(isolation, cloud)
    result = invoke("wait", job_id, "--json")
    assert result.exit_code == 0, result
    assert [key for key, _ in cloud.v2_submits] == [job_id] and len(cloud.job_ids) == 1
    assert Path(result.envelope()["data"]["outputs"][0]).is_file()


def test_wait_on_a_job_whose_answer_was_lost_never_doubles_it(
    cloud: FakeCloud, isolation: Isolation
) -> None:
    """wait on a job the cloud got but never answered: refused copy, exit 3, still one job."""
    job_id = ghost(isolation, cloud)
    headers = {**cloud.v2_headers, "Idempotency-Key": job_id}
    sent = httpx.post(f"{cloud.url}/api/v2/jobs", json={"workflow": GRAPH}, headers=headers)
    assert sent.status_code == 201
    result = invoke("wait", job_id, "--json")
    assert result.exit_code == 3, result
    assert result.envelope()["error"]["code"] == "submission_unknown"
    assert len(cloud.job_ids) == 1


def test_a_refused_event_stream_is_followed_by_polling(cloud: FakeCloud) -> None:
    """A proxy refusing the job's stream (403 page): polling, one notice, the job collected."""
    cloud.v2_events = "refused"
    cloud.node_seconds = 0.2
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert result.stderr.count("No live progress") == 1


def test_a_refused_socket_on_the_v1_fallback_is_followed_by_polling(cloud: FakeCloud) -> None:
    """v1 fallback with its WebSocket refused: the job route is polled, the job collected."""
    cloud.v2_enabled = False
    cloud.ws_refused = True
    result = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    assert "No live progress" in result.stderr and cloud.deprecated_calls == []


def test_ws_only_on_a_stream_that_is_not_served_is_exit_3_naming_the_job(cloud: FakeCloud) -> None:
    """--transport ws where the cloud serves no job events: exit 3, the job named, not rerun."""
    cloud.v2_events = "501"
    cloud.node_seconds = 0.2
    result = invoke("generate", "testimage", "--target", "cloud", "--transport", "ws", "--json")
    assert result.exit_code == 3, result
    error = result.envelope()["error"]
    assert error["details"]["job"] in cloud.job_ids and "fallback" not in error["details"]
    assert len(cloud.job_ids) == 1

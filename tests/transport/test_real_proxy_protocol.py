"""Comfy API v2 jobs as comfy-api-proxy 0.1.6 serves them over the real ComfyUI 0.3.75.

Raw httpx, no comfycine code: these pin the wire facts the v2 client is built on (submit,
poll, outputs, download, SSE, idempotency, error shapes). docs/comfy-api-proxy.md explains
each one; tests/fixtures/v2/ holds recorded examples for unit tests.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.real_proxy import (
    RealV2Proxy,
    failing_graph,
    image_graph,
    read_events,
    sampling_graph,
    slow_graph,
    wait_for_status,
)
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUT_KEYS = {
    "node_id",
    "name",
    "type",
    "content_type",
    "size_bytes",
    "id",
    "hash",
    "url",
    "url_expires_at",
    "job_id",
}


def submit(proxy: RealV2Proxy, graph: dict[str, Any], **headers: str) -> httpx.Response:
    """POST /api/v2/jobs with ``graph`` as the workflow."""
    with proxy.client() as client:
        return client.post("/api/v2/jobs", json={"workflow": graph}, headers=headers)


def run_to_end(proxy: RealV2Proxy, graph: dict[str, Any]) -> dict[str, Any]:
    """Submit ``graph`` and poll it to a settled status; the final Job."""
    answer = submit(proxy, graph)
    assert answer.status_code == 201, answer.text
    with proxy.client() as client:
        return wait_for_status(client, answer.json()["id"])


def test_health_is_a_process_probe(real_v2_proxy: RealV2Proxy) -> None:
    """GET /api/v2/health answers 200 healthy and names the ComfyUI it fronts."""
    answer = httpx.get(f"{real_v2_proxy.api}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "healthy", "upstream": real_v2_proxy.upstream}


def test_submit_answers_201_with_a_queued_job(real_v2_proxy: RealV2Proxy) -> None:
    """A valid graph is 201 with a queued Job whose links are absolute proxy URLs."""
    answer = submit(real_v2_proxy, image_graph(), **{"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    job_id = job["id"]
    assert str(uuid.UUID(job_id)) == job_id
    # Always "queued" with no position, even when ComfyUI already runs it.
    assert job["status"] == "queued" and job["queue_position"] is None
    assert job["progress"] is None and job["outputs"] == [] and job["error"] is None
    assert job["started_at"] is None and job["completed_at"] is None
    assert "metrics" not in job and job["outputs_reused"] is False
    created = datetime.fromisoformat(job["created_at"])
    assert datetime.fromisoformat(job["expires_at"]) - created == timedelta(hours=24)
    base = f"{real_v2_proxy.api}/jobs/{job_id}"
    assert job["urls"] == {"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel"}


def test_succeeded_job_lists_outputs_with_absolute_content_urls(
    real_v2_proxy: RealV2Proxy,
) -> None:
    """A finished job has one Output per file: absolute /content url, size 0, no hash."""
    job = run_to_end(real_v2_proxy, image_graph("v2out"))
    assert job["status"] == "succeeded" and job["error"] is None
    [output] = job["outputs"]
    assert set(output) == OUTPUT_KEYS
    assert output["node_id"] == "2" and output["job_id"] == job["id"]
    assert output["name"].startswith("v2out_") and output["name"].endswith(".png")
    assert output["type"] == "image" and output["content_type"] == "image/png"
    assert output["size_bytes"] == 0 and output["hash"] is None
    assert output["url"] == f"{real_v2_proxy.api}/assets/{output['id']}/content"
    assert job["progress"] is None and job["started_at"] is None


def test_output_url_downloads_the_file_with_range_support(real_v2_proxy: RealV2Proxy) -> None:
    """The output url streams the PNG (200) and honours Range (206 with Content-Range)."""
    job = run_to_end(real_v2_proxy, image_graph())
    url = job["outputs"][0]["url"]
    with real_v2_proxy.client() as client:
        whole = client.get(url)
        part = client.get(url, headers={"Range": "bytes=0-7"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/png"
    assert whole.content.startswith(PNG_MAGIC)
    assert part.status_code == 206 and part.content == PNG_MAGIC
    assert part.headers["content-range"] == f"bytes 0-7/{len(whole.content)}"


def test_video_output_is_typed_image_with_a_video_content_type(
    real_v2_proxy: RealV2Proxy,
) -> None:
    """SaveVideo's mp4 lands under ComfyUI's "images" key: type image, content_type video/mp4."""
    graph = image_graph()
    graph["1"]["inputs"]["batch_size"] = 6
    graph["2"] = {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 12.0}}
    graph["3"] = {
        "class_type": "SaveVideo",
        "inputs": {
            "video": ["2", 0],
            "filename_prefix": "v2/clip",
            "format": "auto",
            "codec": "auto",
        },
    }
    job = run_to_end(real_v2_proxy, graph)
    [output] = job["outputs"]
    assert output["type"] == "image" and output["content_type"] == "video/mp4"
    assert output["node_id"] == "3" and output["name"].endswith(".mp4")
    with real_v2_proxy.client() as client:
        video = client.get(output["url"])
    assert video.status_code == 200 and b"ftyp" in video.content[:16]


def test_links_follow_the_host_header(real_v2_proxy: RealV2Proxy) -> None:
    """Job and output links are built from the request's Host: localhost in, localhost out."""
    job = run_to_end(real_v2_proxy, image_graph())
    port = real_v2_proxy.url.rsplit(":", 1)[1]
    answer = httpx.get(f"http://localhost:{port}/api/v2/jobs/{job['id']}", timeout=10)
    assert answer.json()["urls"]["self"].startswith(f"http://localhost:{port}/api/v2/jobs/")
    assert answer.json()["outputs"][0]["url"].startswith(f"http://localhost:{port}/api/v2/")


def test_poll_progress_is_a_placeholder_while_running(real_v2_proxy: RealV2Proxy) -> None:
    """A running job's polled progress is always zeros: live numbers come only over SSE."""
    job_id = submit(real_v2_proxy, slow_graph(blurs=20)).json()["id"]
    with real_v2_proxy.client() as client:
        running = wait_for_status(client, job_id, frozenset({"running"}))
        assert running["progress"] == {"value": 0.0, "nodes_done": 0, "nodes_total": 0}
        assert running["queue_position"] is None and running["outputs"] == []
        assert wait_for_status(client, job_id)["progress"] is None


def test_event_stream_of_a_sampling_job(
    real_v2_proxy: RealV2Proxy, real_comfyui: RealComfyUI
) -> None:
    """SSE: a status, progress with steps, previews, the final status, then outputs, then EOF."""
    # 30 steps: progress is throttled (~2/s), so the sampler must run long enough to show.
    graph = sampling_graph(real_comfyui.checkpoint, steps=30)
    job_id = submit(real_v2_proxy, graph).json()["id"]
    events = read_events(real_v2_proxy, job_id)
    names = [name for name, _ in events]
    statuses = [data for name, data in events if name == "status"]
    # Usually two status events: the snapshot on connect and the terminal one. Once in a
    # clean-clone run the stream sent queued → running and then no terminal status at
    # all: the job's own answer is the authority (comfycine polls it), not the stream.
    assert statuses and statuses[0]["status"] in {"queued", "running"}
    assert {s["status"] for s in statuses} <= {"queued", "running", "succeeded"}
    with real_v2_proxy.client() as client:
        assert wait_for_status(client, job_id)["status"] == "succeeded"
    # The output event comes before or after the terminal status (a race inside the
    # proxy, about half and half here): read to EOF, never stop at "succeeded".
    assert names.count("output") == 1 and names[-1] in {"status", "output"}
    progress = [data for name, data in events if name == "progress"]
    sampler = [p for p in progress if p.get("current_node") == "5" and p.get("steps") == 30]
    assert sampler and all(0 <= p["step"] <= 30 for p in sampler)
    assert all(0.0 <= p["value"] <= 1.0 for p in progress)
    previews = [data for name, data in events if name == "preview"]
    assert previews and previews[0]["node_id"] == "5"
    assert previews[0]["content_type"] == "image/jpeg" and previews[0]["data_base64"]
    # Only output events name their job; status/progress/preview data carry no id.
    assert not [d for n, d in events if n != "output" and ("job_id" in d or "id" in d)]
    [output] = [data for name, data in events if name == "output"]
    assert output["job_id"] == job_id and output["node_id"] == "7"


def test_event_progress_counts_only_the_nodes_reached(real_v2_proxy: RealV2Proxy) -> None:
    """SSE progress: nodes_total is the nodes ComfyUI reached so far, not the graph's size."""
    graph = slow_graph(blurs=20)
    job_id = submit(real_v2_proxy, graph).json()["id"]
    events = read_events(real_v2_proxy, job_id)
    if events[0] == ("status", {"status": "running"}):
        # The snapshot on connect repeats the poll placeholder (three keys only).
        assert events[1] == ("progress", {"value": 0.0, "nodes_done": 0, "nodes_total": 0})
    live = [data for name, data in events if name == "progress" and "current_node" in data]
    assert live and live[0]["nodes_total"] < len(graph)
    assert set(live[0]) == {"value", "nodes_done", "nodes_total", "current_node", "step", "steps"}
    assert [name for name, _ in events].count("output") == 2  # batch of 2: two files


def test_event_stream_of_a_finished_job(real_v2_proxy: RealV2Proxy) -> None:
    """SSE after the end replays just the final status and the outputs, then closes."""
    job = run_to_end(real_v2_proxy, image_graph())
    events = read_events(real_v2_proxy, job["id"])
    assert [name for name, _ in events] == ["status", "output"]
    assert events[0][1] == {"status": "succeeded"}
    assert events[1][1]["id"] == job["outputs"][0]["id"]


def test_event_stream_of_a_failed_job_has_no_error(real_v2_proxy: RealV2Proxy) -> None:
    """SSE ends with a bare failed status: the error is only in GET /jobs/{id}."""
    job_id = submit(real_v2_proxy, failing_graph()).json()["id"]
    events = read_events(real_v2_proxy, job_id)
    assert events[-1] == ("status", {"status": "failed"})
    assert "output" not in [name for name, _ in events]


def test_failed_job_carries_a_node_execution_error(real_v2_proxy: RealV2Proxy) -> None:
    """A run-time failure is a 200 Job, failed, with ComfyUI's message and the node."""
    job = run_to_end(real_v2_proxy, failing_graph())
    assert job["status"] == "failed" and job["outputs"] == []
    error = job["error"]
    assert set(error) == {"code", "message", "node_id", "class_type", "traceback"}
    assert error["code"] == "node_execution_error" and error["traceback"] is None
    assert error["node_id"] == "2" and error["class_type"] == "ImageBlur"
    assert "Padding size" in error["message"]


def test_idempotency_key_reuse_is_rejected(real_v2_proxy: RealV2Proxy) -> None:
    """A second submit with the same Idempotency-Key is 422 idempotency_key_reuse, no replay."""
    key = str(uuid.uuid4())
    first = submit(real_v2_proxy, image_graph(), **{"Idempotency-Key": key})
    second = submit(real_v2_proxy, image_graph(), **{"Idempotency-Key": key})
    assert first.status_code == 201
    assert second.status_code == 422
    assert second.json()["error"]["code"] == "idempotency_key_reuse"
    assert second.json()["error"]["details"] is None


def test_rejected_submit_releases_its_idempotency_key(real_v2_proxy: RealV2Proxy) -> None:
    """After a 422 invalid_workflow the same key submits a valid graph (201)."""
    key = str(uuid.uuid4())
    bad = image_graph()
    bad["1"]["inputs"]["width"] = -5
    assert submit(real_v2_proxy, bad, **{"Idempotency-Key": key}).status_code == 422
    assert submit(real_v2_proxy, image_graph(), **{"Idempotency-Key": key}).status_code == 201


def test_invalid_workflow_carries_comfyui_node_errors(real_v2_proxy: RealV2Proxy) -> None:
    """422 invalid_workflow: details.node_errors is ComfyUI's own dict, passed through."""
    graph = image_graph()
    graph["1"]["inputs"]["width"] = -5
    del graph["2"]["inputs"]["filename_prefix"]
    answer = submit(real_v2_proxy, graph)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_workflow"
    assert error["message"] == "Prompt outputs failed validation"
    node_errors = error["details"]["node_errors"]
    assert set(node_errors) == {"1", "2"}
    assert node_errors["1"]["class_type"] == "EmptyImage"
    assert node_errors["1"]["dependent_outputs"] == ["2"]
    [width] = node_errors["1"]["errors"]
    assert width["type"] == "value_smaller_than_min" and width["details"] == "width"
    assert width["extra_info"]["received_value"] == -5
    assert node_errors["2"]["errors"][0]["type"] == "required_input_missing"


def test_unknown_class_type_has_empty_node_errors(real_v2_proxy: RealV2Proxy) -> None:
    """An unknown node is 422 invalid_workflow with ComfyUI's message and node_errors {}."""
    answer = submit(real_v2_proxy, {"1": {"class_type": "NoSuchNode", "inputs": {}}})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_workflow",
        "message": "Cannot execute because node NoSuchNode does not exist.",
        "details": {"node_errors": {}},
    }


def test_ui_format_graph_is_rejected(real_v2_proxy: RealV2Proxy) -> None:
    """A UI export (nodes + links) is 422 workflow_format_ui with details null."""
    answer = submit(real_v2_proxy, {"nodes": [], "links": [], "version": 0.4})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "workflow_format_ui"
    assert answer.json()["error"]["details"] is None


def test_extra_data_accepts_only_the_partner_key(real_v2_proxy: RealV2Proxy) -> None:
    """extra_data other than api_key_comfy_org is 400 invalid_request (not 422)."""
    body = {"workflow": image_graph(), "extra_data": {"extra_pnginfo": {}}}
    with real_v2_proxy.client() as client:
        answer = client.post("/api/v2/jobs", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


def test_non_object_body_is_a_plain_text_500(real_v2_proxy: RealV2Proxy) -> None:
    """A JSON array body crashes the handler: 500 text/plain, not the error envelope."""
    with real_v2_proxy.client() as client:
        answer = client.post("/api/v2/jobs", json=[1])
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/plain")


def test_unknown_job_and_unknown_route_are_404(real_v2_proxy: RealV2Proxy) -> None:
    """An unknown job id is a JSON not_found; a route 0.1.6 lacks (/logs) is text 404."""
    with real_v2_proxy.client() as client:
        job = client.get(f"/api/v2/jobs/{uuid.uuid4()}")
        not_uuid = client.get("/api/v2/jobs/not-a-uuid")
        done = run_to_end(real_v2_proxy, image_graph())
        logs = client.get(f"/api/v2/jobs/{done['id']}/logs")
    assert job.status_code == 404 and job.json()["error"]["code"] == "not_found"
    assert not_uuid.status_code == 404 and not_uuid.json()["error"]["code"] == "not_found"
    assert logs.status_code == 404 and logs.headers["content-type"].startswith("text/plain")

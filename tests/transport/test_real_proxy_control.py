"""Comfy API v2 assets, cancel and auth as comfy-api-proxy 0.1.6 serves them (ComfyUI 0.3.75).

Raw httpx against the real proxy; the odd parts (cancel is a no-op on this ComfyUI, the
native workaround, ``expired`` for a job ComfyUI dropped) are pinned on purpose and
explained in docs/comfy-api-proxy.md.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import blake3
import httpx
import pytest

from tests.ports import closed_port
from tests.real_proxy import (
    RealV2Proxy,
    image_graph,
    running_proxy,
    slow_graph,
    solid_png,
    wait_for_status,
)
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

ASSET_KEYS = {
    "id",
    "hash",
    "size_bytes",
    "content_type",
    "file_path",
    "created_at",
    "url",
    "url_expires_at",
    "created_new",
}


def fresh_png() -> bytes:
    """A small PNG of a random colour, so its bytes (and hash) are new to the proxy."""
    return solid_png(secrets.randbelow(1 << 24))


def blake3_ref(data: bytes) -> str:
    """The v2 hash form of ``data``: ``blake3:<hex>``."""
    return "blake3:" + blake3.blake3(data).hexdigest()


def upload(proxy: RealV2Proxy, data: bytes, file_path: str, expected: str) -> httpx.Response:
    """POST /api/v2/assets as multipart: file, file_path, expected_hash, content_type."""
    fields = {"file_path": file_path, "expected_hash": expected, "content_type": "image/png"}
    with proxy.client() as client:
        return client.post(
            "/api/v2/assets", data=fields, files={"file": ("in.png", data, "image/png")}
        )


def submit(proxy: RealV2Proxy, graph: dict[str, Any]) -> str:
    """Submit ``graph``; its job id (the submit must be a 201)."""
    with proxy.client() as client:
        answer = client.post("/api/v2/jobs", json={"workflow": graph})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_upload_then_head_by_hash(real_v2_proxy: RealV2Proxy) -> None:
    """POST /assets is 201 created_new with the blake3 hash; HEAD by-hash turns 404 → 200."""
    data = fresh_png()
    digest = blake3_ref(data)
    with real_v2_proxy.client() as client:
        assert client.head(f"/api/v2/assets/by-hash/{digest}").status_code == 404
        answer = upload(real_v2_proxy, data, "input/v2/probe.png", digest)
        assert answer.status_code == 201, answer.text
        asset = answer.json()
        assert client.head(f"/api/v2/assets/by-hash/{digest}").status_code == 200
        content = client.get(asset["url"])
    assert set(asset) == ASSET_KEYS and asset["created_new"] is True
    assert asset["hash"] == digest and asset["size_bytes"] == len(data)
    assert asset["file_path"] == "input/v2/probe.png" and str(uuid.UUID(asset["id"]))
    assert asset["url"] == f"{real_v2_proxy.api}/assets/{asset['id']}/content"
    assert content.status_code == 200 and content.content == data


def test_same_bytes_again_return_the_first_asset(real_v2_proxy: RealV2Proxy) -> None:
    """Re-uploading known bytes is 200 created_new false: same id, the first file_path kept."""
    data = fresh_png()
    first = upload(real_v2_proxy, data, "first.png", blake3_ref(data)).json()
    again = upload(real_v2_proxy, data, "second.png", blake3_ref(data))
    assert again.status_code == 200
    assert again.json()["created_new"] is False and again.json()["id"] == first["id"]
    assert again.json()["file_path"] == "first.png"


def test_upload_refusals(real_v2_proxy: RealV2Proxy) -> None:
    """A wrong expected_hash is 409 hash_mismatch; an unknown folder root is 422."""
    data = fresh_png()
    mismatch = upload(real_v2_proxy, data, "x.png", "blake3:" + "0" * 64)
    bad_root = upload(real_v2_proxy, data, "shots/x.png", blake3_ref(data))
    assert mismatch.status_code == 409 and mismatch.json()["error"]["code"] == "hash_mismatch"
    assert bad_root.status_code == 422 and bad_root.json()["error"]["code"] == "invalid_request"


def test_loadimage_runs_on_a_core_asset_reference(real_v2_proxy: RealV2Proxy) -> None:
    """A core/ASSET ref in LoadImage runs; the stored workflow shows the resolved filename."""
    data = fresh_png()
    asset = upload(real_v2_proxy, data, "input/v2/load.png", blake3_ref(data)).json()
    ref = {"id": asset["id"], "hash": asset["hash"], "file_path": asset["file_path"]}
    graph = {
        "1": {
            "class_type": "LoadImage",
            "inputs": {"image": {"__type": "core/ASSET", "info": ref}},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "v2in"}},
    }
    job_id = submit(real_v2_proxy, graph)
    with real_v2_proxy.client() as client:
        job = wait_for_status(client, job_id)
        executed = client.get(f"/api/v2/jobs/{job_id}/workflow").json()
    assert job["status"] == "succeeded" and len(job["outputs"]) == 1
    # ComfyUI may rename on a name clash ("load (1).png"): the proxy uses its answer.
    assert executed["format"] == "api"
    assert executed["workflow"]["1"]["inputs"]["image"].startswith("v2/load")


def test_unknown_asset_reference_is_missing_asset(real_v2_proxy: RealV2Proxy) -> None:
    """A core/ASSET ref nobody uploaded is 422 missing_asset listing the ids."""
    missing = str(uuid.uuid4())
    info = {"id": missing, "hash": "blake3:" + "2" * 64, "file_path": "nope.png"}
    graph = {
        "1": {
            "class_type": "LoadImage",
            "inputs": {"image": {"__type": "core/ASSET", "info": info}},
        }
    }
    with real_v2_proxy.client() as client:
        answer = client.post("/api/v2/jobs", json={"workflow": graph})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "missing_asset"
    assert answer.json()["error"]["details"] == {"missing_ids": [missing]}


def test_comfyui_lacks_the_per_job_cancel_route(real_comfyui: RealComfyUI) -> None:
    """ComfyUI 0.3.75 answers 405 to POST /api/jobs/{id}/cancel, the call the proxy makes."""
    answer = httpx.post(f"{real_comfyui.url}/api/jobs/{uuid.uuid4()}/cancel", timeout=10)
    assert answer.status_code == 405


def test_cancel_of_a_running_job_does_not_stop_it(real_v2_proxy: RealV2Proxy) -> None:
    """Cancel answers canceling, the next poll says running again and the job succeeds."""
    job_id = submit(real_v2_proxy, slow_graph())
    with real_v2_proxy.client() as client:
        wait_for_status(client, job_id, frozenset({"running"}))
        answer = client.post(f"/api/v2/jobs/{job_id}/cancel")
        after = client.get(f"/api/v2/jobs/{job_id}").json()
        final = wait_for_status(client, job_id)
    assert answer.status_code == 200 and answer.json()["status"] == "canceling"
    assert after["status"] == "running"
    assert final["status"] == "succeeded" and len(final["outputs"]) == 2


def test_cancel_of_a_queued_job_does_not_dequeue_it(real_v2_proxy: RealV2Proxy) -> None:
    """Cancel of a queued job answers it still queued; it later runs and succeeds."""
    blocker = submit(real_v2_proxy, slow_graph())
    job_id = submit(real_v2_proxy, image_graph())
    with real_v2_proxy.client() as client:
        answer = client.post(f"/api/v2/jobs/{job_id}/cancel")
        final = wait_for_status(client, job_id)
        wait_for_status(client, blocker)
    assert answer.status_code == 200
    assert answer.json()["status"] == "queued" and answer.json()["queue_position"] >= 1
    assert final["status"] == "succeeded" and len(final["outputs"]) == 1


def test_cancel_of_finished_and_unknown_jobs(real_v2_proxy: RealV2Proxy) -> None:
    """Cancel of a finished job returns it unchanged; of an unknown id, 404 not_found."""
    job_id = submit(real_v2_proxy, image_graph())
    with real_v2_proxy.client() as client:
        wait_for_status(client, job_id)
        done = client.post(f"/api/v2/jobs/{job_id}/cancel")
        unknown = client.post(f"/api/v2/jobs/{uuid.uuid4()}/cancel")
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_native_interrupt_cancels_a_v2_job(
    real_v2_proxy: RealV2Proxy, real_comfyui: RealComfyUI
) -> None:
    """The v2 job id is ComfyUI's prompt_id: native /interrupt ends it canceled, no outputs."""
    job_id = submit(real_v2_proxy, slow_graph())
    with real_v2_proxy.client() as client:
        wait_for_status(client, job_id, frozenset({"running"}))
        native = httpx.post(f"{real_comfyui.url}/interrupt", json={"prompt_id": job_id}, timeout=10)
        final = wait_for_status(client, job_id)
    assert native.status_code == 200
    assert final["status"] == "canceled" and final["outputs"] == [] and final["error"] is None


def test_job_dropped_from_comfyui_queue_reads_expired(
    real_v2_proxy: RealV2Proxy, real_comfyui: RealComfyUI
) -> None:
    """A queued job deleted through ComfyUI's /queue reads expired (proxy knows, ComfyUI not)."""
    blocker = submit(real_v2_proxy, slow_graph())
    job_id = submit(real_v2_proxy, image_graph())
    native = httpx.post(f"{real_comfyui.url}/queue", json={"delete": [job_id]}, timeout=10)
    with real_v2_proxy.client() as client:
        job = wait_for_status(client, job_id, frozenset({"expired"}), limit=10)
        wait_for_status(client, blocker)
    assert native.status_code == 200
    assert job["outputs"] == [] and job["error"] is None


def test_token_guards_everything_but_health(real_v2_proxy_token: RealV2Proxy) -> None:
    """With --token: 401 unauthorized without or with a wrong token; health stays open."""
    api = real_v2_proxy_token.api
    job_url = f"{api}/jobs/{uuid.uuid4()}"
    missing = httpx.get(job_url, timeout=10)
    wrong = httpx.get(job_url, headers={"Authorization": "Bearer wrong"}, timeout=10)
    events = httpx.get(f"{job_url}/events", timeout=10)
    health = httpx.get(f"{api}/health", timeout=10)
    right = httpx.get(job_url, headers=real_v2_proxy_token.headers(), timeout=10)
    assert missing.status_code == 401 and "www-authenticate" not in missing.headers
    assert missing.json() == {
        "error": {
            "code": "unauthorized",
            "message": "Missing or malformed Authorization header.",
            "details": None,
        }
    }
    assert wrong.status_code == 401
    assert wrong.json()["error"] == {
        "code": "unauthorized",
        "message": "Invalid token.",
        "details": None,
    }
    assert events.status_code == 401
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert right.status_code == 404 and right.json()["error"]["code"] == "not_found"


def test_token_proxy_runs_a_job(real_v2_proxy_token: RealV2Proxy) -> None:
    """With the token on every call a job runs and its output downloads."""
    job_id = submit(real_v2_proxy_token, image_graph())
    with real_v2_proxy_token.client() as client:
        job = wait_for_status(client, job_id)
        content = client.get(job["outputs"][0]["url"])
        keyless = httpx.get(job["outputs"][0]["url"], timeout=10)
    assert job["status"] == "succeeded" and content.status_code == 200
    # The output url is not signed: it needs the bearer token like any other call.
    assert keyless.status_code == 401


def test_foreign_origin_is_forbidden(real_v2_proxy: RealV2Proxy) -> None:
    """A browser Origin that is not the proxy's host is 403 forbidden_origin."""
    with real_v2_proxy.client() as client:
        answer = client.get(f"/api/v2/jobs/{uuid.uuid4()}", headers={"Origin": "http://evil.test"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden_origin"


def test_unreachable_comfyui_is_503_while_health_stays_healthy(tmp_path: Path) -> None:
    """Health says healthy with ComfyUI down; submit and poll answer 503 upstream_unreachable."""
    upstream = f"http://127.0.0.1:{closed_port()}"
    with running_proxy(upstream, tmp_path) as proxy, proxy.client() as client:
        health = client.get("/api/v2/health")
        posted = client.post("/api/v2/jobs", json={"workflow": image_graph()})
        polled = client.get(f"/api/v2/jobs/{uuid.uuid4()}")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert posted.status_code == 503 and posted.json()["error"]["code"] == "upstream_unreachable"
    assert polled.status_code == 503 and polled.json()["error"]["code"] == "upstream_unreachable"

"""CloudClient on Comfy API v2 for jobs, v1 for the rest, v1 as the fallback."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from comfycine.errors import CloudAccountError, NoCatalog
from comfycine.transport.cloud import CloudClient
from comfycine.transport.records import OutputRef
from tests.transport.test_v2 import Recorder

API = "https://cloud.test"
KEY = "comfyui-sentinel-key-5b2e8d"
JOB = "c0ffee00-0000-4000-8000-000000000002"
Handler = Callable[[httpx.Request], httpx.Response]


def cloud(rec: Recorder, api: str = "auto") -> CloudClient:
    """A CloudClient whose requests go to ``rec``."""

    async def sleep(_: float) -> None:
        return None

    return CloudClient(API, api_key=KEY, api=api, transport=httpx.MockTransport(rec), sleep=sleep)


def v2_job(status: str) -> dict[str, object]:
    """A v2 job answer."""
    return {"id": JOB, "status": status, "outputs": [], "queue_position": None}


async def test_jobs_go_over_v2_with_bearer_not_x_api_key() -> None:
    """Submission and status use /api/v2 with Authorization: Bearer, never the v1 header."""

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201 if request.method == "POST" else 200, json=v2_job("running"))

    rec = Recorder(api)
    async with cloud(rec) as client:
        answer = await client.submit({}, prompt_id="ours", client_id="c")
        sighting = await client.locate(answer["prompt_id"])
    assert rec.paths() == ["POST /api/v2/jobs", f"GET /api/v2/jobs/{JOB}"]
    assert sighting.state == "running"
    for request in rec.requests:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert "x-api-key" not in request.headers


async def test_v2_not_served_falls_back_to_v1_without_deprecated_routes() -> None:
    """A deployment without v2 (plain 404): the job goes over /api/prompt and /api/jobs."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/"):
            return httpx.Response(404, text="404: Not Found")
        if request.url.path == "/api/prompt":
            return httpx.Response(200, json={"prompt_id": "v1-job", "number": 1})
        return httpx.Response(200, json={"id": "v1-job", "status": "in_progress"})

    rec = Recorder(api)
    async with cloud(rec) as client:
        answer = await client.submit({}, prompt_id="ours", client_id="c")
        sighting = await client.locate("v1-job")
    assert answer["prompt_id"] == "v1-job" and sighting.state == "running"
    assert rec.paths() == ["POST /api/v2/jobs", "POST /api/prompt", "GET /api/jobs/v1-job"]
    assert "v1" in client.api_parts()["jobs"]


async def test_key_refused_by_v2_but_taken_by_v1_says_so() -> None:
    """v2 401 while v1's /api/user takes the key: one line that says it, nothing submitted."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/user":
            return httpx.Response(200, json={"status": "active"})
        return httpx.Response(401, json={"error": {"code": "unauthorized", "message": KEY}})

    rec = Recorder(api)
    async with cloud(rec) as client:
        with pytest.raises(CloudAccountError) as info:
            await client.submit({}, prompt_id="ours", client_id="c")
    assert info.value.code == "cloud_auth" and "v1 API accepts" in info.value.message
    assert "COMFYCINE_CLOUD_API=v1" in (info.value.hint or "")
    assert KEY not in json.dumps(info.value.to_dict())
    assert [p for p in rec.paths() if p == "POST /api/prompt"] == []


async def test_key_refused_by_v1_catalog_skips_validation() -> None:
    """v1's node catalog refusing the key (v2 may take it) skips the checks, not the job."""
    rec = Recorder(lambda r: httpx.Response(401, json={"error": {"type": "x", "message": "no"}}))
    async with cloud(rec) as client:
        with pytest.raises(NoCatalog):
            await client.object_info()


async def test_v2_cancel_is_this_job_only() -> None:
    """Cancelling a v2 job posts to its own route; /api/interrupt (every job) is never used."""
    rec = Recorder(lambda r: httpx.Response(200, json=v2_job("canceling")))
    async with cloud(rec) as client:
        await client.interrupt(JOB)
        await client.delete_pending([JOB])
    assert rec.paths() == [f"POST /api/v2/jobs/{JOB}/cancel"] * 2


async def test_v2_output_reaches_storage_with_no_key_at_all() -> None:
    """A v2 output's signed link gets neither X-API-Key nor Authorization."""
    rec = Recorder(lambda r: httpx.Response(200, content=b"MP4"))
    ref = OutputRef("9", "videos", "a.mp4", asset_id="a1", url="https://storage.test/a?sig=1")
    async with cloud(rec) as client, client.stream_output(ref) as response:
        assert await response.aread() == b"MP4"
    (request,) = rec.requests
    assert "x-api-key" not in request.headers and "authorization" not in request.headers
    assert KEY not in str(request.url)


async def test_api_parts_name_which_api_serves_what() -> None:
    """targets and doctor can say: jobs on v2, the catalog and probe on v1."""
    async with cloud(Recorder(lambda r: httpx.Response(500))) as client:
        parts = client.api_parts()
    assert "v2" in parts["jobs"] and "v1" in parts["nodes"] and "v1" in parts["probe"]


def test_unreachable_cloud_names_the_service_not_the_pc() -> None:
    """Comfy Cloud out of reach: the message names Comfy's service, never ComfyUI or the PC."""
    from comfycine.transport.failures import unreachable_error

    error = unreachable_error("https://cloud.comfy.org", "timeout")
    assert "Comfy's service" in error.message and "ComfyUI" not in error.message
    assert "PC" not in (error.hint or "") and "--listen" not in (error.hint or "")
    assert "doctor --target cloud" in (error.hint or "")
    local = unreachable_error("http://100.64.1.2:8188", "timeout")
    assert "ComfyUI" in local.message and "comfy.org" not in (local.hint or "")

"""V2Client against httpx.MockTransport: the Comfy API v2 contract (openapi-v2.yaml)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.errors import (
    CloudAccountError,
    DownloadFailed,
    NoCatalog,
    ServerError,
    TargetAuthError,
    ValidationFailed,
)
from comfycine.transport.auth import TargetAuth
from comfycine.transport.records import OutputRef
from comfycine.transport.v2 import V2Client, blake3_of
from comfycine.transport.v2answers import IdempotencyKeyReused, NotServed, asset_reference

API = "https://v2.test"
STORAGE = "storage.test"
TOKEN = "tok-sentinel-3f9a7c21"
JOB = "7f3d0000-0000-4000-8000-000000000001"
Handler = Callable[[httpx.Request], httpx.Response]


def job(status: str = "queued", **fields: Any) -> dict[str, Any]:
    """A v2 Job object as the contract shapes it."""
    return {
        "id": JOB,
        "status": status,
        "created_at": "2026-12-02T10:00:00Z",
        "queue_position": None,
        "progress": None,
        "outputs": [],
        "error": None,
        "urls": {"self": f"/api/v2/jobs/{JOB}"},
        **fields,
    }


def v2_error(status: int, code: str, message: str = "no", **headers: str) -> httpx.Response:
    """A v2 error envelope."""
    body = {"error": {"code": code, "message": message, "details": {}}}
    return httpx.Response(status, json=body, headers=headers)


class Recorder:
    """Records requests and answers them with one handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        """Method and path of every request."""
        return [f"{r.method} {r.url.path}" for r in self.requests]


def client(rec: Recorder, *, cloud: bool = False, sleeps: list[float] | None = None) -> V2Client:
    """A V2Client with a bearer token whose requests go to ``rec``."""

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return V2Client(
        API,
        auth=TargetAuth.bearer(TOKEN, "COMFYCINE_TARGET_BOX_TOKEN"),
        cloud=cloud,
        target="box",
        transport=httpx.MockTransport(rec),
        sleep=sleep,
    )


async def test_submit_sends_idempotency_key_bearer_and_workflow_only() -> None:
    """POST /api/v2/jobs: our id as Idempotency-Key, the bearer token, {workflow} only."""
    rec = Recorder(lambda r: httpx.Response(201, json=job()))
    async with client(rec) as c:
        answer = await c.submit(
            {"1": {"class_type": "X", "inputs": {}}}, prompt_id="ours", client_id="c"
        )
    request = rec.requests[0]
    assert answer["prompt_id"] == JOB
    assert request.headers["Idempotency-Key"] == "ours"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"workflow": {"1": {"class_type": "X", "inputs": {}}}}


async def test_submit_keeps_only_the_partner_key_in_extra_data() -> None:
    """extra_data is closed in v2: only api_key_comfy_org goes along."""
    rec = Recorder(lambda r: httpx.Response(201, json=job()))
    async with client(rec) as c:
        extra = {"api_key_comfy_org": "pk", "extra_pnginfo": {"x": 1}}
        await c.submit({}, prompt_id="p", client_id="c", extra_data=extra)
    assert json.loads(rec.requests[0].content)["extra_data"] == {"api_key_comfy_org": "pk"}


async def test_submit_key_reuse_raises_idempotency_key_reused() -> None:
    """422 idempotency_key_reuse: the server has the job; never a second submission."""
    rec = Recorder(lambda r: v2_error(422, "idempotency_key_reuse"))
    async with client(rec) as c:
        with pytest.raises(IdempotencyKeyReused):
            await c.submit({}, prompt_id="p", client_id="c")


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (lambda: v2_error(402, "insufficient_credits", f"key {TOKEN} is broke"), "cloud_credits"),
        (lambda: v2_error(401, "unauthorized", f"bad {TOKEN}"), "cloud_auth"),
        (lambda: v2_error(422, "workflow_format_ui"), "workflow_format_ui"),
        (lambda: v2_error(422, "missing_asset"), "missing_asset"),
    ],
)
async def test_cloud_refusals_map_to_codes_without_the_key(
    response: Callable[[], httpx.Response], code: str
) -> None:
    """v2 error codes become comfycine's codes; a key echoed in the body is redacted."""
    rec = Recorder(lambda r: response())
    async with client(rec, cloud=True) as c:
        with pytest.raises(Exception) as info:
            await c.submit({}, prompt_id="p", client_id="c")
    assert getattr(info.value, "code", None) == code
    assert TOKEN not in str(info.value) and TOKEN not in json.dumps(info.value.to_dict())  # type: ignore[attr-defined]


async def test_self_hosted_401_is_target_auth_naming_the_setting() -> None:
    """A non-cloud v2 server refusing the token: target_auth, exit 7, hint names the variable."""
    rec = Recorder(lambda r: v2_error(401, "unauthorized", "missing bearer"))
    async with client(rec) as c:
        with pytest.raises(TargetAuthError) as info:
            await c.submit({}, prompt_id="p", client_id="c")
    assert "COMFYCINE_TARGET_BOX_TOKEN" in (info.value.hint or "")
    assert int(info.value.exit_code) == 7


async def test_queue_full_waits_retry_after_then_submits() -> None:
    """429 queue_full with Retry-After is waited out, then the job goes in (one job)."""
    answers = [v2_error(429, "queue_full", **{"Retry-After": "2"}), httpx.Response(201, json=job())]
    rec = Recorder(lambda r: answers.pop(0))
    sleeps: list[float] = []
    async with client(rec, cloud=True, sleeps=sleeps) as c:
        answer = await c.submit({}, prompt_id="p", client_id="c")
    assert answer["prompt_id"] == JOB and sleeps == [2.0]


async def test_queue_full_gives_up_after_a_minute_as_cloud_queue_full() -> None:
    """A queue that stays full: waits bounded to about a minute, then exit-7 cloud_queue_full."""
    rec = Recorder(lambda r: v2_error(429, "queue_full", **{"Retry-After": "25"}))
    sleeps: list[float] = []
    async with client(rec, cloud=True, sleeps=sleeps) as c:
        with pytest.raises(CloudAccountError) as info:
            await c.submit({}, prompt_id="p", client_id="c")
    assert info.value.code == "cloud_queue_full"
    assert sum(sleeps) <= 60 and len(sleeps) == 2


async def test_rate_limited_get_is_retried() -> None:
    """429 rate_limited on GET /jobs/{id} is waited out like the SDK does."""
    answers = [
        v2_error(429, "rate_limited", **{"Retry-After": "1"}),
        httpx.Response(200, json=job("running")),
    ]
    rec = Recorder(lambda r: answers.pop(0))
    sleeps: list[float] = []
    async with client(rec, sleeps=sleeps) as c:
        sighting = await c.locate(JOB)
    assert sighting.state == "running" and sleeps == [1.0]


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (
            lambda: httpx.Response(
                200, text="<!doctype html><p>Login</p>", headers={"content-type": "text/html"}
            ),
            "HTML page",
        ),
        (lambda: httpx.Response(200, json={"prompt_id": "x", "number": 1}), "v1 answer"),
        (lambda: httpx.Response(201, json=[1, 2]), "not an object"),
    ],
)
async def test_answers_that_are_not_v2_say_so_in_one_line(
    response: Callable[[], httpx.Response], why: str
) -> None:
    """An HTML page or a v1 body where a v2 job was expected: one clear line, not a crash."""
    rec = Recorder(lambda r: response())
    async with client(rec) as c:
        with pytest.raises(ServerError) as info:
            await c.submit({}, prompt_id="p", client_id="c")
    assert info.value.code == "not_comfy_api_v2" and why in info.value.message
    assert "\n" not in info.value.message


async def test_route_not_served_is_not_a_missing_job() -> None:
    """A plain 404 page (no v2 error body) means no v2 here; a v2 not_found means no job."""
    rec = Recorder(lambda r: httpx.Response(404, text="404: Not Found"))
    async with client(rec) as c:
        with pytest.raises(NotServed):
            await c.locate(JOB)
    rec = Recorder(lambda r: v2_error(404, "not_found"))
    async with client(rec) as c:
        assert (await c.locate(JOB)).state == "absent"


@pytest.mark.parametrize(
    ("answer", "state", "position"),
    [
        (job("queued", queue_position=0), "queued", 1),
        (job("queued", queue_position=2), "queued", 3),
        (job("running"), "running", 0),
        (job("canceling"), "running", 0),
        (job("expired"), "absent", None),
        (job("succeeded"), "finished", None),
        (job("paused_for_maintenance"), "going", None),
    ],
)
async def test_locate_reads_the_jobs_own_status(
    answer: dict[str, Any], state: str, position: int | None
) -> None:
    """GET /api/v2/jobs/{id} is the authority: status, queue position, new states in flight."""
    rec = Recorder(lambda r: httpx.Response(200, json=answer))
    async with client(rec) as c:
        sighting = await c.locate(JOB)
    assert (sighting.state, sighting.position) == (state, position)


async def test_succeeded_job_outputs_keep_asset_and_resolved_link() -> None:
    """Outputs carry the asset id and the link resolved against the origin; kinds mapped."""
    outputs = [
        {
            "node_id": "9",
            "name": "a.png",
            "type": "image",
            "id": "as-1",
            "url": "/api/v2/assets/as-1/content",
        },
        {
            "node_id": "12",
            "name": "b.mp4",
            "type": "video",
            "id": "as-2",
            "url": "https://storage.test/b?sig=1",
        },
    ]
    rec = Recorder(lambda r: httpx.Response(200, json=job("succeeded", outputs=outputs)))
    async with client(rec) as c:
        history = await c.history(JOB)
    assert history is not None and history.status == "success"
    first, second = history.outputs
    assert (first.kind, first.asset_id, first.url) == (
        "images",
        "as-1",
        f"{API}/api/v2/assets/as-1/content",
    )
    assert (second.kind, second.url) == ("videos", "https://storage.test/b?sig=1")
    assert "url" not in second.to_dict() and second.to_dict()["asset_id"] == "as-2"


async def test_failed_job_error_becomes_execution_error() -> None:
    """job.error is read as ComfyUI's execution_error (OOM recognised by its text)."""
    error = {
        "code": "node_execution_error",
        "message": "CUDA out of memory",
        "node_id": "3",
        "class_type": "KSampler",
    }
    rec = Recorder(lambda r: httpx.Response(200, json=job("failed", error=error)))
    async with client(rec) as c:
        history = await c.history(JOB)
    assert history is not None and history.status == "error"
    payload = history.last_message("execution_error")
    assert payload is not None and payload["node_type"] == "KSampler"
    from comfycine.outcomes import failure_from_payload

    assert failure_from_payload(payload, {}).code == "out_of_memory"


async def test_canceled_job_reads_as_interrupted() -> None:
    """A canceled v2 job is an interrupted one."""
    rec = Recorder(lambda r: httpx.Response(200, json=job("canceled")))
    async with client(rec) as c:
        history = await c.history(JOB)
    assert history is not None and history.interrupted


async def test_invalid_workflow_422_is_validation_failed_with_problems() -> None:
    """422 invalid_workflow (contract shape) is the ValidationFailed a ComfyUI 400 gives."""
    body = {
        "error": {
            "code": "invalid_workflow",
            "message": "Node 12 (KSampler): bad",
            "details": {"node_errors": {"12": [{"field": "model", "reason": "missing_input"}]}},
        }
    }
    rec = Recorder(lambda r: httpx.Response(422, json=body))
    async with client(rec) as c:
        with pytest.raises(ValidationFailed) as info:
            await c.submit({}, prompt_id="p", client_id="c")
    problems = info.value.details["problems"]
    assert problems[0]["node"] == "12" and problems[0]["input"] == "model"


async def test_cancel_is_per_job() -> None:
    """Cancel posts to this job's own cancel route, nothing account-wide."""
    rec = Recorder(lambda r: httpx.Response(200, json=job("canceling")))
    async with client(rec) as c:
        await c.cancel(JOB, running=True)
        await c.delete_pending([JOB])
    assert rec.paths() == [f"POST /api/v2/jobs/{JOB}/cancel"] * 2


async def test_upload_asks_the_hash_first_and_sends_nothing_known(tmp_path: Path) -> None:
    """A blob the server has: HEAD by-hash then from-hash, the bytes are not sent again."""
    media = tmp_path / "plate.png"
    media.write_bytes(b"pixels" * 100)
    digest = blake3_of(media)

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, json={"id": "as-9", "hash": digest})

    rec = Recorder(api)
    async with client(rec) as c:
        answer = await c.upload_image(media)
    assert rec.paths() == [f"HEAD /api/v2/assets/by-hash/{digest}", "POST /api/v2/assets/from-hash"]
    assert answer["name"] == asset_reference("as-9", "plate.png")


async def test_upload_new_file_then_submit_uses_core_asset(tmp_path: Path) -> None:
    """An unknown blob is uploaded with its expected hash; the graph then gets core/ASSET."""
    media = tmp_path / "my plate.png"
    media.write_bytes(b"frame")
    digest = blake3_of(media)

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return v2_error(404, "not_found")
        if request.url.path == "/api/v2/assets":
            return httpx.Response(201, json={"id": "as-1", "hash": digest})
        return httpx.Response(201, json=job())

    rec = Recorder(api)
    async with client(rec) as c:
        name = (await c.upload_image(media))["name"]
        graph = {"10": {"class_type": "LoadImage", "inputs": {"image": name}}}
        await c.submit(graph, prompt_id="p", client_id="c")
    upload = rec.requests[1]
    assert b"expected_hash" in upload.content and digest.encode() in upload.content
    sent = json.loads(rec.requests[2].content)["workflow"]["10"]["inputs"]["image"]
    assert sent == {
        "__type": "core/ASSET",
        "info": {"id": "as-1", "file_path": "my plate.png", "hash": digest},
    }


async def test_signed_link_is_fetched_without_credentials() -> None:
    """An output on the storage host is fetched with no Authorization at all."""
    rec = Recorder(lambda r: httpx.Response(200, content=b"DATA"))
    ref = OutputRef("9", "images", "a.png", asset_id="as-1", url=f"https://{STORAGE}/a?sig=1")
    async with client(rec) as c, c.stream_output(ref) as response:
        body = await response.aread()
    assert body == b"DATA"
    assert rec.requests[0].url.host == STORAGE and "authorization" not in rec.requests[0].headers


async def test_content_route_redirect_drops_credentials_and_keeps_range() -> None:
    """/assets/{id}/content → 302 to storage: the token stays home, the Range goes along."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host == STORAGE:
            return httpx.Response(206, content=b"TA", headers={"Content-Range": "bytes 2-3/4"})
        return httpx.Response(302, headers={"location": f"https://{STORAGE}/blob?sig=2"})

    rec = Recorder(api)
    ref = OutputRef("9", "images", "a.png", asset_id="as-1")
    async with client(rec) as c, c.stream_output(ref, headers={"Range": "bytes=2-"}) as response:
        assert await response.aread() == b"TA"
    home, storage = rec.requests
    assert home.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in storage.headers and storage.headers["Range"] == "bytes=2-"


async def test_expired_signed_link_is_renewed_once() -> None:
    """A 403 from storage (expired signature): GET the asset for a fresh link, then fetch."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host == STORAGE:
            ok = request.url.params.get("sig") == "new"
            return httpx.Response(200, content=b"OK") if ok else httpx.Response(403)
        return httpx.Response(200, json={"id": "as-1", "url": f"https://{STORAGE}/a?sig=new"})

    rec = Recorder(api)
    ref = OutputRef("9", "images", "a.png", asset_id="as-1", url=f"https://{STORAGE}/a?sig=old")
    async with client(rec) as c, c.stream_output(ref) as response:
        assert await response.aread() == b"OK"
    assert [r.url.host for r in rec.requests] == [STORAGE, "v2.test", STORAGE]


async def test_output_without_link_or_asset_is_download_failed() -> None:
    """An output the server gave no way to fetch is a clear download failure."""
    rec = Recorder(lambda r: httpx.Response(500))
    async with client(rec) as c:
        with pytest.raises(DownloadFailed):
            async with c.stream_output(OutputRef("9", "images", "a.png")):
                pass


async def test_no_node_catalog_is_a_named_skip() -> None:
    """object_info on a v2 server: NoCatalog, which callers turn into "validation skipped"."""
    rec = Recorder(lambda r: httpx.Response(500))
    async with client(rec) as c:
        with pytest.raises(NoCatalog):
            await c.object_info()
    assert rec.requests == []


async def test_find_submission_matches_the_sent_workflow() -> None:
    """After a lost answer, a listing server's recent job with our exact graph is ours."""
    graph = {"1": {"class_type": "X", "inputs": {"seed": 5}}}
    other = {"1": {"class_type": "X", "inputs": {"seed": 6}}}

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/jobs":
            return httpx.Response(
                200, json={"jobs": [{"id": "a"}, {"id": "b"}], "truncated": False}
            )
        workflow = graph if request.url.path.endswith("/b/workflow") else other
        return httpx.Response(200, json={"workflow": workflow, "format": "api"})

    rec = Recorder(api)
    async with client(rec) as c:
        assert await c.find_submission(graph, since=0) == "b"


async def test_find_submission_on_a_server_that_cannot_list_is_none() -> None:
    """Comfy Cloud answers 501 to the list: nothing is guessed."""
    rec = Recorder(lambda r: v2_error(501, "not_implemented"))
    async with client(rec) as c:
        assert await c.find_submission({}, since=0) is None


async def test_v2_metrics_reach_the_ledgers_timing() -> None:
    """metrics.queue_ms / execution_ms of a finished job are kept as server timing."""
    from comfycine.outcomes import server_timing

    metrics = {"queue_ms": 900, "execution_ms": 4200}
    rec = Recorder(lambda r: httpx.Response(200, json=job("succeeded", metrics=metrics)))
    async with client(rec) as c:
        history = await c.history(JOB)
    assert history is not None
    assert server_timing(history) == {"server_queue_ms": 900, "server_execution_ms": 4200}


async def test_find_submission_ignores_inputs_the_server_rewrote() -> None:
    """An asset input reads as a file name in the server's copy: still our job."""
    ours = {"10": {"class_type": "LoadImage", "inputs": {"image": "asset:as-1/plate.png"}}}
    theirs = {"10": {"class_type": "LoadImage", "inputs": {"image": "v2/plate.png"}}}

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/jobs":
            return httpx.Response(200, json={"jobs": [{"id": "a"}]})
        return httpx.Response(200, json={"workflow": theirs, "format": "api"})

    async with client(Recorder(api)) as c:
        assert await c.find_submission(ours, since=0) == "a"

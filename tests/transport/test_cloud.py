"""CloudClient against one MockTransport playing both Comfy Cloud and its signed storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from comfycine.errors import (
    CloudAccountError,
    ComfycineError,
    DownloadFailed,
    ServerError,
    UsageError,
    ValidationFailed,
)
from comfycine.outcomes import failure_from_payload
from comfycine.transport import OutputRef
from comfycine.transport.cloud import (
    MAX_RETRY_WAIT,
    PLAN_REFUSALS,
    CloudClient,
    is_terminal_status,
)
from comfycine.transport.downloads import download_output

KEY = "comfyui-SENTINEL-4f0c9a7e1b2d"
API = "https://cloud.test"
STORAGE_HOST = "storage.test"
SIGNED = f"https://{STORAGE_HOST}/bucket/abc123.png?X-Goog-Signature=deadbeef&X-Goog-Expires=600"
JOB_ID = "3f1d2c4b-0000-4000-8000-00000000abcd"

Handler = Callable[[httpx.Request], httpx.Response]

# Shaped like the spec's JobDetailResponse (openapi-cloud.yaml, components/schemas).
JOB_DETAIL: dict[str, Any] = {
    "id": JOB_ID,
    "status": "completed",
    "workflow": {"prompt": {"9": {"class_type": "SaveImage", "inputs": {}}}},
    "create_time": 1763950000,
    "update_time": 1763950042,
    "outputs": {
        "9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]}
    },
    "preview_output": {"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"},
    "outputs_count": 1,
    "workflow_id": "wf-1",
    "execution_start_time": 1763950001000,
    "execution_end_time": 1763950040000,
}


class Recorder:
    """Routes requests by host and remembers every one of them."""

    def __init__(self, api: Handler, storage: Handler | None = None) -> None:
        self.api = api
        self.storage = storage or (lambda r: httpx.Response(200, content=b"PNGDATA"))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == STORAGE_HOST:
            return self.storage(request)
        return self.api(request)

    def on(self, host: str) -> list[httpx.Request]:
        """The requests sent to one host."""
        return [r for r in self.requests if r.url.host == host]


def make_client(
    recorder: Recorder, sleeps: list[float] | None = None, api: str = "v1"
) -> CloudClient:
    """A CloudClient whose requests (API and storage) go to ``recorder``.

    The v1 API by default: these tests pin the deprecated v1 path (the fallback when a
    deployment does not serve v2); the v2 path is in test_cloud_v2.py.
    """

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return CloudClient(
        API, api_key=KEY, api=api, transport=httpx.MockTransport(recorder), sleep=sleep
    )


def assert_no_key(error: ComfycineError) -> None:
    """The sentinel key appears in neither the message nor the JSON envelope."""
    assert KEY not in str(error)
    assert KEY not in json.dumps(error.to_dict(), default=str)


def refusal(status: int, kind: str | None, headers: dict[str, str] | None = None) -> Handler:
    """A handler answering every request with a Cloud error body that echoes the key."""
    error: dict[str, Any] = {"message": f"refused for key {KEY}"}
    if kind is not None:
        error["type"] = kind
    return lambda r: httpx.Response(status, json={"error": error}, headers=headers)


async def submit(client: CloudClient) -> dict[str, Any]:
    """Submit a trivial graph."""
    return await client.submit({"1": {}}, prompt_id="p-1", client_id="c-1")


async def test_submit_posts_api_prompt_with_key() -> None:
    """POST /api/prompt carries the graph and X-API-Key and returns the server's answer."""
    rec = Recorder(lambda r: httpx.Response(200, json={"prompt_id": "srv-1", "number": 3}))
    async with make_client(rec) as client:
        answer = await submit(client)
    sent = rec.requests[0]
    assert sent.url.path == "/api/prompt" and sent.method == "POST"
    assert sent.headers["x-api-key"] == KEY
    assert json.loads(sent.content)["prompt"] == {"1": {}}
    assert answer["prompt_id"] == "srv-1"


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (401, None, "cloud_auth"),
        (402, "PAYMENT_REQUIRED", "cloud_credits"),
        (402, None, "cloud_credits"),
        (429, None, "cloud_plan"),
        *[(429, kind, "cloud_plan") for kind in sorted(PLAN_REFUSALS)],
    ],
)
async def test_submit_account_refusals(status: int, kind: str | None, code: str) -> None:
    """401, 402 and 429 plan refusals become CloudAccountError (exit 7), sent once, key-free."""
    sleeps: list[float] = []
    rec = Recorder(refusal(status, kind))
    async with make_client(rec, sleeps) as client:
        with pytest.raises(CloudAccountError) as info:
            await submit(client)
    assert info.value.code == code and info.value.exit_code == 7
    assert len(rec.requests) == 1 and sleeps == []
    assert_no_key(info.value)


async def test_queue_limit_retries_after_retry_after() -> None:
    """429 QUEUE_LIMIT waits Retry-After seconds (via the injected sleep) and tries again."""
    answers = iter(
        [
            refusal(429, "QUEUE_LIMIT", {"Retry-After": "7"}),
            lambda r: httpx.Response(200, json={"prompt_id": "srv-2"}),
        ]
    )
    sleeps: list[float] = []
    rec = Recorder(lambda r: next(answers)(r))
    async with make_client(rec, sleeps) as client:
        answer = await submit(client)
    assert sleeps == [7.0] and answer["prompt_id"] == "srv-2"
    assert len(rec.requests) == 2


async def test_queue_full_gives_up_after_three_capped_waits() -> None:
    """A queue that stays full is tried 3 times, waits capped at 30 s, then cloud_queue_full."""
    sleeps: list[float] = []
    rec = Recorder(refusal(429, "FREE_TIER_UNAVAILABLE", {"Retry-After": "600"}))
    async with make_client(rec, sleeps) as client:
        with pytest.raises(CloudAccountError) as info:
            await submit(client)
    assert info.value.code == "cloud_queue_full"
    assert len(rec.requests) == 3 and sleeps == [MAX_RETRY_WAIT, MAX_RETRY_WAIT]
    assert_no_key(info.value)


async def test_submit_400_is_validation_failed() -> None:
    """A 400 with node_errors keeps the local mapping (ValidationFailed, exit 4)."""
    body = {
        "error": {
            "type": "invalid_prompt",
            "message": "Cannot execute because node X does not exist.",
        },
        "node_errors": {},
    }
    rec = Recorder(lambda r: httpx.Response(400, json=body))
    async with make_client(rec) as client:
        with pytest.raises(ValidationFailed) as info:
            await submit(client)
    assert info.value.code == "unknown_node"


async def test_any_call_maps_401_and_redacts() -> None:
    """An inherited call (queue) answering 401 raises cloud_auth without the key."""
    rec = Recorder(refusal(401, None))
    async with make_client(rec) as client:
        with pytest.raises(CloudAccountError) as info:
            await client.queue()
    assert info.value.code == "cloud_auth"
    assert rec.requests[0].url.path == "/api/queue"
    assert_no_key(info.value)


async def test_403_without_challenge_is_not_an_auth_error() -> None:
    """403 "job does not belong to user" is a server error, not a bad key."""
    rec = Recorder(lambda r: httpx.Response(403, json={"code": "forbidden", "message": "no"}))
    async with make_client(rec) as client:
        with pytest.raises(ServerError) as info:
            await client.history(JOB_ID)
    assert not isinstance(info.value, CloudAccountError)


async def test_500_body_echoing_key_is_redacted() -> None:
    """A 5xx whose body repeats the key raises ServerError with the key redacted."""
    rec = Recorder(lambda r: httpx.Response(500, json={"code": "x", "message": f"bad {KEY}"}))
    async with make_client(rec) as client:
        with pytest.raises(ServerError) as info:
            await client.history(JOB_ID)
    assert "***" in info.value.message
    assert_no_key(info.value)


@pytest.mark.parametrize(
    "status",
    ["success", "completed", "error", "non_retryable_error", "lost", "cancelled", "failed"],
)
def test_terminal_statuses(status: str) -> None:
    """Raw and friendly terminal values all end a job, whatever their case."""
    assert is_terminal_status(status) and is_terminal_status(status.upper())


@pytest.mark.parametrize(
    "status",
    [
        "submitted",
        "queued_limited",
        "allocated",
        "executing",
        "executed",
        "pending",
        "in_progress",
        "cancel_requested",
        "waiting_to_dispatch",
        "something_new",
    ],
)
def test_in_flight_statuses(status: str) -> None:
    """Every other value, known or new, means still in flight."""
    assert not is_terminal_status(status)


async def test_history_from_job_detail() -> None:
    """A completed JobDetail becomes a success HistoryEntry with outputs and timings."""
    rec = Recorder(lambda r: httpx.Response(200, json=JOB_DETAIL))
    async with make_client(rec) as client:
        history = await client.history(JOB_ID)
    assert history is not None and history.status == "success" and history.completed
    assert [o.filename for o in history.outputs] == ["ComfyUI_00001_.png"]
    assert history.outputs[0].node == "9" and history.outputs[0].type == "output"
    assert history.last_message("execution_start") == {
        "prompt_id": JOB_ID,
        "timestamp": 1763950001000,
    }
    assert not history.interrupted
    assert rec.requests[0].url.path == f"/api/jobs/{JOB_ID}"


async def test_history_of_oom_failure_is_out_of_memory() -> None:
    """A failed job's execution_error (OOMError) comes out as out_of_memory, inputs dropped."""
    job = {
        **JOB_DETAIL,
        "status": "failed",
        "outputs": {},
        "execution_error": {
            "node_id": "3",
            "node_type": "KSampler",
            "exception_message": "CUDA out of memory",
            "exception_type": "OOMError",
            "traceback": [],
            "current_inputs": {"api_key_comfy_org": KEY},
            "current_outputs": {},
        },
    }
    rec = Recorder(lambda r: httpx.Response(200, json=job))
    async with make_client(rec) as client:
        history = await client.history(JOB_ID)
    assert history is not None and history.status == "error"
    payload = history.last_message("execution_error")
    assert payload is not None and "current_inputs" not in payload
    assert KEY not in json.dumps([history.messages, history.raw])
    assert failure_from_payload(payload, {}).code == "out_of_memory"


async def test_history_of_cancelled_job_is_interrupted() -> None:
    """A cancelled job reads as interrupted."""
    rec = Recorder(lambda r: httpx.Response(200, json={**JOB_DETAIL, "status": "cancelled"}))
    async with make_client(rec) as client:
        history = await client.history(JOB_ID)
    assert history is not None and history.interrupted and history.status == "error"


async def test_history_of_running_job_is_none() -> None:
    """A job still in_progress has no history yet."""
    body = {"id": JOB_ID, "status": "in_progress", "create_time": 1, "update_time": 2}
    rec = Recorder(lambda r: httpx.Response(200, json=body))
    async with make_client(rec) as client:
        assert await client.history(JOB_ID) is None


async def test_history_never_calls_routes_marked_for_removal() -> None:
    """A 404 on /api/jobs/{id} is unknown: history_v2 and /api/job/{id}/status stay unused."""
    rec = Recorder(lambda r: httpx.Response(404, json={"code": "not_found", "message": "no"}))
    async with make_client(rec) as client:
        assert await client.history(JOB_ID) is None
        assert (await client.locate(JOB_ID)).state == "absent"
    paths = [r.url.path for r in rec.requests]
    assert paths and all(p == f"/api/jobs/{JOB_ID}" for p in paths)


async def test_history_unknown_is_none() -> None:
    """404 on the job route means unknown (None), not an error."""
    rec = Recorder(lambda r: httpx.Response(404, json={"code": "not_found", "message": "no"}))
    async with make_client(rec) as client:
        assert await client.history(JOB_ID) is None


async def test_queue_items_in_cloud_shape() -> None:
    """Queue items [job_number, prompt_id, workflow, outputs, {create_time}] give positions."""
    body = {
        "queue_running": [[1, "a", {}, ["9"], {"create_time": 1}]],
        "queue_pending": [[3, "c", {}, ["9"], {"create_time": 3}], [2, "b", {}, [], {}]],
    }
    rec = Recorder(lambda r: httpx.Response(200, json=body))
    async with make_client(rec) as client:
        queue = await client.queue()
    assert queue.running == ("a",) and queue.pending == ("b", "c")
    assert queue.position("c") == 2


async def test_interrupt_and_delete_pending_routes() -> None:
    """interrupt posts /api/interrupt; delete_pending posts {delete: ids} to /api/queue."""
    rec = Recorder(lambda r: httpx.Response(200, json={"deleted": ["b"], "cleared": False}))
    async with make_client(rec) as client:
        await client.interrupt(JOB_ID)
        await client.delete_pending(["b"])
    assert [r.url.path for r in rec.requests] == ["/api/interrupt", "/api/queue"]
    assert json.loads(rec.requests[1].content) == {"delete": ["b"]}


def image(tmp_path: Path, name: str, size: tuple[int, int], mode: str = "1") -> Path:
    """A generated image file of the given size."""
    path = tmp_path / name
    Image.new(mode, size).save(path)
    return path


async def test_upload_small_image_is_sent(tmp_path: Path) -> None:
    """A small image goes to /api/upload/image and the server's name is returned."""
    rec = Recorder(lambda r: httpx.Response(200, json={"name": "abc.png", "type": "input"}))
    async with make_client(rec) as client:
        answer = await client.upload_image(image(tmp_path, "in.png", (64, 64), "RGB"))
    assert answer["name"] == "abc.png"
    assert rec.requests[0].url.path == "/api/upload/image"


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("wide.png", (16385, 1)),
        ("tall.jpg", (2, 16385)),
        ("many.png", (8193, 8193)),  # 67,125,249 px > 64 MP
    ],
)
async def test_upload_over_pixel_limits_is_refused_locally(
    tmp_path: Path, name: str, size: tuple[int, int]
) -> None:
    """Too wide, too tall or too many pixels: cloud_upload_too_large, nothing sent."""
    mode = "L" if name.endswith(".jpg") else "1"
    rec = Recorder(lambda r: httpx.Response(200, json={"name": "x"}))
    async with make_client(rec) as client:
        with pytest.raises(UsageError) as info:
            await client.upload_image(image(tmp_path, name, size, mode))
    assert info.value.code == "cloud_upload_too_large" and info.value.exit_code == 2
    assert rec.requests == []


async def test_upload_at_pixel_limit_is_sent(tmp_path: Path) -> None:
    """Exactly 16384 px per edge on a thin image is within the limits."""
    rec = Recorder(lambda r: httpx.Response(200, json={"name": "ok.png"}))
    async with make_client(rec) as client:
        await client.upload_image(image(tmp_path, "edge.png", (16384, 4)))
    assert len(rec.requests) == 1


@pytest.mark.parametrize("name", ["big.mp4", "big.png"])
async def test_upload_over_50_mb_is_refused_locally(tmp_path: Path, name: str) -> None:
    """A file over 50 MB (sparse, video or not) is refused before any request."""
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    rec = Recorder(lambda r: httpx.Response(200, json={"name": "x"}))
    async with make_client(rec) as client:
        with pytest.raises(UsageError) as info:
            await client.upload_image(path)
    assert info.value.code == "cloud_upload_too_large" and rec.requests == []


def view_redirect(request: httpx.Request) -> httpx.Response:
    """/api/view answering 302 to signed storage, with a session cookie to not forward."""
    assert request.url.path == "/api/view"
    return httpx.Response(302, headers={"Location": SIGNED, "Set-Cookie": "session=s3cr3t"})


async def test_stream_output_fetches_storage_without_key(tmp_path: Path) -> None:
    """The 302 target is fetched with no X-API-Key, no cookie and no key in the URL."""
    rec = Recorder(view_redirect)
    ref = OutputRef(node="9", kind="images", filename="ComfyUI_00001_.png")
    async with make_client(rec) as client:
        path = await download_output(client, ref, tmp_path / "out.png")
    assert path.read_bytes() == b"PNGDATA"
    (api_request,) = rec.on("cloud.test")
    (storage,) = rec.on(STORAGE_HOST)
    assert api_request.headers["x-api-key"] == KEY
    assert str(storage.url) == SIGNED
    assert "x-api-key" not in storage.headers and "cookie" not in storage.headers
    assert KEY not in str(storage.url)
    assert all(KEY not in value for value in storage.headers.values())


async def test_stream_output_storage_error_is_download_failed(tmp_path: Path) -> None:
    """An expired signed URL (403 from storage) is a DownloadFailed naming the file."""
    rec = Recorder(view_redirect, lambda r: httpx.Response(403, text="expired"))
    ref = OutputRef(node="9", kind="images", filename="a.png")
    async with make_client(rec) as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, ref, tmp_path / "a.png")
    assert "a.png" in info.value.message
    assert not list(tmp_path.iterdir())


async def test_stream_output_200_is_streamed_directly(tmp_path: Path) -> None:
    """A 200 from /api/view (channel extraction) is the file itself, no storage hop."""
    rec = Recorder(lambda r: httpx.Response(200, content=b"RGB"))
    ref = OutputRef(node="9", kind="images", filename="a.png")
    async with make_client(rec) as client:
        path = await download_output(client, ref, tmp_path / "a.png")
    assert path.read_bytes() == b"RGB" and rec.on(STORAGE_HOST) == []


async def test_key_only_in_ws_query_not_in_repr() -> None:
    """ws_query carries the key as token; the client's repr does not show it."""
    async with make_client(Recorder(lambda r: httpx.Response(200))) as client:
        assert client.ws_query() == {"token": KEY}
        assert KEY not in repr(client)


async def test_models_from_experiment_routes() -> None:
    """Model folders and files come from /api/experiment/models in Cloud's shapes."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/experiment/models":
            return httpx.Response(200, json=[{"name": "checkpoints", "folders": ["checkpoints"]}])
        if request.url.path == "/api/experiment/models/checkpoints":
            return httpx.Response(200, json=[{"name": "sd15.safetensors", "pathIndex": 0}])
        return httpx.Response(404, json={"code": "not_found", "message": "no"})

    async with make_client(Recorder(api)) as client:
        assert await client.model_folders() == ["checkpoints"]
        assert await client.models_in("checkpoints") == ["sd15.safetensors"]
        assert await client.models_in("nope") is None


async def test_object_info_class_falls_back_to_full_listing() -> None:
    """Without /api/object_info/{class}, one class is picked from /api/object_info."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/object_info":
            return httpx.Response(200, json={"KSampler": {"input": {}}})
        return httpx.Response(404, json={"code": "not_found", "message": "no"})

    async with make_client(Recorder(api)) as client:
        assert await client.object_info("KSampler") == {"KSampler": {"input": {}}}
        assert await client.object_info("Missing") == {}


def test_empty_key_is_refused() -> None:
    """A CloudClient cannot be built without a key."""
    with pytest.raises(UsageError):
        CloudClient(API, api_key="")

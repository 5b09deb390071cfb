"""Tests of the fake Comfy Cloud itself, with httpx and websockets directly."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.fakecloud.fixtures import serve_fake_cloud
from tests.fakecloud.server import FakeCloud

# How long a "slow" node takes; every timing-sensitive test scales from this one value.
SLOW = 0.3
RECEIVE_TIMEOUT = 10.0
POLL = SLOW / 30
GRAPH: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t"}},
}
TERMINAL = {"success", "error", "cancelled", "completed", "failed"}


def api(fake: FakeCloud) -> httpx.AsyncClient:
    """An async client on the fake's API with the key header."""
    return httpx.AsyncClient(base_url=fake.url, headers=fake.headers)


async def submit(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    """POST ``/api/prompt`` with the default graph unless ``prompt`` is given."""
    return await client.post("/api/prompt", json={"prompt": GRAPH, **body})


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """Return the next JSON message."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        frame = await ws.recv()
    message: dict[str, Any] = json.loads(frame)
    return message


async def collect_until_done(ws: ClientConnection, prompt_id: str) -> list[dict[str, Any]]:
    """Messages up to and including ``executing`` null for ``prompt_id``."""
    frames = []
    async with asyncio.timeout(10 * RECEIVE_TIMEOUT):  # bounded even if frames keep coming
        while True:
            frame = await receive(ws)
            frames.append(frame)
            data = frame.get("data", {})
            if frame["type"] == "executing" and data == {"node": None, "prompt_id": prompt_id}:
                return frames


async def poll_states(
    client: httpx.AsyncClient, job_id: str, first: str | None = None
) -> list[str]:
    """Poll ``/api/job/{id}/status`` until terminal; return the distinct values in order.

    ``first`` is a status already read, counted as the first value seen.
    """
    seen: list[str] = [] if first is None else [first]
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while not seen or seen[-1] not in TERMINAL:
            response = await client.get(f"/api/job/{job_id}/status")
            assert response.status_code == 200, response.text
            status = response.json()["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            await asyncio.sleep(POLL)
    return seen


async def test_api_refuses_missing_or_wrong_key(fake_cloud: FakeCloud) -> None:
    """Without the right X-API-Key every /api route answers 401 with an error type."""
    async with httpx.AsyncClient(base_url=fake_cloud.url) as client:
        missing = await client.get("/api/user")
        wrong = await client.post("/api/prompt", json={"prompt": GRAPH}, headers={"X-API-Key": "x"})
        right = await client.get("/api/user", headers=fake_cloud.headers)
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["type"] == "UNAUTHORIZED"
    assert fake_cloud.submits == []
    assert right.json() == {"status": "active"}


async def test_system_stats_is_public(fake_cloud: FakeCloud) -> None:
    """/api/system_stats needs no key (security: [] in the spec) and names the cloud version."""
    async with httpx.AsyncClient(base_url=fake_cloud.url) as client:
        response = await client.get("/api/system_stats")
    assert response.status_code == 200
    assert "cloud_version" in response.json()["system"]


async def test_submit_keeps_client_prompt_id_and_finishes(fake_cloud: FakeCloud) -> None:
    """A prompt_id chosen by the client is used; the job ends completed with an image."""
    job_id = str(uuid.uuid4())
    async with api(fake_cloud) as client:
        response = await submit(client, prompt_id=job_id, extra_data={"api_key_comfy_org": "k"})
        assert response.json() == {"prompt_id": job_id, "number": 1, "node_errors": {}}
        assert (await poll_states(client, job_id))[-1] == "success"
        detail = (await client.get(f"/api/jobs/{job_id}")).json()
    assert detail["status"] == "completed"
    assert detail["outputs"]["2"]["images"][0]["type"] == "output"
    assert "api_key_comfy_org" not in detail["workflow"]["extra_data"]


async def test_unknown_node_class_is_refused(fake_cloud: FakeCloud) -> None:
    """A graph naming a class outside object_info answers 400 invalid_prompt."""
    async with api(fake_cloud) as client:
        response = await submit(client, prompt={"1": {"class_type": "Nope", "inputs": {}}})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_prompt"


async def test_view_redirects_to_storage_on_another_port(fake_cloud: FakeCloud) -> None:
    """/api/view answers 302 to a signed storage URL that serves the PNG without the key."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["prompt_id"]
        await poll_states(client, job_id)
        image = (await client.get(f"/api/jobs/{job_id}")).json()["outputs"]["2"]["images"][0]
        view = await client.get("/api/view", params={**image})
    location = view.headers["Location"]
    assert view.status_code == 302
    assert location.startswith(fake_cloud.storage_url + "/signed/")
    assert fake_cloud.storage_url != fake_cloud.url
    assert "X-Goog-Signature=" in location
    async with httpx.AsyncClient() as plain:
        blob = await plain.get(location)
    assert blob.status_code == 200
    assert blob.content.startswith(b"\x89PNG")
    assert len(fake_cloud.storage_requests) == 1
    assert fake_cloud.storage_violations == []


async def test_storage_records_key_in_header_or_url(fake_cloud: FakeCloud) -> None:
    """A storage request carrying the key, as header or in the URL, is a violation."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["prompt_id"]
        await poll_states(client, job_id)
        filename = (await client.get(f"/api/jobs/{job_id}")).json()["outputs"]["2"]["images"][0]
        params = {"filename": filename["filename"]}
        # Following the redirect with the API client's headers is the classic leak.
        followed = await client.get("/api/view", params=params, follow_redirects=True)
        location = (await client.get("/api/view", params=params)).headers["Location"]
    async with httpx.AsyncClient() as plain:
        await plain.get(location + f"&key={fake_cloud.api_key}")
    assert followed.status_code == 200
    violations = fake_cloud.take_storage_violations()
    assert len(violations) == 2
    assert any("header 'X-API-Key'" in item for item in violations)
    assert any("URL" in item for item in violations)
    assert fake_cloud.storage_violations == []


async def test_storage_refuses_a_tampered_signature(fake_cloud: FakeCloud) -> None:
    """A signed URL whose signature was changed answers 403 from storage."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["prompt_id"]
        await poll_states(client, job_id)
        filename = (await client.get(f"/api/jobs/{job_id}")).json()["outputs"]["2"]["images"][0]
        location = (await client.get("/api/view", params=filename)).headers["Location"]
    async with httpx.AsyncClient() as plain:
        response = await plain.get(location.replace("Signature=", "Signature=0"))
    assert response.status_code == 403


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_socket_refuses_missing_or_wrong_token(
    fake_cloud: FakeCloud, token: str | None
) -> None:
    """/ws without the right token is refused with 401 before the upgrade."""
    url = fake_cloud.ws_url("c1", token="" if token is None else token)
    if token is None:
        url = url.replace("&token=", "")
    with pytest.raises(InvalidStatus) as info:
        async with connect(url):
            pass
    assert info.value.response.status_code == 401
    assert fake_cloud.ws_client_ids == []


async def test_every_socket_sees_foreign_prompts(fake_cloud: FakeCloud) -> None:
    """clientId is ignored: both sockets get another prompt's messages before ours."""
    async with (
        connect(fake_cloud.ws_url("one")) as first,
        connect(fake_cloud.ws_url("two")) as second,
        api(fake_cloud) as client,
    ):
        hello = await receive(first)
        await receive(second)
        fake_cloud.pause()
        foreign = fake_cloud.other_user_job()
        mine = (await submit(client)).json()["prompt_id"]
        fake_cloud.resume()
        for ws in (first, second):
            frames = await collect_until_done(ws, mine)
            ids = [f["data"].get("prompt_id") for f in frames if f["type"] != "status"]
            assert foreign in ids and mine in ids
            assert ids.index(foreign) < ids.index(mine)
            kinds = [f["type"] for f in frames if f["data"].get("prompt_id") == mine]
            assert kinds[0] == "execution_start"
            assert kinds[-2:] == ["execution_success", "executing"]
            assert "executed" in kinds
    assert hello == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "one"},
    }


async def test_notification_reaches_the_socket(fake_cloud: FakeCloud) -> None:
    """notify() broadcasts a Cloud ``notification`` message with its value."""
    async with connect(fake_cloud.ws_url()) as ws:
        await receive(ws)
        fake_cloud.notify("Maintenance at noon")
        assert await receive(ws) == {
            "type": "notification",
            "data": {"value": "Maintenance at noon"},
        }


@pytest.mark.parametrize(
    ("arm", "status", "error_type"),
    [
        (FakeCloud.insufficient_credits, 402, "PAYMENT_REQUIRED"),
        (FakeCloud.subscription_required, 429, "CLOUD_SUBSCRIPTION_REQUIRED"),
    ],
)
async def test_plan_refusals(fake_cloud: FakeCloud, arm: Any, status: int, error_type: str) -> None:
    """402 and 429 plan refusals carry error.type and no Retry-After; the next submit runs."""
    arm(fake_cloud)
    async with api(fake_cloud) as client:
        refused = await submit(client)
        accepted = await submit(client)
    assert refused.status_code == status
    assert refused.json()["error"]["type"] == error_type
    assert "Retry-After" not in refused.headers
    assert accepted.status_code == 200


async def test_queue_limit_sends_retry_after_then_accepts(fake_cloud: FakeCloud) -> None:
    """QUEUE_LIMIT answers 429 with Retry-After the armed number of times, then 200."""
    fake_cloud.queue_limit(times=2)
    async with api(fake_cloud) as client:
        answers = [await submit(client) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert [a.headers.get("Retry-After") for a in answers[:2]] == ["1", "1"]
    assert answers[0].json()["error"]["type"] == "QUEUE_LIMIT"
    assert len(fake_cloud.submits) == 3


@pytest.mark.parametrize(
    ("friendly", "expected"),
    [
        (False, ["submitted", "pending_execution", "executing", "success"]),
        (True, ["pending", "in_progress", "completed"]),
    ],
)
async def test_status_cycles_through_each_vocabulary(
    fake_cloud: FakeCloud, friendly: bool, expected: list[str]
) -> None:
    """The status route walks the raw states, or the friendly ones when asked."""
    fake_cloud.friendly_status = friendly
    fake_cloud.dispatch_seconds = SLOW
    fake_cloud.node_seconds = SLOW
    fake_cloud.pause()
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["prompt_id"]
        first = (await client.get(f"/api/job/{job_id}/status")).json()
        fake_cloud.resume()
        seen = await poll_states(client, job_id, first["status"])
    assert first["id"] == job_id
    assert seen == expected
    assert fake_cloud.job_states(job_id) == [
        "submitted",
        "pending_execution",
        "executing",
        "success",
    ]


async def test_oom_error_on_socket_and_in_job_detail(fake_cloud: FakeCloud) -> None:
    """fail_next/oom_next: execution_error with OOMError on the socket and in jobs/{id}."""
    fake_cloud.oom_next()
    async with connect(fake_cloud.ws_url("c")) as ws, api(fake_cloud) as client:
        await receive(ws)
        job_id = (await submit(client)).json()["prompt_id"]
        frames = await collect_until_done(ws, job_id)
        detail = (await client.get(f"/api/jobs/{job_id}")).json()
        status = (await client.get(f"/api/job/{job_id}/status")).json()
    errors = [f["data"] for f in frames if f["type"] == "execution_error"]
    assert len(errors) == 1 and errors[0]["exception_type"] == "OOMError"
    assert errors[0]["node_id"] == "1"
    assert detail["status"] == "failed"
    assert detail["execution_error"]["exception_type"] == "OOMError"
    assert status["status"] == "error"
    assert status["error_message"] == errors[0]["exception_message"]


async def test_interrupt_cancels_the_running_job(fake_cloud: FakeCloud) -> None:
    """POST /api/interrupt stops the running job: execution_interrupted, state cancelled."""
    fake_cloud.node_seconds = SLOW * 100
    async with connect(fake_cloud.ws_url()) as ws, api(fake_cloud) as client:
        await receive(ws)
        job_id = (await submit(client)).json()["prompt_id"]
        while (await receive(ws))["type"] != "executing":
            pass
        assert (await client.post("/api/interrupt")).status_code == 200
        frames = await collect_until_done(ws, job_id)
        status = (await client.get(f"/api/job/{job_id}/status")).json()["status"]
    assert "execution_interrupted" in [f["type"] for f in frames]
    assert status == "cancelled"


async def test_queue_lists_and_deletes_pending_jobs(fake_cloud: FakeCloud) -> None:
    """GET /api/queue shows pending items; POST delete removes them and cancels them."""
    fake_cloud.pause()
    async with api(fake_cloud) as client:
        first = (await submit(client)).json()["prompt_id"]
        second = (await submit(client)).json()["prompt_id"]
        queue = (await client.get("/api/queue")).json()
        deleted = (await client.post("/api/queue", json={"delete": [first, "nope"]})).json()
        after = (await client.get("/api/queue")).json()
        state = (await client.get(f"/api/jobs/{first}")).json()["status"]
    assert [item[1] for item in queue["queue_pending"]] == [first, second]
    assert queue["queue_running"] == []
    assert deleted == {"deleted": [first], "cleared": False}
    assert [item[1] for item in after["queue_pending"]] == [second]
    assert state == "cancelled"


async def test_history_and_job_list(fake_cloud: FakeCloud) -> None:
    """history_v2/{id} and /api/jobs report a finished job; an unknown id is 404."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["prompt_id"]
        await poll_states(client, job_id)
        history = (await client.get(f"/api/history_v2/{job_id}")).json()
        unknown = await client.get(f"/api/history_v2/{uuid.uuid4()}")
        jobs = (await client.get("/api/jobs", params={"status": "completed"})).json()
    assert history[job_id]["status"]["completed"] is True
    assert "2" in history[job_id]["outputs"]
    assert unknown.status_code == 404
    assert [job["id"] for job in jobs["jobs"]] == [job_id]
    assert jobs["pagination"]["total"] == 1


async def test_upload_image_enforces_the_size_limit(fake_cloud: FakeCloud) -> None:
    """An image over the limit answers 400; one under it returns name/subfolder/type."""
    fake_cloud.upload_limit_bytes = 1000
    async with api(fake_cloud) as client:
        big = await client.post("/api/upload/image", files={"image": ("big.png", b"x" * 1001)})
        small = await client.post(
            "/api/upload/image", files={"image": ("small.png", b"x" * 1000)}, data={"type": "input"}
        )
    assert big.status_code == 400
    assert small.json() == {"name": "small.png", "subfolder": "", "type": "input"}
    assert fake_cloud.uploads["small.png"] == b"x" * 1000


def test_fixture_fails_a_test_that_leaks_the_key() -> None:
    """The fixture's teardown raises when the storage host saw the API key."""
    serving = serve_fake_cloud()
    cloud = next(serving)
    httpx.get(f"{cloud.storage_url}/anything", headers=cloud.headers)
    with pytest.raises(AssertionError, match="leaked"):
        next(serving)

"""Tests of the fake Comfy Cloud's API v2 jobs (auth, submit, poll, SSE, cancel), raw httpx."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.fakecloud.server import FakeCloud
from tests.fakecloud.v2support import (
    GRAPH,
    POLL,
    SAMPLER_GRAPH,
    SLOW,
    TERMINAL,
    WAIT,
    api,
    digest,
    read_events,
    submit,
    wait_for,
)


async def test_v2_needs_the_bearer_key(fake_cloud: FakeCloud) -> None:
    """No key, a wrong bearer or X-API-Key alone get 401 ``unauthorized``; bearer passes."""
    async with httpx.AsyncClient(base_url=fake_cloud.url) as client:
        bare = await client.get("/api/v2/jobs")
        wrong = await client.get("/api/v2/jobs", headers={"Authorization": "Bearer nope"})
        v1_style = await client.get("/api/v2/jobs", headers=fake_cloud.headers)
        bearer = await client.get("/api/v2/jobs", headers=fake_cloud.v2_headers)
    for refused in (bare, wrong, v1_style):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    assert bearer.status_code == 501
    assert bearer.json()["error"]["code"] == "not_implemented"


async def test_key_refusal_knobs_split_v1_and_v2(fake_cloud: FakeCloud) -> None:
    """``v2_key_refused`` refuses the key on v2 only; ``v1_key_refused`` on v1 only."""
    async with httpx.AsyncClient(base_url=fake_cloud.url) as client:
        fake_cloud.v2_key_refused = True
        v2_off = await client.get("/api/v2/jobs/x", headers=fake_cloud.v2_headers)
        v1_on = await client.get("/api/queue", headers=fake_cloud.headers)
        fake_cloud.v2_key_refused, fake_cloud.v1_key_refused = False, True
        v2_on = await client.get("/api/v2/jobs/x", headers=fake_cloud.v2_headers)
        v1_off = await client.get("/api/queue", headers=fake_cloud.headers)
    assert (v2_off.status_code, v1_on.status_code) == (401, 200)
    assert (v2_on.status_code, v1_off.status_code) == (404, 401)


async def test_submit_poll_succeed_and_download_without_key(fake_cloud: FakeCloud) -> None:
    """A job goes 201 queued → succeeded; its output downloads keyless from storage."""
    async with api(fake_cloud) as client:
        created = await submit(client)
        job_id = created.json()["id"]
        job = await wait_for(client, job_id, TERMINAL)
        content = await client.get(f"/api/v2/assets/{job['outputs'][0]['id']}/content")
    assert created.status_code == 201
    assert created.json()["status"] in ("queued", "running")
    assert created.json()["urls"] == {
        "self": f"/api/v2/jobs/{job_id}",
        "events": f"/api/v2/jobs/{job_id}/events",
        "cancel": f"/api/v2/jobs/{job_id}/cancel",
    }
    assert job["status"] == "succeeded"
    assert job["error"] is None and job["completed_at"] is not None
    assert job["progress"]["value"] == 1.0
    assert set(job["metrics"]) == {"queue_ms", "execution_ms"}
    (output,) = job["outputs"]
    assert output["node_id"] == "2" and output["type"] == "image"
    assert output["job_id"] == job_id and output["content_type"] == "image/png"
    assert output["url"].startswith(fake_cloud.storage_url + "/signed/")
    assert "X-Goog-Signature=" in output["url"] and output["url_expires_at"].endswith("Z")
    async with httpx.AsyncClient(timeout=WAIT) as plain:
        blob = await plain.get(output["url"])
        ranged = await plain.get(content.headers["Location"], headers={"Range": "bytes=0-3"})
    assert blob.content.startswith(b"\x89PNG")
    assert len(blob.content) == output["size_bytes"]
    assert digest(blob.content) == output["hash"]
    assert content.status_code == 302
    assert ranged.status_code == 206 and ranged.content == b"\x89PNG"
    assert ranged.headers["Content-Range"] == f"bytes 0-3/{len(blob.content)}"
    assert fake_cloud.deprecated_calls == []


async def test_idempotency_key_is_single_use(fake_cloud: FakeCloud) -> None:
    """A second submit with the same key is 422 ``idempotency_key_reuse`` and runs nothing."""
    async with api(fake_cloud) as client:
        first = await submit(client, key="same")
        second = await submit(client, key="same")
        listed = (await client.get("/api/jobs", headers=fake_cloud.headers)).json()
    assert first.status_code == 201
    assert second.status_code == 422
    assert second.json()["error"]["code"] == "idempotency_key_reuse"
    assert [job["id"] for job in listed["jobs"]] == [first.json()["id"]]
    assert [key for key, _ in fake_cloud.v2_submits] == ["same", "same"]


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(402, "insufficient_credits", None), (429, "queue_full", "1"), (429, "rate_limited", 2)],
)
async def test_refused_submit_releases_the_key(
    fake_cloud: FakeCloud, status: int, code: str, retry_after: str | int | None
) -> None:
    """``v2_refuse`` answers once with its code and Retry-After; the same key then works."""
    fake_cloud.v2_refuse(status, code, retry_after=retry_after)
    async with api(fake_cloud) as client:
        refused = await submit(client, key="k")
        accepted = await submit(client, key="k")
    assert refused.status_code == status
    assert refused.json()["error"]["code"] == code
    assert refused.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    assert accepted.status_code == 201


async def test_invalid_submit_releases_the_key(fake_cloud: FakeCloud) -> None:
    """A 422 validation failure does not claim the key."""
    async with api(fake_cloud) as client:
        invalid = await submit(client, {"1": {"class_type": "Nope", "inputs": {}}}, key="k")
        valid = await submit(client, key="k")
    assert invalid.status_code == 422
    assert valid.status_code == 201


async def test_dropped_answer_still_creates_the_job(fake_cloud: FakeCloud) -> None:
    """``drop_submit_answer`` cuts the connection; the job exists and the key is claimed."""
    fake_cloud.drop_submit_answer()
    async with api(fake_cloud) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await submit(client, key="lost")
        retry = await submit(client, key="lost")
        listed = (await client.get("/api/jobs", headers=fake_cloud.headers)).json()
    assert retry.json()["error"]["code"] == "idempotency_key_reuse"
    assert len(listed["jobs"]) == 1


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        ({"workflow": {"nodes": [], "links": []}}, "workflow_format_ui", None),
        ({"workflow": GRAPH, "client_id": "c"}, "invalid_request", None),
        ({"workflow": GRAPH, "prompt_id": "p"}, "invalid_request", None),
        ({"workflow": GRAPH, "webhook_url": "http://x"}, "invalid_workflow", None),
        ({"workflow": GRAPH, "extra_data": {"extra_pnginfo": {}}}, "invalid_request", None),
        (
            {"workflow": {**GRAPH, "3": {"class_type": "Nope", "inputs": {}}}},
            "invalid_workflow",
            {"3": [{"field": "class_type", "reason": "unknown_class"}]},
        ),
        (
            {"workflow": {**GRAPH, "2": {"class_type": "SaveImage", "inputs": {}}}},
            "invalid_workflow",
            {"2": [{"field": "images", "reason": "missing_input"}]},
        ),
    ],
)
async def test_submit_validation(
    fake_cloud: FakeCloud, body: dict[str, Any], code: str, details: dict[str, Any] | None
) -> None:
    """Bad bodies and graphs get 422 with the spec's code (and per-node errors)."""
    async with api(fake_cloud) as client:
        response = await client.post("/api/v2/jobs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if details is not None:
        assert error["details"]["node_errors"] == details


async def test_refuse_get_answers_rate_limited_then_the_job(fake_cloud: FakeCloud) -> None:
    """``v2_refuse_get`` makes the next poll 429 ``rate_limited`` with Retry-After."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["id"]
        fake_cloud.v2_refuse_get(429, "rate_limited", retry_after="2")
        limited = await client.get(f"/api/v2/jobs/{job_id}")
        after = await client.get(f"/api/v2/jobs/{job_id}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["code"] == "rate_limited"
    assert after.status_code == 200


async def test_oom_fails_the_job_with_the_message(fake_cloud: FakeCloud) -> None:
    """``oom_next`` ends a v2 job ``failed`` with ``node_execution_error`` and OOM text."""
    fake_cloud.oom_next(node_id="2")
    async with api(fake_cloud) as client:
        job = await wait_for(client, (await submit(client)).json()["id"], TERMINAL)
    assert job["status"] == "failed"
    error = job["error"]
    assert error["code"] == "node_execution_error"
    assert "Out of GPU memory" in error["message"]
    assert (error["node_id"], error["class_type"]) == ("2", "SaveImage")
    assert job["outputs"] == []


async def test_events_stream_from_queued_to_succeeded(fake_cloud: FakeCloud) -> None:
    """SSE sends status, progress, preview and output, and ends on the terminal status."""
    fake_cloud.pause()
    async with api(fake_cloud) as client:
        job_id = (await submit(client, SAMPLER_GRAPH)).json()["id"]
        reading = asyncio.create_task(read_events(client, job_id))
        async with asyncio.timeout(WAIT):
            while not any(r[1].endswith("/events") for r in fake_cloud.requests):
                await asyncio.sleep(POLL)
        fake_cloud.resume()
        events = await reading
    kinds = [kind for kind, _ in events]
    assert events[0] == ("status", {"status": "queued", "queue_position": 0})
    assert {"status": "running", "queue_position": None} in [d for k, d in events[1:]]
    assert {"progress", "preview", "output"} <= set(kinds)
    steps = [d["step"] for k, d in events if k == "progress" and d["current_node"] == "3"]
    assert [s for s in steps if s is not None] == [1, 2, 3]
    last_kind, last = events[-1]
    assert last_kind == "status" and last["status"] == "succeeded"
    assert [out["node_id"] for out in last["outputs"]] == ["9"]


async def test_events_on_connect_to_a_finished_job(fake_cloud: FakeCloud) -> None:
    """Connecting after the end gives only the terminal status (the whole job)."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["id"]
        await wait_for(client, job_id, TERMINAL)
        events = await read_events(client, job_id)
    assert [(kind, data["status"]) for kind, data in events] == [("status", "succeeded")]


async def test_events_501_and_drop(fake_cloud: FakeCloud) -> None:
    """``v2_events="501"`` answers ``not_implemented``; ``"drop"`` cuts before the end."""
    fake_cloud.node_seconds = SLOW
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["id"]
        fake_cloud.v2_events = "501"
        refused = await client.get(f"/api/v2/jobs/{job_id}/events")
        fake_cloud.v2_events = "drop"
        events: list[tuple[str, Any]] = []
        with pytest.raises(httpx.RemoteProtocolError):
            events.extend(await read_events(client, job_id))
    assert refused.status_code == 501
    assert refused.json()["error"]["code"] == "not_implemented"
    assert fake_cloud.v2_status(job_id) not in TERMINAL


async def test_cancel_stops_only_that_job(fake_cloud: FakeCloud) -> None:
    """Cancel answers ``canceling``, ends ``canceled``, is idempotent; the next job runs."""
    fake_cloud.node_seconds = SLOW
    async with api(fake_cloud) as client:
        first = (await submit(client)).json()["id"]
        second = (await submit(client)).json()["id"]
        await wait_for(client, first, {"running"})
        answer = (await client.post(f"/api/v2/jobs/{first}/cancel")).json()
        ended = await wait_for(client, first, TERMINAL)
        again = (await client.post(f"/api/v2/jobs/{first}/cancel")).json()
        other = await wait_for(client, second, TERMINAL)
    assert answer["status"] == "canceling"
    assert ended["status"] == "canceled" and again["status"] == "canceled"
    assert other["status"] == "succeeded"
    assert fake_cloud.cancels == [first, first]


async def test_cancel_a_queued_job_and_queue_positions(fake_cloud: FakeCloud) -> None:
    """Queued jobs report their position; cancelling one ends it at once."""
    fake_cloud.pause()
    async with api(fake_cloud) as client:
        first = (await submit(client)).json()
        second = (await submit(client)).json()
        answer = (await client.post(f"/api/v2/jobs/{first['id']}/cancel")).json()
        moved = (await client.get(f"/api/v2/jobs/{second['id']}")).json()
    fake_cloud.resume()
    assert (first["queue_position"], second["queue_position"]) == (0, 1)
    assert answer["status"] == "canceled"
    assert moved["queue_position"] == 0


async def test_expire_job_and_url_ttl(fake_cloud: FakeCloud) -> None:
    """``expire_job`` reports ``expired`` without outputs; ``url_ttl=0`` URLs answer 403."""
    fake_cloud.url_ttl = 0
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["id"]
        job = await wait_for(client, job_id, TERMINAL)
        fake_cloud.expire_job(job_id)
        expired = (await client.get(f"/api/v2/jobs/{job_id}")).json()
    async with httpx.AsyncClient(timeout=WAIT) as plain:
        stale = await plain.get(job["outputs"][0]["url"])
    assert stale.status_code == 403
    assert expired["status"] == "expired" and expired["outputs"] == []


async def test_logs_list_and_unknown_job(fake_cloud: FakeCloud) -> None:
    """Logs are 204, the list 501, an unknown job 404 ``not_found``."""
    async with api(fake_cloud) as client:
        job_id = (await submit(client)).json()["id"]
        logs = await client.get(f"/api/v2/jobs/{job_id}/logs")
        unknown = await client.get(f"/api/v2/jobs/{uuid.uuid4()}")
    assert logs.status_code == 204
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"

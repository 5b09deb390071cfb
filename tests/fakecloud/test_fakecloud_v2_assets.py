"""Tests of the fake Comfy Cloud's API v2 assets, storage checks and hostile knobs."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fakecloud.server import FakeCloud
from tests.fakecloud.v2support import (
    GRAPH,
    TERMINAL,
    WAIT,
    api,
    digest,
    submit,
    upload,
    wait_for,
)


async def test_assets_dedup_and_feed_load_image(fake_cloud: FakeCloud) -> None:
    """Upload 201 then dedup 200; a ``core/ASSET`` LoadImage input reads those bytes."""
    data = b"\x89PNG fake input"
    async with api(fake_cloud) as client:
        first = await upload(client, data, expected_hash=digest(data))
        again = await upload(client, data)
        present = await client.head(f"/api/v2/assets/by-hash/{digest(data)}")
        absent = await client.head(f"/api/v2/assets/by-hash/{digest(b'other')}")
        asset = first.json()
        ref = {"__type": "core/ASSET", "info": {"id": asset["id"], "file_path": "photo.png"}}
        graph = {
            "1": {"class_type": "LoadImage", "inputs": {"image": ref}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
        }
        job = await wait_for(client, (await submit(client, graph)).json()["id"], TERMINAL)
        workflow = (await client.get(f"/api/v2/jobs/{job['id']}/workflow")).json()
    assert (first.status_code, again.status_code) == (201, 200)
    assert asset["created_new"] is True and again.json()["created_new"] is False
    assert asset["hash"] == digest(data) and asset["size_bytes"] == len(data)
    assert asset["id"] != again.json()["id"]
    assert (present.status_code, absent.status_code) == (200, 404)
    assert [(u.hash, u.status) for u in fake_cloud.asset_uploads] == [
        (digest(data), 201),
        (digest(data), 200),
    ]
    assert job["status"] == "succeeded"
    (loaded,) = fake_cloud.loaded_images(job["id"])
    assert fake_cloud.uploads[loaded] == data
    assert workflow == {"workflow": graph, "format": "api"}


async def test_asset_errors_and_from_hash(fake_cloud: FakeCloud) -> None:
    """409 ``hash_mismatch``, 413 over the limit, 422 missing asset, 404/201 from-hash."""
    fake_cloud.v2_upload_limit_bytes = 10
    async with api(fake_cloud) as client:
        mismatch = await upload(client, b"abc", expected_hash=digest(b"xyz"))
        too_big = await upload(client, b"x" * 11)
        stored = (await upload(client, b"abc")).json()
        minted = await client.post("/api/v2/assets/from-hash", json={"hash": stored["hash"]})
        unknown = await client.post("/api/v2/assets/from-hash", json={"hash": digest(b"n")})
        ref = {"__type": "core/ASSET", "info": {"id": str(uuid.uuid4())}}
        graph = {
            "1": {"class_type": "LoadImage", "inputs": {"image": ref}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
        }
        missing = await submit(client, graph)
        fetched = await client.get(f"/api/v2/assets/{stored['id']}")
    assert mismatch.status_code == 409
    assert mismatch.json()["error"]["code"] == "hash_mismatch"
    assert too_big.status_code == 413
    assert minted.status_code == 201 and minted.json()["hash"] == stored["hash"]
    assert unknown.json()["error"]["code"] == "blob_not_found"
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "missing_asset"
    assert fetched.json()["url"] != stored["url"]  # a fresh signature each time


@pytest.mark.parametrize("mode", ["html", "v1"])
async def test_hostile_answers(fake_cloud: FakeCloud, mode: str) -> None:
    """``v2_answers`` makes v2 calls answer 200 HTML or a v1 body, creating no job."""
    fake_cloud.v2_answers = mode
    async with api(fake_cloud) as client:
        response = await submit(client)
    assert response.status_code == 200
    if mode == "html":
        assert response.headers["Content-Type"].startswith("text/html")
    else:
        assert set(response.json()) == {"prompt_id", "number", "node_errors"}
    assert fake_cloud.v2_submits == []


async def test_v2_disabled_is_404_and_v1_still_works(fake_cloud: FakeCloud) -> None:
    """``v2_enabled=False`` makes every v2 path 404 while v1 answers."""
    fake_cloud.v2_enabled = False
    async with api(fake_cloud) as client:
        v2 = await submit(client)
        v1 = await client.post("/api/prompt", json={"prompt": GRAPH}, headers=fake_cloud.headers)
    assert v2.status_code == 404
    assert v1.status_code == 200


async def test_storage_flags_any_credential(fake_cloud: FakeCloud) -> None:
    """An Authorization header or a cookie sent to storage is a violation."""
    async with api(fake_cloud) as client:
        job = await wait_for(client, (await submit(client)).json()["id"], TERMINAL)
    url = job["outputs"][0]["url"]
    async with httpx.AsyncClient(timeout=WAIT) as plain:
        await plain.get(url, headers={"Authorization": "Bearer something-else"})
        await plain.get(url, headers={"Cookie": "session=1"})
    violations = fake_cloud.take_storage_violations()
    assert len(violations) == 2
    assert "'Authorization'" in violations[0] and "'Cookie'" in violations[1]


async def test_deprecated_v1_calls_are_recorded(fake_cloud: FakeCloud) -> None:
    """Calls to /api/job/{id}/status and /api/history_v2 land in ``deprecated_calls``."""
    async with httpx.AsyncClient(base_url=fake_cloud.url, headers=fake_cloud.headers) as client:
        await client.get("/api/job/abc/status")
        await client.get("/api/history_v2")
        await client.get("/api/jobs")
    assert fake_cloud.deprecated_calls == ["GET /api/job/abc/status", "GET /api/history_v2"]

"""Helpers for tests against the fake Cloud's API v2 with raw httpx (not a test module)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import blake3
import httpx

from tests.fakecloud.server import FakeCloud

# How long a "slow" node takes; every timing-sensitive test scales from this one value.
SLOW = 0.3
WAIT = 10.0
POLL = SLOW / 30
GRAPH: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t"}},
}
SAMPLER_GRAPH: dict[str, Any] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64}},
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "model": ["4", 0],
            "steps": 3,
            "sampler_name": "euler",
            "scheduler": "normal",
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "t"}},
}
TERMINAL = {"succeeded", "failed", "canceled", "expired"}


def api(fake: FakeCloud) -> httpx.AsyncClient:
    """An async client on the fake's API with the bearer header."""
    return httpx.AsyncClient(base_url=fake.url, headers=fake.v2_headers, timeout=WAIT)


async def submit(
    client: httpx.AsyncClient, workflow: dict[str, Any] | None = None, key: str | None = None
) -> httpx.Response:
    """POST ``/api/v2/jobs`` with ``GRAPH`` unless given, and a fresh key unless given."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    body = {"workflow": workflow if workflow is not None else GRAPH}
    return await client.post("/api/v2/jobs", json=body, headers=headers)


async def wait_for(client: httpx.AsyncClient, job_id: str, wanted: set[str]) -> dict[str, Any]:
    """Poll ``GET /api/v2/jobs/{id}`` until its status is in ``wanted``; return the job."""
    async with asyncio.timeout(WAIT):
        while True:
            response = await client.get(f"/api/v2/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if job["status"] in wanted:
                return job
            await asyncio.sleep(POLL)


async def read_events(client: httpx.AsyncClient, job_id: str) -> list[tuple[str, Any]]:
    """Read the SSE stream of a job until it ends; return ``(event, data)`` pairs."""
    events: list[tuple[str, Any]] = []
    kind = ""
    async with (
        asyncio.timeout(WAIT),
        client.stream("GET", f"/api/v2/jobs/{job_id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


async def upload(
    client: httpx.AsyncClient, data: bytes, name: str = "photo.png", **fields: str
) -> httpx.Response:
    """POST ``/api/v2/assets`` with ``data`` as ``file`` and the required fields."""
    form = {"file_path": name, "content_type": "image/png", **fields}
    return await client.post("/api/v2/assets", files={"file": (name, data)}, data=form)


def digest(data: bytes) -> str:
    """``blake3:<hex>`` of ``data``."""
    return "blake3:" + blake3.blake3(data).hexdigest()

"""Small WebSocket and shape helpers for the fake server's own tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.captures import load
from tests.fakecomfy.server import FakeComfy

# How long a "slow" node takes; every timing-sensitive test scales from this one value.
SLOW = 0.3
RECEIVE_TIMEOUT = 10.0
COLLECT_TIMEOUT = 60.0  # a whole run's frames: bounded even if frames keep coming


async def open_socket(
    fake: FakeComfy, client_id: str | None = None, flags: dict[str, Any] | None = None
) -> tuple[ClientConnection, list[Any]]:
    """Connect, read the first ``status`` (and the ``feature_flags`` reply when sending flags)."""
    ws = await connect(fake.ws_url(client_id), max_size=None)
    received = [await receive(ws)]
    if flags is not None:
        await ws.send(json.dumps({"type": "feature_flags", "data": flags}))
        received.append(await receive(ws))
    return ws, received


async def receive(ws: ClientConnection) -> Any:
    """Return the next frame: parsed JSON for text, raw bytes for binary."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        frame = await ws.recv()
    return json.loads(frame) if isinstance(frame, str) else frame


async def collect_until_done(ws: ClientConnection, prompt_id: str) -> list[Any]:
    """Receive frames up to and including ``executing`` null for ``prompt_id``."""
    frames = []
    async with asyncio.timeout(COLLECT_TIMEOUT):
        while True:
            frame = await receive(ws)
            frames.append(frame)
            if (
                isinstance(frame, dict)
                and frame["type"] == "executing"
                and frame["data"]["node"] is None
                and frame["data"].get("prompt_id") == prompt_id
            ):
                return frames


async def post_prompt(fake: FakeComfy, body: Any) -> httpx.Response:
    """POST ``body`` as JSON to ``/prompt``."""
    async with httpx.AsyncClient() as client:
        return await client.post(f"{fake.url}/prompt", json=body)


async def run_capture_request(
    fake: FakeComfy, ws: ClientConnection, scenario: str, client_id: str, **changes: Any
) -> tuple[str, list[Any]]:
    """Submit a capture's ``request.json`` as ``client_id`` and collect its messages."""
    body = load(scenario, "request.json")
    body["client_id"] = client_id
    body.update(changes)
    response = await post_prompt(fake, body)
    assert response.status_code == 200, response.text
    prompt_id = response.json()["prompt_id"]
    return prompt_id, await collect_until_done(ws, prompt_id)


def capture_frames(scenario: str, name: str = "ws_messages.json") -> list[Any]:
    """A capture's frames: JSON messages as dicts, binary frames as their summary dicts."""
    return [entry.get("raw", entry.get("raw_binary")) for entry in load(scenario, name)]


def skeleton(value: Any) -> Any:
    """Replace every leaf by its type name, keeping keys, list lengths and nesting."""
    if isinstance(value, dict):
        return {key: skeleton(item) for key, item in value.items()}
    if isinstance(value, list):
        return [skeleton(item) for item in value]
    if isinstance(value, bytes):
        return "binary"
    return type(value).__name__


def kinds(frames: list[Any]) -> list[str]:
    """Message types in order; binary frames (real or summarised) as ``binary:<type>``."""
    out = []
    for frame in frames:
        if isinstance(frame, bytes):
            out.append(f"binary:{int.from_bytes(frame[:4], 'big')}")
        elif frame.get("binary"):
            out.append(f"binary:{frame['event_type']}")
        else:
            out.append(frame["type"])
    return out

"""The real CPU ComfyUI built by comfycine.localserver answers and samples (marked ``real``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.graphs import txt2img
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

# One scale for every wait in this module (the tiny graph takes ~1 s on a 2-core CPU).
TIMEOUT = 120.0
STEPS = 5


def sampling_graph(checkpoint: str, steps: int = STEPS) -> dict[str, Any]:
    """The standard txt2img graph on the tiny checkpoint, 64×64."""
    return txt2img(checkpoint, steps=steps, prefix="comfycine_tiny")


def test_system_stats_reports_a_cpu_device(real_comfyui: RealComfyUI) -> None:
    """GET /system_stats answers with ComfyUI's version and one CPU device."""
    stats = httpx.get(f"{real_comfyui.url}/system_stats", timeout=TIMEOUT).json()
    assert stats["system"]["comfyui_version"] == "0.3.75"
    assert [device["type"] for device in stats["devices"]] == ["cpu"]


def test_object_info_has_image_and_video_nodes(real_comfyui: RealComfyUI) -> None:
    """/object_info lists the model-free nodes the integration tests build on."""
    info = httpx.get(f"{real_comfyui.url}/object_info", timeout=TIMEOUT).json()
    for name in ("EmptyImage", "SaveImage", "CreateVideo", "SaveVideo", "KSampler"):
        assert name in info, name


def test_tiny_checkpoint_is_listed(real_comfyui: RealComfyUI) -> None:
    """The tiny checkpoint appears under /models/checkpoints by the name the fixture gives."""
    names = httpx.get(f"{real_comfyui.url}/models/checkpoints", timeout=TIMEOUT).json()
    assert real_comfyui.checkpoint in names


async def run_with_messages(
    server: RealComfyUI, graph: dict[str, Any]
) -> tuple[str, list[dict[str, Any]], int]:
    """Submit ``graph`` with a client_id; the prompt id, its JSON messages, binary frames."""
    client_id = uuid.uuid4().hex
    messages: list[dict[str, Any]] = []
    binary_frames = 0
    async with connect(f"{server.ws_url}?clientId={client_id}", max_size=None) as socket:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            answer = await http.post("/prompt", json={"prompt": graph, "client_id": client_id})
            assert answer.status_code == 200, answer.text
            prompt_id = answer.json()["prompt_id"]
        async with asyncio.timeout(TIMEOUT):
            async for frame in socket:
                if isinstance(frame, bytes):
                    binary_frames += 1
                    continue
                message = json.loads(frame)
                messages.append(message)
                data = message.get("data", {})
                # `executing` with node null is the end marker for success and failure alike.
                if (
                    message["type"] == "executing"
                    and data.get("node") is None
                    and data.get("prompt_id") == prompt_id
                ):
                    break
    return prompt_id, messages, binary_frames


async def test_tiny_checkpoint_samples_with_progress(real_comfyui: RealComfyUI) -> None:
    """The txt2img graph runs, sends one `progress` per step and previews, saves a PNG."""
    prompt_id, messages, binary_frames = await run_with_messages(
        real_comfyui, sampling_graph(real_comfyui.checkpoint)
    )
    types = [message["type"] for message in messages]
    assert "execution_success" in types, types
    progress = [m["data"] for m in messages if m["type"] == "progress"]
    assert [(p["value"], p["max"]) for p in progress] == [(i, STEPS) for i in range(1, STEPS + 1)]
    assert all(p["prompt_id"] == prompt_id and p["node"] == "5" for p in progress)
    # --preview-method latent2rgb (the fixture's default) sends preview images as binary.
    assert binary_frames > 0
    async with httpx.AsyncClient(base_url=real_comfyui.url, timeout=TIMEOUT) as http:
        history = (await http.get(f"/history/{prompt_id}")).json()[prompt_id]
    images = history["outputs"]["7"]["images"]
    assert len(images) == 1
    saved = real_comfyui.base_dir / "output" / images[0]["subfolder"] / images[0]["filename"]
    assert saved.read_bytes().startswith(b"\x89PNG")

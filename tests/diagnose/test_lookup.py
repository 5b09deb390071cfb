"""ComfyUI-Manager's pack map and model list on the server, and the daily cache."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from comfycine.diagnose import JobContext
from comfycine.diagnose.lookup import (
    fill_from_server,
    models_from_list,
    packs_from_mappings,
    template_facts,
)
from comfycine.transport import ComfyClient

MAPPINGS = {
    "comfyui-videohelpersuite": [
        ["VHS_VideoCombine", "VHS_LoadVideo"],
        {"title_aux": "Video Helper Suite"},
    ],
    "https://github.com/a/b": [["Other"], {"title_aux": "B nodes", "nodename_pattern": "^B_"}],
}
MODELS = {
    "models": [
        {
            "filename": "x.safetensors",
            "save_path": "default",
            "type": "checkpoints",
            "url": "https://example.invalid/x.safetensors",
        }
    ]
}


def _client(seen: list[str], *, v4: bool) -> ComfyClient:
    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        path = request.url.path
        if path.startswith("/v2/") and not v4:
            return httpx.Response(404)
        if path.endswith("getmappings"):
            assert request.url.params["mode"] == "cache"
            return httpx.Response(200, json=MAPPINGS)
        if path.endswith("externalmodel/getlist"):
            return httpx.Response(200, json=MODELS)
        return httpx.Response(404)

    return ComfyClient("http://127.0.0.1:8188", transport=httpx.MockTransport(route))


def test_mappings_give_every_pack_and_patterns() -> None:
    """Classes are found by name and by the pack's nodename_pattern."""
    found = packs_from_mappings(MAPPINGS, ["VHS_LoadVideo", "B_Thing", "Nope"])
    assert (
        found["VHS_LoadVideo"][0].install_command
        == "comfy node registry-install comfyui-videohelpersuite"
    )
    assert found["B_Thing"][0].title == "B nodes"
    assert "Nope" not in found


def test_model_list_default_folder_is_the_type() -> None:
    """save_path 'default' means the folder of the model's type."""
    found = models_from_list(MODELS, ["x.safetensors"])
    assert found["x.safetensors"].folder == "checkpoints"


def test_template_sidecar_facts() -> None:
    """A sidecar's custom_nodes and models become packs and sources."""
    meta = {
        "custom_nodes": [
            {"id": "p", "name": "P", "classes": ["C"], "install": "comfy node registry-install p"}
        ],
        "models": [{"name": "m.safetensors", "folder": "vae", "url": "https://example.invalid/m"}],
    }
    packs, models = template_facts(meta)
    assert packs["C"][0].install_command == "comfy node registry-install p"
    assert models["m.safetensors"].folder == "vae"


def test_v3_fallback_then_cache(tmp_path: Path) -> None:
    """Without Manager v4 the v3 route answers; a second lookup uses the cache."""
    seen: list[str] = []

    async def run() -> JobContext:
        ctx = JobContext()
        async with _client(seen, v4=False) as client:
            await fill_from_server(
                ctx, client, tmp_path, classes=["VHS_VideoCombine"], files=["x.safetensors"]
            )
        return ctx

    ctx = asyncio.run(run())
    assert seen == [
        "/v2/customnode/getmappings",
        "/customnode/getmappings",
        "/v2/externalmodel/getlist",
        "/externalmodel/getlist",
    ]
    assert ctx.packs["VHS_VideoCombine"][0].title == "Video Helper Suite"
    assert ctx.models["x.safetensors"].url == "https://example.invalid/x.safetensors"
    cached = list(tmp_path.glob("manager/*/mappings.json"))
    assert cached and json.loads(cached[0].read_text()) == MAPPINGS
    seen.clear()
    asyncio.run(run())
    assert seen == []


def test_v4_route_is_asked_first(tmp_path: Path) -> None:
    """With Manager v4 the /v2 route answers and v3 is not asked."""
    seen: list[str] = []

    async def run() -> None:
        async with _client(seen, v4=True) as client:
            await fill_from_server(JobContext(), client, tmp_path, classes=["Other"], files=[])

    asyncio.run(run())
    assert seen == ["/v2/customnode/getmappings"]


def test_no_manager_leaves_the_context_alone(tmp_path: Path) -> None:
    """A server without Manager (404 everywhere) adds nothing and raises nothing."""

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="not found")

    async def run() -> JobContext:
        ctx = JobContext()
        async with ComfyClient(
            "http://127.0.0.1:8188", transport=httpx.MockTransport(route)
        ) as client:
            await fill_from_server(ctx, client, tmp_path, classes=["X"], files=["y.pt"])
        return ctx

    ctx = asyncio.run(run())
    assert ctx.packs == {} and ctx.models == {} and ctx.manager_checked

"""Fetching the catalog and model lists, and the snapshot that stands in when offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.errors import TargetUnreachable, UsageError
from comfycine.graph.catalog_source import (
    fetch_models,
    load_catalog,
    load_quick_catalog,
    load_snapshot,
    save_snapshot,
    snapshot_path,
)
from comfycine.transport import ComfyClient
from tests.captures import CAPTURES

URL = "http://comfy.test:8188"
OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
FOLDERS = ["checkpoints", "loras", "custom_nodes", "vanished"]
FILES = {"checkpoints": ["a.safetensors", "sub/b.safetensors"], "loras": []}
Handler = Callable[[httpx.Request], httpx.Response]


def server(seen: list[str]) -> Handler:
    """A ComfyUI answering /object_info and /models; records the paths asked."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path)
        if path == "/object_info":
            return httpx.Response(200, json=OBJECT_INFO)
        if path == "/models":
            return httpx.Response(200, json=FOLDERS)
        folder = path.removeprefix("/models/")
        if folder in FILES:
            return httpx.Response(200, json=FILES[folder])
        return httpx.Response(404)

    return handle


def unreachable(request: httpx.Request) -> httpx.Response:
    """A server whose name does not resolve (not retried, so the test is quick)."""
    raise httpx.ConnectError("Name or service not known", request=request)


def untouched(request: httpx.Request) -> httpx.Response:
    """A server that must not be asked."""
    raise AssertionError(f"unexpected request {request.url}")


def client_for(handler: Handler) -> ComfyClient:
    """A client whose requests go to ``handler``."""
    return ComfyClient(URL, transport=httpx.MockTransport(handler))


async def test_live_fetch_reads_everything_and_saves_the_snapshot(tmp_path: Path) -> None:
    """A live fetch gives the catalog and models (404 and custom_nodes left out) and caches them."""
    seen: list[str] = []
    async with client_for(server(seen)) as client:
        result = await load_catalog(client, tmp_path)
    assert result.source == "live" and len(result.catalog) == 478
    assert result.models == FILES
    assert "/models/custom_nodes" not in seen and "/models/vanished" in seen
    path = tmp_path / "snapshots" / "comfy.test_8188.json"
    saved = json.loads(path.read_text())
    assert saved["comfyui_url"] == URL and saved["fetched_at"] == result.fetched_at
    assert saved["models"] == FILES and "KSampler" in saved["object_info"]
    split = path.with_suffix(".classes")
    assert sorted(path.parent.iterdir()) == sorted([path, split])  # no temporary file left
    quick = load_quick_catalog(tmp_path, URL)
    assert quick is not None and len(quick.catalog) == 478 and quick.models == FILES
    assert quick.catalog.get("KSampler") == result.catalog.get("KSampler")
    assert quick.catalog.get("NoSuchNode") is None and quick.source == "snapshot"


async def test_unreachable_server_falls_back_on_the_snapshot(tmp_path: Path) -> None:
    """When the server is down the last snapshot answers, with its fetch time."""
    save_snapshot(tmp_path, URL, OBJECT_INFO, FILES, fetched_at="2025-01-02T03:04:05+00:00")
    async with client_for(unreachable) as client:
        result = await load_catalog(client, tmp_path)
    assert result.source == "snapshot" and result.fetched_at == "2025-01-02T03:04:05+00:00"
    assert result.catalog.get("SaveImage") is not None and result.models == FILES


async def test_unreachable_without_snapshot_raises(tmp_path: Path) -> None:
    """Down and never fetched: the TargetUnreachable goes up."""
    async with client_for(unreachable) as client:
        with pytest.raises(TargetUnreachable):
            await load_catalog(client, tmp_path)


async def test_offline_uses_the_snapshot_without_asking(tmp_path: Path) -> None:
    """offline=True reads the snapshot and sends no request."""
    save_snapshot(tmp_path, URL, OBJECT_INFO, FILES)
    async with client_for(untouched) as client:
        result = await load_catalog(client, tmp_path, offline=True)
    assert result.source == "snapshot" and "KSampler" in result.catalog


async def test_offline_without_snapshot_is_no_snapshot(tmp_path: Path) -> None:
    """offline=True with nothing cached: usage error no_snapshot naming the command."""
    async with client_for(untouched) as client:
        with pytest.raises(UsageError) as info:
            await load_catalog(client, tmp_path, offline=True)
    assert info.value.code == "no_snapshot" and info.value.exit_code == 2
    assert "comfycine workflow validate NAME" in info.value.hint


async def test_server_without_models_route_gives_no_models() -> None:
    """An old or foreign server answering 404 to /models gives {}."""
    async with client_for(lambda request: httpx.Response(404)) as client:
        assert await fetch_models(client) == {}


def test_snapshot_is_per_server(tmp_path: Path) -> None:
    """Host and port name the file; https defaults to 443; another server has none."""
    assert snapshot_path(tmp_path, "https://cloud.comfy.org").name == "cloud.comfy.org_443.json"
    save_snapshot(tmp_path, URL, OBJECT_INFO, FILES)
    assert load_snapshot(tmp_path, URL) is not None
    assert load_snapshot(tmp_path, "http://comfy.test:8189") is None


def test_unreadable_snapshot_counts_as_none(tmp_path: Path) -> None:
    """A truncated or foreign snapshot file is ignored rather than trusted."""
    path = snapshot_path(tmp_path, URL)
    path.parent.mkdir(parents=True)
    path.write_text('{"object_info": ')
    assert load_snapshot(tmp_path, URL) is None
    path.write_text(json.dumps({"object_info": {}, "models": {}}))  # no format marker
    assert load_snapshot(tmp_path, URL) is None

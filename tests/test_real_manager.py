"""The real ComfyUI-Manager harness (tests/real_manager.py) against the real thing.

One server for the file (~20 s to start, ~20 s again for the reboot), so the tests share
it: each uses its own task ids and client id, and the reboot test installs what it needs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from .real_manager import RealManager
from .record_manager_captures import pack_params

pytestmark = pytest.mark.real

TASK_TIMEOUT = 60.0


def _queue_and_run(manager: RealManager, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Queue one task, start the queue, return the task's history entry once finished."""
    ui_id = f"t-{uuid.uuid4().hex[:8]}"
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    task = {"ui_id": ui_id, "client_id": client_id, "kind": kind, "params": params}
    queued = httpx.post(f"{manager.url}/v2/manager/queue/task", json=task, timeout=10)
    assert queued.status_code == 200, queued.text
    started = httpx.post(f"{manager.url}/v2/manager/queue/start", timeout=10)
    assert started.status_code in (200, 201), started.text
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{manager.url}/v2/manager/queue/history", params={"ui_id": ui_id}, timeout=10
        )
        entry: dict[str, Any] = answer.json()["history"]
        if entry:
            return entry
        time.sleep(0.25)
    raise AssertionError(f"task {ui_id} ({kind}) did not finish within {TASK_TIMEOUT:.0f} s")


def _model_params(name: str, url: str, filename: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "checkpoint",
        "base": "SD1.5",
        "save_path": "checkpoints",
        "url": url,
        "filename": filename,
    }


def test_version_route_names_the_pinned_manager(real_manager: RealManager) -> None:
    """GET /v2/manager/version answers the installed comfyui-manager version as text."""
    answer = httpx.get(f"{real_manager.url}/v2/manager/version", timeout=10)
    assert answer.status_code == 200
    assert answer.text == f"V{real_manager.version}"


def test_mappings_list_the_core_pack_and_the_test_pack(real_manager: RealManager) -> None:
    """getmappings maps core class types to ComfyUI's own pack, and the test node to its pack."""
    answer = httpx.get(
        f"{real_manager.url}/v2/customnode/getmappings", params={"mode": "cache"}, timeout=30
    )
    assert answer.status_code == 200
    mappings = answer.json()
    core_nodes, core_meta = mappings["https://github.com/comfyanonymous/ComfyUI"]
    assert "KSampler" in core_nodes and core_meta["title_aux"] == "ComfyUI"
    pack_nodes, _ = mappings[real_manager.pack.url]
    assert pack_nodes == [real_manager.pack.node_class]


def test_model_from_loopback_lands_in_the_models_folder(real_manager: RealManager) -> None:
    """A queued model install downloads the loopback file into models/checkpoints."""
    model = real_manager.model
    entry = _queue_and_run(
        real_manager, "install-model", _model_params(model.name, model.url, model.filename)
    )
    assert entry["status"]["status_str"] == "success", entry
    landed = real_manager.base_dir / "models" / "checkpoints" / model.filename
    assert landed.read_bytes() == (real_manager.files.root / model.filename).read_bytes()


def test_model_url_answering_404_is_reported_as_failed(real_manager: RealManager) -> None:
    """A model URL that answers 404 finishes with status error and the URL in the message."""
    url = real_manager.missing_model_url
    entry = _queue_and_run(real_manager, "install-model", _model_params("gone", url, "gone.bin"))
    assert entry["status"]["status_str"] == "error"
    assert entry["status"]["messages"] == [f"Model installation error: {url}"]
    assert not (real_manager.base_dir / "models" / "checkpoints" / "gone.bin").exists()


def test_git_pack_installs_into_custom_nodes(real_manager: RealManager) -> None:
    """The channel-listed pack is cloned from the loopback git server into custom_nodes."""
    pack = real_manager.add_pack("comfycine-pack-clone", "ComfycineCloneNode")
    entry = _queue_and_run(real_manager, "install", pack_params(pack.id))
    assert entry["status"]["status_str"] == "success", entry
    assert (real_manager.base_dir / "custom_nodes" / pack.id / "__init__.py").is_file()
    installed = httpx.get(f"{real_manager.url}/v2/customnode/installed", timeout=10).json()
    assert installed[pack.id]["enabled"] is True


def test_reboot_brings_the_server_back_with_the_new_node(real_manager: RealManager) -> None:
    """After the test pack is installed, Manager's reboot brings ComfyUI back with its node."""
    pack = real_manager.pack
    entry = _queue_and_run(real_manager, "install", pack_params(pack.id))
    assert entry["status"]["status_str"] == "success", entry
    before = httpx.get(f"{real_manager.url}/object_info/{pack.node_class}", timeout=10).json()
    assert before == {}
    restarts = real_manager.restart_count
    real_manager.reboot()
    assert real_manager.restart_count == restarts + 1
    after = httpx.get(f"{real_manager.url}/object_info/{pack.node_class}", timeout=10).json()
    assert after[pack.node_class]["output"] == ["IMAGE"]

"""comfycine fix against a real ComfyUI-Manager (4.3) in the real test ComfyUI: a model
from a loopback server and a node pack from a local git repository installed, ComfyUI
restarted, the workflow valid again; no consent, a dead URL and no Manager."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.cli_support import Isolation, invoke
from tests.real_manager import RealManager

pytestmark = pytest.mark.real


@pytest.fixture
def manager(
    isolation: Isolation, real_manager: RealManager, monkeypatch: pytest.MonkeyPatch
) -> RealManager:
    """An isolated CLI pointed at the real ComfyUI that runs Manager."""
    monkeypatch.setenv("COMFYUI_URL", real_manager.url)
    return real_manager


def needing(isolation: Isolation, model: str, url: str, node_class: str | None = None) -> str:
    """A template that needs ``model`` (its URL in the sidecar) and maybe a pack's class."""
    name = f"needs-{uuid.uuid4().hex[:6]}"
    graph: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": name}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model}},
    }
    if node_class is not None:
        graph["2"] = {"class_type": node_class, "inputs": {"image": ["1", 0]}}
        graph["3"]["inputs"]["images"] = ["2", 0]
    (isolation.workflow_dir / f"{name}.json").write_text(json.dumps(graph))
    meta = {"models": [{"name": model, "folder": "checkpoints", "url": url}]}
    (isolation.workflow_dir / f"{name}.meta.json").write_text(json.dumps(meta))
    return name


def landed(manager: RealManager, filename: str) -> bool:
    """Whether the model file is in the server's checkpoints folder."""
    return (manager.base_dir / "models" / "checkpoints" / filename).is_file()


def test_fix_installs_a_model_and_a_pack_restarts_and_validates(
    manager: RealManager, isolation: Isolation
) -> None:
    """fix --yes: the model downloaded, the pack cloned, ComfyUI restarted, nothing left."""
    tag = uuid.uuid4().hex[:6]
    model = manager.add_model(f"fix-{tag}.safetensors", listed=False)
    pack = manager.add_pack(f"fix-pack-{tag}", f"FixNode{tag}")
    name = needing(isolation, model.filename, model.url, pack.node_class)
    before = manager.restart_count
    result = invoke("fix", name, "--yes", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert [m["source"] for m in data["models"]] == ["template"]
    assert [p["classes"] for p in data["packs"]] == [[pack.node_class]]
    assert all(item["ok"] for item in data["installed"]), data["installed"]
    assert data["restarted"] and data["fixed"] and data["remaining"] == []
    assert landed(manager, model.filename) and manager.restart_count > before
    assert invoke("workflow", "validate", name, "--json").exit_code == 0


def test_without_consent_nothing_is_installed(manager: RealManager, isolation: Isolation) -> None:
    """Off a terminal without --yes: exit 9 install_not_allowed, the plan in details."""
    model = manager.add_model(f"noyes-{uuid.uuid4().hex[:6]}.safetensors", listed=False)
    name = needing(isolation, model.filename, model.url)
    result = invoke("fix", name, "--json")
    assert result.exit_code == 9, result
    error = result.envelope()["error"]
    assert error["code"] == "install_not_allowed" and "--yes" in error["hint"]
    assert error["details"]["models"][0]["name"] == model.filename
    assert not landed(manager, model.filename)


def test_dry_run_lists_the_plan_with_sizes(manager: RealManager, isolation: Isolation) -> None:
    """--dry-run: every item with its folder, URL and size (asked of the URL); nothing done."""
    model = manager.add_model(f"dry-{uuid.uuid4().hex[:6]}.safetensors", 6000, listed=False)
    name = needing(isolation, model.filename, model.url)
    result = invoke("fix", name, "--dry-run", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["dry_run"] and data["installed"] == [] and not data["fixed"]
    assert data["models"][0]["size"] == 6000 and data["models"][0]["folder"] == "checkpoints"
    assert any(model.url in step for step in data["manual_steps"])
    assert not landed(manager, model.filename)


def test_a_dead_model_url_is_reported_with_what_is_left(
    manager: RealManager, isolation: Isolation
) -> None:
    """A URL that answers 404: exit 4 still_missing, Manager's reason, the steps by hand."""
    filename = f"dead-{uuid.uuid4().hex[:6]}.safetensors"
    name = needing(isolation, filename, manager.missing_model_url)
    result = invoke("fix", name, "--yes", "--json")
    assert result.exit_code == 4, result
    error = result.envelope()["error"]
    assert error["code"] == "still_missing"
    installed = error["details"]["installed"]
    assert installed[0]["ok"] is False and "installation error" in installed[0]["message"]
    assert error["details"]["remaining"][0]["code"] == "missing_model"


def test_a_server_without_manager_gets_the_steps_by_hand(
    manager: RealManager, isolation: Isolation
) -> None:
    """No Manager on the PC: exit 4 manager_missing with the exact commands to run there."""
    model = manager.add_model(f"hand-{uuid.uuid4().hex[:6]}.safetensors", listed=False)
    name = needing(isolation, model.filename, model.url)
    manager.restart(enabled=False)
    try:
        result = invoke("fix", name, "--yes", "--json")
    finally:
        manager.restart(enabled=True)
    assert result.exit_code == 4, result
    error = result.envelope()["error"]
    assert error["code"] == "manager_missing" and error["details"]["manager"] is None
    steps = error["details"]["manual_steps"]
    assert any("curl" in step and model.url in step for step in steps), steps
    assert not landed(manager, model.filename)


def test_a_pc_on_the_network_is_refused_and_told_how_to_allow_it(
    manager: RealManager, isolation: Isolation
) -> None:
    """Manager refuses installs for a non-loopback listener: the items fail with Manager's
    word, and the steps say to set network_mode = personal_cloud."""
    model = manager.add_model(f"remote-{uuid.uuid4().hex[:6]}.safetensors", listed=False)
    name = needing(isolation, model.filename, model.url)
    manager.restart(listen="localhost")
    try:
        result = invoke("fix", name, "--yes", "--json")
    finally:
        manager.restart(listen="127.0.0.1")
    assert result.exit_code == 4, result
    details = result.envelope()["error"]["details"]
    assert details["installed"][0]["ok"] is False
    assert any("personal_cloud" in step for step in details["manual_steps"])
    assert not landed(manager, model.filename)

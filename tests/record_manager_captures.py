"""Record the real ComfyUI-Manager's answers into tests/fixtures/manager-captures (by hand).

    python -m tests.record_manager_captures [OUT_DIR [MANAGER_3X_CHECKOUT]]

Starts the harness of tests/real_manager.py and plays each scenario, restarting it for
security_level strong, for the legacy UI, and without Manager. Takes about three
minutes; only 127.0.0.1 is reached.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .manager_recorder import Recorder, Scrubber, keep_keys, keep_list_items, ws_tap
from .manager_sources import ManagerDB
from .real_manager import RealManager, manager_session, prepare_install

OUT = Path(__file__).parent / "fixtures" / "manager-captures"
TASK_TIMEOUT = 60.0
CORE_PACK = "https://github.com/comfyanonymous/ComfyUI"


def model_params(manager: RealManager, url: str | None = None, name: str = "") -> dict[str, Any]:
    """The body fields of a model install (ModelMetadata) for the fake model."""
    model = manager.model
    return {
        "name": name or model.name,
        "type": "checkpoint",
        "base": "SD1.5",
        "save_path": "checkpoints",
        "url": url or model.url,
        "filename": model.filename if url is None else Path(url).name,
    }


def pack_params(pack_id: str) -> dict[str, Any]:
    """The body fields of a pack install (InstallPackParams) for a pack not in the registry."""
    return {
        "id": pack_id,
        "version": "unknown",
        "selected_version": "unknown",
        "mode": "cache",
        "channel": "default",
    }


def wait_idle(rec: Recorder) -> None:
    """Poll the queue status until the worker thread ends, recording each distinct answer.

    The worker exits 4 s after its last task (having broadcast "all-done"), or at once when
    a task raises: pending tasks then stay queued until the next start.
    """
    deadline = time.monotonic() + TASK_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        body = httpx.get(f"{rec.manager.url}/v2/manager/queue/status", timeout=10).json()
        if body != last:
            rec.call("GET", "/v2/manager/queue/status", "GET_queue_status")
            last = body
        if not body["is_processing"]:
            return
        time.sleep(0.2)
    raise TimeoutError("the Manager queue did not finish")


def run_task(
    rec: Recorder, kind: str, params: dict[str, Any], label: str, ws_name: str = "ws_messages"
) -> None:
    """Queue one task with a WebSocket client listening, start, wait, record its history."""
    client_id = f"comfycine-{label}"
    ui_id = f"{label}-1"
    with ws_tap(rec.manager, client_id) as frames:
        task = {"ui_id": ui_id, "client_id": client_id, "kind": kind, "params": params}
        rec.call("POST", "/v2/manager/queue/task", "POST_queue_task", json_body=task)
        rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_before_start")
        rec.call("POST", "/v2/manager/queue/start", "POST_queue_start")
        wait_idle(rec)
    status = {"client_id": client_id}
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_client", params=status)
    rec.call("GET", "/v2/manager/queue/history", "GET_history_ui_id", params={"ui_id": ui_id})
    rec.call("GET", "/v2/manager/queue/history", "GET_history_client", params=status)
    rec.note(f"{ws_name}.json", frames)


def default_ui(manager: RealManager, out: Path, scrub: Scrubber) -> None:
    """Scenarios 01-11: the default (v2) UI, security_level normal, loopback listener."""
    rec = Recorder(manager, out / "01_presence", scrub)
    for path in ("/v2/manager/version", "/api/v2/manager/version", "/manager/version"):
        rec.call("GET", path, "GET" + path.replace("/", "_"))
    rec.call("GET", "/v2/manager/is_legacy_manager_ui", "GET_is_legacy_manager_ui")
    rec.call(
        "GET", "/v2/externalmodel/getlist", "GET_externalmodel_getlist", params={"mode": "cache"}
    )
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_idle")
    rec.call("GET", "/v2/customnode/installed", "GET_customnode_installed")
    rec.call("GET", "/v2/manager/db_mode", "GET_db_mode")
    rec.call("GET", "/v2/manager/channel_url_list", "GET_channel_url_list")

    rec = Recorder(manager, out / "02_mappings", scrub)
    # Samples of the entry shapes: plain, nodename_pattern, preemptions.
    samples = [
        "https://github.com/AhBumm/ComfyUI_BillBum_APIset_Nodes",
        "https://github.com/Fannovel16/comfyui_controlnet_aux",
    ]
    keep = keep_keys([CORE_PACK, *samples, manager.pack.url], samples=1)
    for mode in ("cache", "local", "nickname"):
        rec.call(
            "GET",
            "/v2/customnode/getmappings",
            f"GET_getmappings_{mode}",
            params={"mode": mode},
            trim=keep,
        )
    rec.call("GET", "/v2/customnode/getmappings", "GET_getmappings_no_mode")

    rec = Recorder(manager, out / "03_install_model", scrub)
    run_task(rec, "install-model", model_params(manager), "model")
    rec.call("GET", "/v2/manager/queue/history_list", "GET_history_list")
    landed = manager.base_dir / "models" / "checkpoints" / manager.model.filename
    rec.note("files.json", {"landed": str(landed), "bytes": landed.stat().st_size})

    rec = Recorder(manager, out / "04_install_model_404", scrub)
    run_task(rec, "install-model", model_params(manager, manager.missing_model_url, "gone"), "gone")

    rec = Recorder(manager, out / "05_install_model_route", scrub)
    body = {**model_params(manager, name="again"), "client_id": "comfycine-r", "ui_id": "route-1"}
    body["filename"] = "comfycine-again.safetensors"
    rec.call("POST", "/v2/manager/queue/install_model", "POST_install_model", json_body=body)
    no_ui = {k: v for k, v in body.items() if k != "ui_id"}
    rec.call(
        "POST", "/v2/manager/queue/install_model", "POST_install_model_no_ui_id", json_body=no_ui
    )
    rec.call("POST", "/v2/manager/queue/start", "POST_queue_start")
    wait_idle(rec)
    rec.call("GET", "/v2/manager/queue/history", "GET_history_ui_id", params={"ui_id": "route-1"})

    rec = Recorder(manager, out / "06_bad_requests", scrub)
    bad = {"ui_id": "bad-1", "client_id": "c", "kind": "install-model", "params": {"name": "x"}}
    rec.call("POST", "/v2/manager/queue/task", "POST_queue_task_missing_fields", json_body=bad)
    wrong = {"ui_id": "bad-2", "client_id": "c", "kind": "download", "params": {}}
    rec.call("POST", "/v2/manager/queue/task", "POST_queue_task_unknown_kind", json_body=wrong)
    rec.call(
        "POST",
        "/v2/manager/queue/task",
        "POST_queue_task_not_json",
        text_body="{",
        content_type="application/json",
    )
    rec.call(
        "POST",
        "/v2/manager/queue/start",
        "POST_queue_start_form_type",
        text_body="x",
        content_type="text/plain",
    )
    rec.call(
        "POST",
        "/v2/manager/reboot",
        "POST_reboot_form_type",
        text_body="x",
        content_type="application/x-www-form-urlencoded",
    )
    rec.call("GET", "/v2/manager/queue/history", "GET_history_unknown", params={"ui_id": "nope"})
    # The malformed task was accepted (its params fit UpdateAllPacksParams, all optional):
    # it raises in the worker, which then exits and leaves the next task pending.
    good = {
        "ui_id": "after-bad",
        "client_id": "c",
        "kind": "install-model",
        "params": model_params(manager, name="after"),
    }
    rec.call("POST", "/v2/manager/queue/task", "POST_queue_task_after_bad", json_body=good)
    rec.call("POST", "/v2/manager/queue/start", "POST_queue_start")
    wait_idle(rec)
    rec.call("GET", "/v2/manager/queue/history", "GET_history_bad", params={"ui_id": "bad-1"})
    rec.call(
        "GET", "/v2/manager/queue/history", "GET_history_after_bad", params={"ui_id": "after-bad"}
    )
    rec.call("POST", "/v2/manager/queue/reset", "POST_queue_reset")
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_after_reset")

    rec = Recorder(manager, out / "07_install_pack", scrub)
    rec.call("GET", f"/object_info/{manager.pack.node_class}", "GET_object_info_before")
    run_task(rec, "install", pack_params(manager.pack.id), "pack")
    rec.call("GET", "/v2/customnode/installed", "GET_customnode_installed")
    rec.call("GET", f"/object_info/{manager.pack.node_class}", "GET_object_info_no_restart")

    rec = Recorder(manager, out / "08_install_pack_unknown_id", scrub)
    run_task(rec, "install", pack_params("no-such-pack"), "nopack")

    rec = Recorder(manager, out / "09_install_pack_again", scrub)
    run_task(rec, "install", pack_params(manager.pack.id), "again")

    rec = Recorder(manager, out / "10_reboot", scrub)
    before = manager.restart_count
    rec.call("POST", "/v2/manager/reboot", "POST_reboot")
    manager.wait_restarted(before)
    rec.note("restart.json", {"restart_count_before": before, "after": manager.restart_count})
    rec.call("GET", "/v2/manager/version", "GET_version_after")
    rec.call("GET", f"/object_info/{manager.pack.node_class}", "GET_object_info_after")
    rec.call("GET", "/v2/manager/queue/history", "GET_history_after_restart")
    history = rec.call("GET", "/v2/manager/queue/history_list", "GET_history_list")
    batches = history.json()["ids"] if history is not None else []
    if batches:
        rec.call(
            "GET", "/v2/manager/queue/history", "GET_history_batch", params={"id": batches[-1]}
        )

    rec = Recorder(manager, out / "11_queue_reset", scrub)
    for n in (1, 2):
        task = {
            "ui_id": f"reset-{n}",
            "client_id": "c",
            "kind": "install-model",
            "params": model_params(manager, name=f"r{n}"),
        }
        rec.call("POST", "/v2/manager/queue/task", "POST_queue_task", json_body=task)
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status")
    rec.call("POST", "/v2/manager/queue/reset", "POST_queue_reset")
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_after")


def strong_security(manager: RealManager, out: Path, scrub: Scrubber) -> None:
    """Scenario 12: security_level strong refuses the reboot, and fails install tasks."""
    manager.restart(config={"security_level": "strong"})
    rec = Recorder(manager, out / "12_security_strong", scrub)
    rec.call("GET", "/v2/manager/version", "GET_version")
    rec.call("POST", "/v2/manager/reboot", "POST_reboot")
    params = model_params(manager, name="refused")
    run_task(rec, "install-model", params, "refused", "ws_messages_model")
    pack = manager.add_pack("comfycine-refused-pack", "ComfycineRefusedNode")
    run_task(rec, "install", pack_params(pack.id), "refusedpack", "ws_messages_pack")
    rec.call("POST", "/v2/manager/db_mode", "POST_db_mode", json_body={"value": "local"})


def remote_listener(manager: RealManager, out: Path, scrub: Scrubber) -> None:
    """Scenarios 22-23: a non-local listener (a PC on the network), then personal_cloud.

    ``--listen localhost`` binds loopback only, but Manager applies its non-local rules.
    """
    manager.restart(config={}, listen="localhost")
    rec = Recorder(manager, out / "22_remote_listener", scrub)
    rec.call("GET", "/v2/manager/version", "GET_version")
    params = model_params(manager, name="remote")
    run_task(rec, "install-model", params, "remote", "ws_messages_model")
    pack = manager.add_pack("comfycine-remote-pack", "ComfycineRemoteNode")
    run_task(rec, "install", pack_params(pack.id), "remotepack", "ws_messages_pack")
    rec.call("POST", "/v2/manager/db_mode", "POST_db_mode", json_body={"value": "cache"})

    manager.restart(config={"network_mode": "personal_cloud"})
    rec = Recorder(manager, out / "23_remote_personal_cloud", scrub)
    run_task(rec, "install-model", model_params(manager, name="cloud"), "cloud")
    run_task(rec, "install", pack_params(pack.id), "cloudpack", "ws_messages_pack")
    manager.restart(config={}, listen="127.0.0.1")


def legacy_ui(manager: RealManager, out: Path, scrub: Scrubber) -> None:
    """Scenarios 13-17: the legacy UI's routes (``--enable-manager-legacy-ui``)."""
    gone = manager.add_model("comfycine-gone.safetensors")
    (manager.files.root / gone.filename).unlink()  # listed, but its URL answers 404
    ckpt = manager.add_model("comfycine-old.ckpt")
    manager.restart(config={}, legacy_ui=True)
    wanted_models = {manager.model.filename, gone.filename, ckpt.filename}

    rec = Recorder(manager, out / "13_legacy_presence", scrub)
    rec.call("GET", "/v2/manager/version", "GET_version")
    rec.call("GET", "/v2/manager/is_legacy_manager_ui", "GET_is_legacy_manager_ui")
    rec.call(
        "GET",
        "/v2/externalmodel/getlist",
        "GET_externalmodel_getlist",
        params={"mode": "cache"},
        trim=keep_list_items("models", lambda m: m.get("filename") in wanted_models),
    )
    rec.call(
        "GET",
        "/v2/customnode/getlist",
        "GET_customnode_getlist",
        params={"mode": "cache", "skip_update": "true"},
        trim=lambda body: {
            **body,
            "node_packs": keep_keys([manager.pack.id])(body.get("node_packs", {})),
        },
    )
    rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_idle")
    rec.call("POST", "/v2/manager/queue/task", "POST_queue_task_absent", json_body={})

    rec = Recorder(manager, out / "14_legacy_install_model", scrub)
    body = {**model_params(manager), "ui_id": "legacy-model"}
    with ws_tap(manager, "comfycine-legacy") as frames:
        rec.call("POST", "/v2/manager/queue/install_model", "POST_install_model", json_body=body)
        rec.call("GET", "/v2/manager/queue/status", "GET_queue_status_before_start")
        rec.call("POST", "/v2/manager/queue/start", "POST_queue_start")
        wait_idle(rec)
        time.sleep(1)
    rec.note("ws_messages.json", frames)

    rec = Recorder(manager, out / "15_legacy_model_policy", scrub)
    unlisted = {**model_params(manager, manager.files.url("unlisted.safetensors")), "ui_id": "u"}
    rec.call(
        "POST", "/v2/manager/queue/install_model", "POST_install_model_unlisted", json_body=unlisted
    )
    swapped = {**model_params(manager, manager.files.url("elsewhere.ckpt")), "ui_id": "s"}
    swapped["filename"] = ckpt.filename
    rec.call(
        "POST",
        "/v2/manager/queue/install_model",
        "POST_install_model_ckpt_other_url",
        json_body=swapped,
    )
    rec.call("POST", "/v2/manager/queue/reset", "POST_queue_reset")

    rec = Recorder(manager, out / "16_legacy_batch", scrub)
    pack = manager.add_pack("comfycine-legacy-pack", "ComfycineLegacyNode")
    batch = {
        "batch_id": "comfycine-batch-1",
        "install_model": [
            {**model_params(manager, gone.url), "ui_id": "batch-gone", "id": gone.filename},
        ],
        "install": [{**pack_params(pack.id), "files": [pack.url], "ui_id": "batch-pack"}],
    }
    with ws_tap(manager, "comfycine-batch") as frames:
        rec.call("POST", "/v2/manager/queue/batch", "POST_queue_batch", json_body=batch)
        wait_idle(rec)
        time.sleep(1)
    rec.note("ws_messages.json", frames)
    rec.call("GET", "/v2/manager/queue/history_list", "GET_history_list")
    rec.call(
        "GET", "/v2/manager/queue/history", "GET_history_batch", params={"id": "comfycine-batch-1"}
    )
    rec.call("GET", "/v2/customnode/installed", "GET_customnode_installed")

    rec = Recorder(manager, out / "17_legacy_git_url", scrub)
    rec.call(
        "POST",
        "/v2/customnode/install/git_url",
        "POST_install_git_url",
        text_body=manager.pack.url,
        content_type="text/plain",
    )


def manager_absent(manager: RealManager, out: Path, scrub: Scrubber) -> None:
    """Scenario 18: the same ComfyUI 0.3.75 without Manager loaded."""
    manager.restart(legacy_ui=False, enabled=False)
    rec = Recorder(manager, out / "18_manager_absent", scrub)
    for path in ("/v2/manager/version", "/manager/version", "/v2/customnode/getmappings"):
        rec.call("GET", path, "GET" + path.replace("/", "_"), params={"mode": "cache"})
    rec.call("POST", "/v2/manager/queue/task", "POST_v2_manager_queue_task", json_body={})
    rec.call("POST", "/manager/queue/install", "POST_manager_queue_install", json_body={})
    rec.call("POST", "/v2/manager/reboot", "POST_v2_manager_reboot")


def manager_v3(manager: RealManager, out: Path, scrub: Scrubber, checkout: Path) -> None:
    """Scenarios 19-22: a git-cloned ComfyUI-Manager 3.x custom node (routes without /v2).

    3.x is not on PyPI: ``checkout`` is a clone of github.com/ltdrdata/ComfyUI-Manager at a
    3.x tag. Its files live in ``user/default/ComfyUI-Manager`` (config.ini, cache/).
    """
    node_dir = manager.base_dir / "custom_nodes" / "ComfyUI-Manager"
    git = ["git", "clone", "-q", str(checkout), str(node_dir)]
    subprocess.run(git, check=True, capture_output=True, timeout=120)
    files = manager.base_dir / "user" / "default" / "ComfyUI-Manager"
    files.mkdir(parents=True, exist_ok=True)
    config = "[default]\nnetwork_mode = offline\nsecurity_level = normal\nuse_uv = False\n"
    (files / "config.ini").write_text(config)
    pack = manager.add_pack("comfycine-v3-pack", "ComfycineV3Node")
    ManagerDB(node_dir, manager.db.packs, manager.db.models).write(files / "cache")
    manager.restart(enabled=False)

    rec = Recorder(manager, out / "19_v3_presence", scrub)
    rec.call("GET", "/manager/version", "GET_manager_version")
    rec.call("GET", "/v2/manager/version", "GET_v2_manager_version")
    keep = keep_keys([CORE_PACK, pack.url], samples=1)
    rec.call(
        "GET", "/customnode/getmappings", "GET_getmappings", params={"mode": "cache"}, trim=keep
    )
    wanted = {manager.model.filename}
    rec.call(
        "GET",
        "/externalmodel/getlist",
        "GET_externalmodel_getlist",
        params={"mode": "cache"},
        trim=keep_list_items("models", lambda m: m.get("filename") in wanted),
    )
    rec.call("GET", "/manager/queue/status", "GET_queue_status")
    rec.call("POST", "/manager/queue/start", "POST_queue_start")

    rec = Recorder(manager, out / "20_v3_install", scrub)
    model = {**model_params(manager), "filename": manager.model.filename, "ui_id": "v3-model"}
    unit = {**pack_params(pack.id), "files": [pack.url], "ui_id": "v3-pack"}
    gone = {**model_params(manager, manager.missing_model_url), "ui_id": "v3-gone"}
    with ws_tap(manager, "comfycine-v3") as frames:
        rec.call("POST", "/manager/queue/install_model", "POST_install_model", json_body=model)
        rec.call(
            "POST", "/manager/queue/install_model", "POST_install_model_unlisted", json_body=gone
        )
        rec.call("POST", "/manager/queue/install", "POST_queue_install", json_body=unit)
        rec.call("GET", "/manager/queue/status", "GET_queue_status_before_start")
        rec.call("GET", "/manager/queue/start", "GET_queue_start")
        deadline = time.monotonic() + TASK_TIMEOUT
        while time.monotonic() < deadline:
            status = httpx.get(f"{manager.url}/manager/queue/status", timeout=10).json()
            if not status["is_processing"]:
                break
            time.sleep(0.2)
        rec.call("GET", "/manager/queue/status", "GET_queue_status_after")
        time.sleep(1)
    rec.note("ws_messages.json", frames)
    rec.call("GET", "/customnode/installed", "GET_customnode_installed")

    rec = Recorder(manager, out / "21_v3_reboot", scrub)
    before = manager.restart_count
    rec.call("GET", "/manager/reboot", "GET_manager_reboot")
    manager.wait_restarted(before)
    rec.call("GET", f"/object_info/{pack.node_class}", "GET_object_info_after")


def main(argv: list[str]) -> None:
    """Record every scenario into OUT (argv[1]); argv[2]: a ComfyUI-Manager 3.x checkout."""
    out = Path(argv[1]) if len(argv) > 1 else OUT
    checkout = Path(argv[2]) if len(argv) > 2 else None
    prepared = prepare_install()
    with (
        tempfile.TemporaryDirectory(prefix="manager-captures-") as scratch,
        manager_session(Path(scratch), prepared) as manager,
    ):
        scrub = Scrubber(manager)
        default_ui(manager, out, scrub)
        strong_security(manager, out, scrub)
        remote_listener(manager, out, scrub)
        legacy_ui(manager, out, scrub)
        manager_absent(manager, out, scrub)
        if checkout is not None:
            manager_v3(manager, out, scrub, checkout)
    print(f"captures written to {out}")


if __name__ == "__main__":
    main(sys.argv)

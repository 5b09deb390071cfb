"""comfycine batch against the real CPU ComfyUI: a runtime failure among good items, and
a batch killed with SIGKILL midway then run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.batch.support import make_pngs
from tests.cli_support import Isolation, files_under, invoke, kill_midway, ledger_rows
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

# Enough CPU per job (about a second) that one job is still queued or running when
# another has finished: the moment the SIGKILL test waits for.
SLOW_SIDE = 768
SLOW_BLURS = 8


def slow_blur_graph(prefix: str) -> dict[str, Any]:
    """LoadImage (the batch input) → a chain of blurs → SaveImage under ``prefix``."""
    graph: dict[str, Any] = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "PARAM_IMAGE_INPUT"}}
    }
    previous = "1"
    for index in range(2, SLOW_BLURS + 2):
        graph[str(index)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [previous, 0], "blur_radius": 15, "sigma": 4.0},
        }
        previous = str(index)
    graph["99"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [previous, 0], "filename_prefix": prefix},
    }
    return graph


def history_inputs(real: RealComfyUI) -> list[str]:
    """The LoadImage file name of every prompt in the server's history."""
    history = httpx.get(f"{real.url}/history", params={"max_items": 10000}, timeout=10).json()
    names = []
    for entry in history.values():
        graph = entry["prompt"][2]
        names += [
            str(node["inputs"]["image"])
            for node in graph.values()
            if node.get("class_type") == "LoadImage"
        ]
    return names


def test_runtime_failure_among_good_items(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """Three good images and one corrupt PNG: 3 succeeded, 1 failed with its error, exit 5."""
    folder = tmp_path / "in"
    make_pngs(folder, 3, side=48, prefix=f"ok-{uuid.uuid4().hex[:6]}-")
    (folder / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    result = invoke("batch", str(folder), "testblur", "--set", "radius=2", "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    items = {i["name"]: i for i in error["details"]["items"]}
    assert error["code"] == "batch_failed_items"
    assert (error["details"]["succeeded"], error["details"]["failed"]) == (3, 1)
    broken = items["zz-broken.png"]
    assert broken["status"] == "failed" and broken["error"] == "node_exception"
    assert "Input image" in broken["reason"] or "LoadImage" in broken["reason"]
    outputs = [p for p in files_under(isolation.output_dir) if p.suffix == ".png"]
    assert len(outputs) == 3


def test_sigkill_midway_then_rerun_loses_nothing_and_repeats_nothing(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """SIGKILL midway, then rerun: every item done, one server job per item."""
    tag = uuid.uuid4().hex[:8]
    (isolation.workflow_dir / "slowblur.json").write_text(json.dumps(slow_blur_graph(tag)))
    folder = tmp_path / "in"
    count = 5
    make_pngs(folder, count, side=SLOW_SIDE, prefix=f"{tag}-")
    command = [sys.executable, "-m", "comfycine", "batch", str(folder), "slowblur", "--json"]
    kill_midway(command, isolation)
    killed = ledger_rows(isolation)
    assert len([r for r in killed if r.status == "succeeded"]) < count
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    data = json.loads(rerun.stdout)["data"]
    assert data["succeeded"] == count and "resume" in [i["plan"] for i in data["items"]]
    rows = ledger_rows(isolation)
    succeeded = [r for r in rows if r.status == "succeeded"]
    assert sorted(r.item_key or "" for r in succeeded) == sorted(i["key"] for i in data["items"])
    outputs = [p for p in files_under(isolation.output_dir) if p.suffix == ".png"]
    assert len(outputs) == count
    on_server = [name for name in history_inputs(real) if name.startswith(tag)]
    assert sorted(on_server) == sorted(f"{tag}-{i:02d}.png" for i in range(count))

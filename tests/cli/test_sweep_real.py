"""A 4-take sweep of a model-free template on the real CPU ComfyUI, killed with SIGKILL
midway and run again: every take done, none rendered twice."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.cli_support import Isolation, files_under, kill_midway, ledger_rows
from tests.graphs import blur_chain
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

TAKES = 4


def seeded_blur(prefix: str) -> dict[str, object]:
    """A blur chain (a few seconds per take here, so one is still in flight when another
    ends: the moment the kill waits for) whose colour is the take's seed."""
    graph = blur_chain(16, side=1024, batch=1, prefix=prefix)
    graph["1"]["inputs"]["color"] = "PARAM_INT_SEED"  # type: ignore[index]
    return graph


def server_seeds(real: RealComfyUI, prefix: str) -> list[int]:
    """The colour (the take's seed) of every prompt of ours in the server's history."""
    history = httpx.get(f"{real.url}/history", params={"max_items": 10000}, timeout=10).json()
    seeds = []
    for entry in history.values():
        graph = entry["prompt"][2]
        if graph.get("999", {}).get("inputs", {}).get("filename_prefix") == prefix:
            seeds.append(int(graph["1"]["inputs"]["color"]))
    return seeds


def test_a_sweep_killed_midway_resumes_without_rendering_a_take_twice(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """SIGKILL while takes are in flight, then the same command: 4 takes, 4 server jobs."""
    tag = f"sweep-{uuid.uuid4().hex[:8]}"
    (isolation.workflow_dir / "seededblur.json").write_text(json.dumps(seeded_blur(tag)))
    meta = {"bounds": {"seed": {"min": 0, "max": 16777215}}}
    (isolation.workflow_dir / "seededblur.meta.json").write_text(json.dumps(meta))
    command = [
        sys.executable, "-m", "comfycine", "generate", "seededblur",
        "--takes", str(TAKES), "--json",
    ]  # fmt: skip
    kill_midway(command, isolation)
    assert len([r for r in ledger_rows(isolation) if r.status == "succeeded"]) < TAKES
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    data = json.loads(rerun.stdout)["data"]
    assert data["succeeded"] == TAKES and "resume" in [i["plan"] for i in data["items"]]
    seeds = sorted(int(i["cell"]["seed"]) for i in data["items"])
    assert sorted(server_seeds(real, tag)) == seeds  # each take rendered exactly once
    outputs = [p for p in files_under(isolation.output_dir) if p.suffix == ".png"]
    assert len(outputs) == TAKES

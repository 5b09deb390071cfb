"""Phone exports on the real CPU ComfyUI: what the phone sends runs as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

FIXTURES = Path(__file__).parent.parent / "graph" / "fixtures" / "convert"


def test_portal_export_runs_as_exported(real: RealComfyUI, isolation: Isolation) -> None:
    """The Comfy Portal JSON of a model-free template is accepted and run by ComfyUI."""
    out = isolation.root / "portal.json"
    exported = invoke("mobile", "portal-export", "testpattern", "--out", str(out), "--json")
    assert exported.exit_code == 0, exported
    ran = invoke("workflow", "run", str(out), "--json")
    assert ran.exit_code == 0, ran
    outputs = ran.envelope()["data"]["outputs"]
    assert outputs and all(Path(p).is_file() for p in outputs)


def test_mcww_tagged_workflow_still_runs(real: RealComfyUI, isolation: Isolation) -> None:
    """A workflow tagged for MCWW (primitives added) converts and runs on the server."""
    ui = json.loads((FIXTURES / "txt2img" / "ui.json").read_text())
    for node in ui["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["widgets_values"] = [real.checkpoint]
        if node["type"] == "EmptyLatentImage":
            node["widgets_values"] = [64, 64, 1]
        if node["type"] == "KSampler":
            node["widgets_values"][2] = 2  # steps: keep the CPU run short
    source = isolation.root / "flow.json"
    source.write_text(json.dumps(ui))
    tagged = invoke("mobile", "mcww-tag", str(source), "--json")
    assert tagged.exit_code == 0, tagged
    data = tagged.envelope()["data"]
    assert data["catalog"] == "live" and any(t["added"] for t in data["tags"])
    api = isolation.root / "flow-api.json"
    converted = invoke("workflow", "convert", data["path"], "-o", str(api), "--json")
    assert converted.exit_code == 0, converted
    graph = json.loads(api.read_text())
    assert {"PrimitiveInt", "PrimitiveFloat"} <= {n["class_type"] for n in graph.values()}
    ran = invoke("workflow", "run", str(api), "--json")
    assert ran.exit_code == 0, ran
    assert all(Path(p).is_file() for p in ran.envelope()["data"]["outputs"])

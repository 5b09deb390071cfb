"""Retakes on the real CPU ComfyUI: the same graph and seed again, a variation, lineage,
and a template changed since."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import Isolation, invoke, ledger_rows, rendered_bytes
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real


def noisy(prefix: str, strength: float = 0.5) -> dict[str, Any]:
    """A model-free template whose pixels depend on its seed (ImageAddNoise)."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": "PARAM_INT_COLOR"},
        },
        "2": {
            "class_type": "ImageAddNoise",
            "inputs": {"image": ["1", 0], "seed": "PARAM_INT_SEED", "strength": strength},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def install(isolation: Isolation, graph: dict[str, Any]) -> None:
    """Write the noisy template (and its bounds) into the isolated workflow folder."""
    (isolation.workflow_dir / "noisy.json").write_text(json.dumps(graph))
    meta = {"defaults": {"color": 3368601}, "bounds": {"seed": {"min": 0, "max": 2**32 - 1}}}
    (isolation.workflow_dir / "noisy.meta.json").write_text(json.dumps(meta))


def server_graph(real: RealComfyUI, job: str) -> dict[str, Any]:
    """The graph the server ran for ``job``, from its history."""
    history = httpx.get(f"{real.url}/history/{job}", timeout=10).json()
    return dict(history[job]["prompt"][2])


def ok(*argv: str) -> dict[str, Any]:
    """Run a command that must succeed; its envelope's data."""
    result = invoke(*argv, "--json")
    assert result.exit_code == 0, result
    return dict(result.envelope()["data"])


def test_a_retake_renders_the_same_graph_and_seed_and_keeps_the_lineage(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """retake FILE: the server runs the same graph with the same seed (same pixels); the
    new take names its parent and the parent lists it as a child."""
    install(isolation, noisy(f"retake-{uuid.uuid4().hex[:8]}"))
    first = ok("generate", "noisy", "--set", "color=8421504")
    file = Path(first["outputs"][0])
    again = ok("retake", str(file))
    assert again["parent"] == first["job"] and again["retake"]["mode"] == "template"
    assert again["seeds"] == first["seeds"] and again["job"] != first["job"]
    assert server_graph(real, again["job"]) == server_graph(real, first["job"])
    assert rendered_bytes(Path(again["outputs"][0])) == rendered_bytes(file)
    parent = ok("take", str(file))["lineage"]
    assert [(c["job"], c["kind"]) for c in parent["children"]] == [(again["job"], "retake")]
    child = ok("take", again["outputs"][0])
    assert child["parent"] == first["job"] and child["lineage"]["parent"]["job"] == first["job"]


def test_a_retake_with_another_seed_changes_only_the_seed(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """retake JOB --seed N: the graph differs in its seed alone, and so do the pixels."""
    install(isolation, noisy(f"reseed-{uuid.uuid4().hex[:8]}"))
    first = ok("generate", "noisy", "--seed", "11")
    varied = ok("retake", first["job"][:8], "--seed", "12", "--set", "color=255")
    assert varied["seeds"] == {"seed": 12} and varied["params"]["color"] == 255
    before, after = server_graph(real, first["job"]), server_graph(real, varied["job"])
    assert after["2"]["inputs"]["seed"] == 12 and after["1"]["inputs"]["color"] == 255
    after["2"]["inputs"]["seed"], after["1"]["inputs"]["color"] = 11, 3368601
    assert after == before
    assert rendered_bytes(Path(varied["outputs"][0])) != rendered_bytes(Path(first["outputs"][0]))


def test_a_template_changed_since_is_refused_then_forced(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """The template's noise strength changed: retake names the change and sends nothing;
    --force renders with the template as it is now."""
    tag = f"changed-{uuid.uuid4().hex[:8]}"
    install(isolation, noisy(tag, strength=0.5))
    first = ok("generate", "noisy")
    install(isolation, noisy(tag, strength=0.9))
    jobs_before = len(ledger_rows(isolation))
    refused = invoke("retake", first["job"], "--json")
    assert refused.exit_code == 2, refused
    error = refused.envelope()["error"]
    assert error["code"] == "template_changed" and "strength: 0.5 → 0.9" in error["message"]
    assert "--force" in error["hint"] and len(ledger_rows(isolation)) == jobs_before
    forced = ok("retake", first["job"], "--force")
    assert server_graph(real, forced["job"])["2"]["inputs"]["strength"] == 0.9
    assert forced["retake"]["template_changes"] and forced["seeds"] == first["seeds"]

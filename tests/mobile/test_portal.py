"""Comfy Portal exports: clean API JSON with readable titles, and the server to enter."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from comfycine.errors import UsageError
from comfycine.mobile.portal import portal_export, portal_server
from comfycine.settings import resolve

from .support import SHIPPED, shipped, unexpected_problems

PC = "http://100.64.1.2:8188"


@pytest.mark.parametrize("name", SHIPPED)
def test_export_is_clean_and_valid(name: str) -> None:
    """No placeholder, a readable title on every node, and only models/packs missing."""
    template = shipped(name)
    result = portal_export(template, PC, rng=random.Random(1))
    graph = result.document
    assert "PARAM_" not in json.dumps(graph)
    assert all(set(n) == {"class_type", "inputs", "_meta"} for n in graph.values())
    assert unexpected_problems(graph, template) == []


@pytest.mark.parametrize("name", [n for n in SHIPPED if "prompt" in shipped(n).parameters])
def test_prompt_and_output_titles(name: str) -> None:
    """The prompt's node is titled "Prompt" and the output node "Output"."""
    template = shipped(name)
    graph = portal_export(template, PC, rng=random.Random(1)).document
    prompt_node = template.parameters["prompt"].targets[0].node_id
    titles = [n["_meta"]["title"] for n in graph.values()]
    assert graph[prompt_node]["_meta"]["title"] == "Prompt" and titles.count("Output") == 1


def test_host_and_port_for_the_app() -> None:
    """The data carries the host without scheme and the port, for the app's server form."""
    data = portal_export(shipped("testimage"), PC).to_dict()
    assert (data["host"], data["port"]) == ("100.64.1.2", 8188)
    assert "Host 100.64.1.2" in data["hint"] and not any("points at" in w for w in data["warnings"])


def test_loopback_url_is_warned() -> None:
    """A 127.0.0.1 server is warned about first: the phone needs the Tailscale address."""
    warnings = portal_export(shipped("testimage"), "http://127.0.0.1:8188").warnings
    assert "Tailscale address" in warnings[0]


def test_written_once(tmp_path: Path) -> None:
    """With an output file the JSON is written there, never over an existing file."""
    out = tmp_path / "portal.json"
    result = portal_export(shipped("testimage"), PC, out=out, rng=random.Random(1))
    assert result.path == out and json.loads(out.read_text()) == result.document
    with pytest.raises(UsageError):
        portal_export(shipped("testimage"), PC, out=out, rng=random.Random(2))
    assert json.loads(out.read_text()) == result.document


def test_cloud_target_is_refused(tmp_path: Path) -> None:
    """Comfy Portal needs a ComfyUI server: the cloud target is a usage error."""
    settings = resolve({"cache_dir": tmp_path}, env={}, read_dotenv_file=False)
    with pytest.raises(UsageError):
        portal_server(settings, "cloud")
    assert portal_server(settings, None) == settings.comfyui_url

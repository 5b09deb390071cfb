"""ComfyScript against the real CPU ComfyUI: transpile, build, and the built graph runs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.comfyscript import build_graph_from_script, transpile
from comfycine.errors import UsageError
from tests.comfyscript.support import (
    MODEL_FREE,
    MODEL_FREE_CLASSES,
    class_types,
    model_free_graph,
    write_script,
)
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

# How long a model-free graph may take to show up finished in /history (it runs in ms).
HISTORY_WAIT = 60.0


def server_state(url: str) -> tuple[set[str], Any]:
    """The prompt ids in /history and the /queue contents."""
    with httpx.Client(base_url=url, timeout=10) as client:
        history = client.get("/history").json()
        queue = client.get("/queue").json()
    return set(history), queue


def run_on_server(url: str, graph: dict[str, Any]) -> dict[str, Any]:
    """POST the graph with a client id and poll /history until it finished; its entry."""
    with httpx.Client(base_url=url, timeout=10) as client:
        answer = client.post("/prompt", json={"prompt": graph, "client_id": uuid.uuid4().hex})
        assert answer.status_code == 200, answer.text
        prompt_id = answer.json()["prompt_id"]
        deadline = time.monotonic() + HISTORY_WAIT
        while time.monotonic() < deadline:
            entry = client.get(f"/history/{prompt_id}").json().get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                return dict(entry)
            time.sleep(0.1)
    pytest.fail(f"prompt {prompt_id} not in /history after {HISTORY_WAIT} s")


def test_transpile_model_free_graph(real_comfyui: RealComfyUI) -> None:
    """The real server's node list turns the API graph into EmptyImage … SaveImage calls."""
    code = transpile(model_free_graph(), real_comfyui.url)
    assert "EmptyImage(" in code
    assert "SaveImage(" in code
    assert "import" not in code


def test_built_graph_is_accepted_and_runs(real_comfyui: RealComfyUI) -> None:
    """The example builds one graph of exactly its three classes, which the server runs."""
    before = server_state(real_comfyui.url)
    result = build_graph_from_script(MODEL_FREE, real_comfyui.url)
    assert server_state(real_comfyui.url) == before
    assert len(result.graphs) == 1
    graph = result.graphs[0]
    assert class_types(graph) == MODEL_FREE_CLASSES
    entry = run_on_server(real_comfyui.url, graph)
    assert entry["status"]["status_str"] == "success"
    images = [image for output in entry["outputs"].values() for image in output["images"]]
    assert [image["subfolder"] for image in images] == ["comfycine"]
    assert images[0]["filename"].startswith("script_")


def test_raising_script_is_script_failed(real_comfyui: RealComfyUI, tmp_path: Path) -> None:
    """A script raising after building nodes fails with its traceback; nothing is queued."""
    before = server_state(real_comfyui.url)
    script = write_script(
        tmp_path,
        """\
        with Workflow():
            SaveImage(EmptyImage(8, 8, 1, 0), "never")
            raise KeyError("shot_12")
        """,
    )
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(script, real_comfyui.url)
    assert caught.value.code == "script_failed"
    assert caught.value.details["line"] == 6
    assert 'raise KeyError("shot_12")' in "\n".join(caught.value.details["traceback"])
    assert server_state(real_comfyui.url) == before


def test_script_without_workflow_is_script_no_workflow(
    real_comfyui: RealComfyUI, tmp_path: Path
) -> None:
    """Building nodes outside any workflow gives script_no_workflow; nothing is queued."""
    before = server_state(real_comfyui.url)
    script = write_script(tmp_path, "image = ImageInvert(EmptyImage(8, 8, 1, 0))\n")
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(script, real_comfyui.url)
    assert caught.value.code == "script_no_workflow"
    assert server_state(real_comfyui.url) == before

"""build_graph_from_script and transpile against the fake ComfyUI (a child process each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.comfyscript import build_graph_from_script, transpile
from comfycine.errors import TargetUnreachable, TemplateInvalid, UsageError
from comfycine.localserver.process import pick_free_port
from tests.comfyscript.support import (
    MODEL_FREE,
    MODEL_FREE_CLASSES,
    class_types,
    model_free_graph,
    write_script,
)
from tests.fakecomfy.server import FakeComfy

# Requests that would change the server's queue; building must send none of them.
QUEUEING = {("POST", "/prompt"), ("POST", "/queue"), ("POST", "/interrupt")}


def queueing_requests(fake: FakeComfy) -> list[tuple[str, str]]:
    """The requests the fake received that queue, clear or interrupt."""
    return [request for request in fake.requests if request in QUEUEING]


def test_example_script_yields_its_graph_without_queueing(fake_comfy: FakeComfy) -> None:
    """The model-free example gives one API graph of its three nodes; nothing is posted."""
    result = build_graph_from_script(MODEL_FREE, fake_comfy.url)
    assert len(result.graphs) == 1
    graph = result.graphs[0]
    assert class_types(graph) == MODEL_FREE_CLASSES
    save = next(node for node in graph.values() if node["class_type"] == "SaveImage")
    assert save["inputs"]["filename_prefix"] == "comfycine/script"
    assert ("GET", "/object_info") in fake_comfy.requests
    assert queueing_requests(fake_comfy) == []


def test_script_output_is_captured_not_inherited(fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """What the script prints comes back in stdout/stderr of the result."""
    script = write_script(
        tmp_path,
        """
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        with Workflow():
            SaveImage(EmptyImage(8, 8, 1, 0), "x")
        """,
    )
    result = build_graph_from_script(script, fake_comfy.url)
    assert "to stdout" in result.stdout
    assert "to stderr" in result.stderr
    assert len(result.graphs) == 1


def test_every_way_of_queueing_yields_a_graph_in_order(
    fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """with-blocks, Workflow.queue(), queue.put() and .wait() each yield one graph."""
    script = write_script(
        tmp_path,
        """
        with Workflow(wait=True, cancel_all=True):
            SaveImage(EmptyImage(8, 8, 1, 0), "first")
        wf = Workflow()
        wf += SaveImage(EmptyImage(8, 8, 1, 0), "second")
        wf.queue()
        queue.put(SaveImage(EmptyImage(8, 8, 1, 0), "third"))
        assert PreviewImage(EmptyImage(8, 8, 1, 0)).wait() is None
        queue.cancel_all()
        """,
    )
    result = build_graph_from_script(script, fake_comfy.url)
    prefixes = [
        node["inputs"].get("filename_prefix")
        for graph in result.graphs
        for node in graph.values()
        if node["class_type"] in {"SaveImage", "PreviewImage"}
    ]
    assert prefixes == ["first", "second", "third", None]
    assert queueing_requests(fake_comfy) == []


def test_load_with_another_url_still_uses_the_target(fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """load() naming another server is ignored (noted on stderr); nodes come from the target."""
    script = write_script(
        tmp_path,
        """
        from comfy_script.runtime import *
        load("http://127.0.0.1:9/")
        from comfy_script.runtime.nodes import *
        with Workflow():
            SaveImage(EmptyImage(8, 8, 1, 0), "x")
        """,
        header=False,
    )
    result = build_graph_from_script(script, fake_comfy.url)
    assert len(result.graphs) == 1
    assert "load('http://127.0.0.1:9/') ignored" in result.stderr


def test_script_that_raises_is_script_failed(fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """A script raising before touching the runtime gives script_failed with its traceback."""
    script = write_script(
        tmp_path,
        """\
        print("before")
        raise ValueError("no such shot")
        """,
        header=False,
    )
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(script, fake_comfy.url)
    error = caught.value
    assert error.code == "script_failed"
    assert error.exit_code == 2
    assert error.message == "s.py failed (line 2): ValueError: no such shot"
    assert error.details["line"] == 2
    assert error.details["traceback"][-1] == "ValueError: no such shot"
    assert 'raise ValueError("no such shot")' in "\n".join(error.details["traceback"])
    assert not any("runpy" in line for line in error.details["traceback"])
    assert error.details["stdout"] == "before\n"


def test_nonzero_exit_is_script_failed(fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """sys.exit(3) fails the build; sys.exit(0) after a workflow does not."""
    failing = write_script(tmp_path, "import sys\nsys.exit(3)\n", name="bad.py")
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(failing, fake_comfy.url)
    assert caught.value.code == "script_failed"
    assert "status 3" in caught.value.message
    passing = write_script(
        tmp_path,
        """
        import sys
        with Workflow():
            SaveImage(EmptyImage(8, 8, 1, 0), "x")
        sys.exit(0)
        """,
        name="good.py",
    )
    assert len(build_graph_from_script(passing, fake_comfy.url).graphs) == 1


def test_script_without_workflow_is_script_no_workflow(
    fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """Nodes built outside any workflow give script_no_workflow with the pattern to use."""
    script = write_script(tmp_path, "image = EmptyImage(8, 8, 1, 0)\n")
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(script, fake_comfy.url)
    assert caught.value.code == "script_no_workflow"
    assert "with Workflow():" in caught.value.hint
    assert "with Workflow():" in caught.value.details["example"]


def test_script_over_time_is_script_timeout(fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """A script still running at the timeout is killed and reported as script_timeout."""
    script = write_script(
        tmp_path, "import time\nprint('waiting', flush=True)\ntime.sleep(600)\n", header=False
    )
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(script, fake_comfy.url, timeout=3)
    assert caught.value.code == "script_timeout"


def test_missing_script_is_script_not_found(tmp_path: Path) -> None:
    """A path that is not a file is refused before any process starts."""
    with pytest.raises(UsageError) as caught:
        build_graph_from_script(tmp_path / "nope.py", "http://127.0.0.1:9")
    assert caught.value.code == "script_not_found"


def test_unreachable_server_is_target_unreachable(tmp_path: Path) -> None:
    """Nothing listening at the URL: TargetUnreachable, and the script never runs."""
    marker = tmp_path / "ran"
    script = write_script(tmp_path, f"open({str(marker)!r}, 'w').close()\n", header=False)
    url = f"http://127.0.0.1:{pick_free_port()}"
    with pytest.raises(TargetUnreachable):
        build_graph_from_script(script, url)
    assert not marker.exists()
    with pytest.raises(TargetUnreachable):
        transpile(model_free_graph(), url)


def test_transpile_gives_node_calls(fake_comfy: FakeComfy) -> None:
    """The API graph becomes ComfyScript calls, one per node, without runtime imports."""
    code = transpile(model_free_graph(), fake_comfy.url)
    assert code.splitlines() == [
        "image = EmptyImage(64, 64, 1, 16711680)",
        "image = ImageInvert(image)",
        "SaveImage(image, 'comfycine/transpiled')",
    ]


def test_transpile_of_unknown_class_is_template_invalid(fake_comfy: FakeComfy) -> None:
    """A class the server lacks is named in the error."""
    graph = {"1": {"class_type": "NoSuchNode", "inputs": {}}}
    with pytest.raises(TemplateInvalid) as caught:
        transpile(graph, fake_comfy.url)
    assert caught.value.details["class_types"] == ["NoSuchNode"]

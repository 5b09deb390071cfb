"""Graph checks, harness command line and error mapping: no server, no child process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comfycine.comfyscript import bridge, check_api_graph, harness
from comfycine.errors import (
    ComfycineError,
    ServerError,
    TargetUnreachable,
    TemplateInvalid,
    UsageError,
)
from tests.comfyscript.support import model_free_graph


def test_api_graph_is_accepted_unchanged() -> None:
    """A well-formed API graph passes the check and comes back as is."""
    graph = model_free_graph()
    assert check_api_graph(graph) is graph


@pytest.mark.parametrize(
    ("graph", "words"),
    [
        ([], "not an API-format graph"),
        ({}, "not an API-format graph"),
        ({"nodes": [], "links": [], "version": 0.4}, "UI format"),
        ({"1": {"inputs": {}}}, "no class_type"),
        ({"1": {"class_type": "SaveImage", "inputs": {"images": ["9", 0]}}}, "not in the graph"),
    ],
)
def test_non_api_graphs_are_template_invalid(graph: Any, words: str) -> None:
    """Lists, empty objects, UI format, class-less nodes and dangling links are refused."""
    with pytest.raises(TemplateInvalid) as caught:
        check_api_graph(graph)
    assert words in caught.value.message


def test_transpile_refuses_ui_format_before_starting_a_process() -> None:
    """transpile() checks the graph first: a UI workflow never reaches the harness."""
    with pytest.raises(TemplateInvalid):
        bridge.transpile({"nodes": [], "links": []}, "http://127.0.0.1:9")


def test_harness_command_runs_this_python_on_the_harness_file(tmp_path: Path) -> None:
    """The child is sys.executable running harness.py with the parsed-back arguments."""
    command = bridge.harness_command("build", "http://h:1", tmp_path / "o.json", tmp_path / "s.py")
    assert Path(command[1]) == Path(harness.__file__)
    args = harness.parse_args(command[2:])
    assert (args.command, args.url, args.out, args.script) == (
        "build",
        "http://h:1",
        tmp_path / "o.json",
        tmp_path / "s.py",
    )


def test_harness_parses_transpile_and_rejects_missing_url() -> None:
    """transpile takes a graph path; --url is required."""
    args = harness.parse_args(["transpile", "--url", "u", "--out", "o", "g.json"])
    assert (args.command, args.graph) == ("transpile", Path("g.json"))
    with pytest.raises(SystemExit):
        harness.parse_args(["build", "--out", "o", "s.py"])


def test_harness_result_file_is_json(tmp_path: Path) -> None:
    """The result is written whole under its final name, with no temporary left over."""
    out = tmp_path / "r.json"
    harness.write_result(out, {"graphs": [{"1": {}}]})
    assert out.read_text(encoding="utf-8") == '{"graphs": [{"1": {}}]}'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize(
    ("kind", "cls", "code"),
    [
        ("unreachable", TargetUnreachable, "target_unreachable"),
        ("server_error", ServerError, "server_error"),
        ("script_failed", UsageError, "script_failed"),
        ("unknown_node", TemplateInvalid, "invalid_template"),
        ("transpile_failed", TemplateInvalid, "invalid_template"),
        ("missing_dependency", ComfycineError, "comfyscript_missing"),
        ("something_new", ComfycineError, "unexpected"),
    ],
)
def test_harness_errors_map_to_the_error_tree(kind: str, cls: type, code: str) -> None:
    """Each error kind the harness writes becomes one comfycine error class and code."""
    error = bridge.error_from_harness({"kind": kind, "message": "m"}, server_url="http://h")
    assert type(error) is cls
    assert error.code == code


def test_script_failure_keeps_traceback_and_cleans_output() -> None:
    """script_failed carries the traceback lines and the script's output, escapes neutralised."""
    error = bridge.error_from_harness(
        {
            "kind": "script_failed",
            "message": "s.py failed (line 3): ValueError: \x1b[31mboom",
            "exception_type": "ValueError",
            "line": 3,
            "traceback": ['  File "s.py", line 3, in <module>', "ValueError: boom"],
        },
        server_url="http://h",
        stdout="printed\n",
        stderr="",
    )
    assert error.exit_code == 2
    assert "\x1b" not in error.message
    assert error.details["line"] == 3
    assert error.details["traceback"][-1] == "ValueError: boom"
    assert error.details["stdout"] == "printed\n"

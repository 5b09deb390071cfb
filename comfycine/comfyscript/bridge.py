"""ComfyScript from comfycine: API graph → Python source, and Python script → API graphs.

Both run ComfyScript in a child Python process (``harness.py``, with ``sys.executable``):
it patches asyncio and keeps global state, which must not leak into comfycine's own event
loop. The child reads ``/object_info`` from the target, writes its result as JSON to a
file the parent names, and leaves stdout and stderr to ComfyScript and the script; the
parent captures both. Building never queues anything on the server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    ComfycineError,
    ServerError,
    TargetUnreachable,
    TemplateInvalid,
    UsageError,
)
from ..sanitize import clean_text
from ..urls import bare_url, credentials, shown_url

HARNESS = Path(__file__).with_name("harness.py")
# The server URL with its password, when it has one (see harness_command).
HARNESS_URL_ENV = "COMFYCINE_HARNESS_URL"
TRANSPILE_TIMEOUT = 60.0
# Error details keep the end of what the script printed: enough to see why, not a log.
OUTPUT_TAIL = 4000
# After killing a timed-out child, how long to wait for its pipes to close.
KILL_GRACE = 5.0

WORKFLOW_PATTERN = """\
from comfy_script.runtime import *
load()
from comfy_script.runtime.nodes import *

with Workflow():
    image = EmptyImage(64, 64, 1, 0)
    SaveImage(image, 'comfycine/script')
"""


@dataclass(frozen=True)
class ScriptResult:
    """What running a ComfyScript script produced: one API graph per queued workflow."""

    graphs: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class _Run:
    """One finished harness run."""

    returncode: int
    payload: dict[str, Any] | None
    stdout: str
    stderr: str


class _HarnessTimeout(Exception):
    def __init__(self, stdout: str, stderr: str) -> None:
        super().__init__("harness timed out")
        self.stdout = stdout
        self.stderr = stderr


def harness_command(command: str, server_url: str, out: Path, target: Path) -> list[str]:
    """The child's command line: ``python harness.py COMMAND --url URL --out OUT TARGET``.

    The URL goes without its password (a command line is visible to every local user):
    :func:`_run_harness` hands the full URL over in the environment.
    """
    return [
        sys.executable,
        str(HARNESS),
        command,
        "--url",
        bare_url(server_url),
        "--out",
        str(out),
        str(target),
    ]


def check_api_graph(graph: Any) -> dict[str, Any]:
    """Return ``graph`` if it is an API-format graph, else raise :class:`TemplateInvalid`.

    An API graph maps node ids to ``{"class_type": str, "inputs": {...}}``; a link is
    ``[node_id, output_index]`` and must name a node of the graph.
    """
    if not isinstance(graph, dict) or not graph:
        raise TemplateInvalid("The workflow is not an API-format graph (a JSON object of nodes).")
    if "nodes" in graph and "links" in graph:
        raise TemplateInvalid("The workflow is in UI format, not API format.")
    for node_id, node in graph.items():
        if not (
            isinstance(node, dict)
            and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs"), dict)
        ):
            raise TemplateInvalid(
                f"Node {node_id!r} has no class_type and inputs: not an API-format graph.",
                details={"node": str(node_id)},
            )
        for name, value in node["inputs"].items():
            is_link = (
                isinstance(value, list)
                and len(value) == 2
                and isinstance(value[0], str | int)
                and isinstance(value[1], int)
            )
            if is_link and str(value[0]) not in graph:
                raise TemplateInvalid(
                    f"Input {name!r} of node {node_id!r} links to node {value[0]!r}, "
                    "which is not in the graph.",
                    details={"node": str(node_id), "input": name},
                )
    return graph


def transpile(
    api_graph: dict[str, Any], server_url: str, *, timeout: float = TRANSPILE_TIMEOUT
) -> str:
    """ComfyScript Python source for ``api_graph``, with node signatures from the server.

    The source holds only the node calls (``image = EmptyImage(64, 64, 1, 0)`` ...),
    without imports or ``with Workflow():``. Raises :class:`TemplateInvalid` for a graph
    that is not API format or names node classes the server lacks,
    :class:`TargetUnreachable` / :class:`ServerError` when the server cannot be read.
    """
    check_api_graph(api_graph)
    with tempfile.TemporaryDirectory(prefix="comfycine-transpile-") as tmp:
        graph_path = Path(tmp) / "graph.json"
        graph_path.write_text(json.dumps(api_graph), encoding="utf-8")
        out = Path(tmp) / "result.json"
        try:
            run = _run_harness(
                harness_command("transpile", server_url, out, graph_path), out, timeout, server_url
            )
        except _HarnessTimeout as exc:
            where = shown_url(server_url)
            raise TargetUnreachable(
                f"ComfyUI at {where} did not answer /object_info within {timeout:g} s."
            ) from exc
    payload = _payload_or_crash(run)
    if "error" in payload:
        raise error_from_harness(payload["error"], server_url=server_url)
    return str(payload["code"]).strip("\n") + "\n"


def build_graph_from_script(script: Path, server_url: str, *, timeout: float = 120) -> ScriptResult:
    """Run a ComfyScript script in a child process and return the graphs it would queue.

    The runtime is loaded from ``server_url`` before the script starts (``load()`` in the
    script changes nothing, whatever URL it names); each ``with Workflow():`` block and
    each explicit queue call yields one API graph, in order, and nothing is sent to the
    server. Results are not available while building (``.wait()`` returns None).
    Raises :class:`UsageError` with code ``script_failed`` (the script raised; the
    traceback is in ``details``), ``script_no_workflow`` (nothing was queued),
    ``script_timeout`` or ``script_not_found``; :class:`TargetUnreachable` or
    :class:`ServerError` when the server cannot be read.
    """
    if not script.is_file():
        raise UsageError(f"No script at {script}.", code="script_not_found", hint="Check the path.")
    with tempfile.TemporaryDirectory(prefix="comfycine-script-") as tmp:
        out = Path(tmp) / "result.json"
        command = harness_command("build", server_url, out, script.resolve())
        try:
            run = _run_harness(command, out, timeout, server_url)
        except _HarnessTimeout as exc:
            raise UsageError(
                f"{script.name} did not finish within {timeout:g} s.",
                code="script_timeout",
                hint="Let the script only build the graph (no waiting for results).",
                details=_output_details(exc.stdout, exc.stderr),
            ) from exc
    payload = _payload_or_crash(run)
    if "error" in payload:
        raise error_from_harness(
            payload["error"], server_url=server_url, stdout=run.stdout, stderr=run.stderr
        )
    graphs = [graph for graph in payload.get("graphs", []) if isinstance(graph, dict)]
    if not graphs:
        raise UsageError(
            f"{script.name} built no workflow: nothing was queued in it.",
            code="script_no_workflow",
            hint="After `from comfy_script.runtime import *`, `load()` and "
            "`from comfy_script.runtime.nodes import *`, put the nodes in `with Workflow():`.",
            details={"example": WORKFLOW_PATTERN, **_output_details(run.stdout, run.stderr)},
        )
    return ScriptResult(graphs=graphs, stdout=run.stdout, stderr=run.stderr)


def error_from_harness(
    error: dict[str, Any], *, server_url: str, stdout: str = "", stderr: str = ""
) -> ComfycineError:
    """The comfycine error for the ``error`` object the harness wrote."""
    kind = str(error.get("kind") or "")
    message = clean_text(str(error.get("message") or "ComfyScript failed."))
    if kind == "unreachable":
        return TargetUnreachable(message, details={"url": shown_url(server_url)})
    if kind == "server_error":
        return ServerError(message, details={"url": shown_url(server_url)})
    if kind == "script_failed":
        details = {
            "exception_type": error.get("exception_type"),
            "line": error.get("line"),
            "traceback": [clean_text(str(line)) for line in error.get("traceback") or ()],
            **_output_details(stdout, stderr),
        }
        return UsageError(
            message,
            code="script_failed",
            hint="Fix the script (see details.traceback) and run it again.",
            details=details,
        )
    if kind == "unknown_node":
        return TemplateInvalid(
            message,
            hint="Install the custom nodes that provide them on the server.",
            details={"class_types": error.get("class_types") or []},
        )
    if kind == "transpile_failed":
        return TemplateInvalid(
            message,
            details={"traceback": [clean_text(str(line)) for line in error.get("traceback") or ()]},
        )
    if kind == "missing_dependency":
        return ComfycineError(
            message,
            code="comfyscript_missing",
            hint="Install it with: pip install 'comfy-script[client]' networkx",
        )
    return ComfycineError(message, details={"kind": kind})


# ---------------------------------------------------------------------------- internals


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _tail(text: str) -> str:
    return clean_text(text[-OUTPUT_TAIL:])


def _output_details(stdout: str, stderr: str) -> dict[str, Any]:
    return {"stdout": _tail(stdout), "stderr": _tail(stderr)}


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and whatever it started in its own session (a script's helpers)."""
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    process.kill()


def _run_harness(command: list[str], out: Path, timeout: float, server_url: str = "") -> _Run:
    """Run the harness; its RESULT.json payload (None if it wrote none) and its output."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env.pop(HARNESS_URL_ENV, None)
    if credentials(server_url) is not None:
        env[HARNESS_URL_ENV] = server_url
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=os.name == "posix",
    )
    try:
        raw_out, raw_err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        try:
            raw_out, raw_err = process.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            raw_out, raw_err = b"", b""
        raise _HarnessTimeout(_decode(raw_out), _decode(raw_err)) from None
    except BaseException:
        _kill(process)
        process.wait()
        raise
    payload: dict[str, Any] | None = None
    if out.is_file():
        loaded = json.loads(out.read_text(encoding="utf-8"))
        payload = loaded if isinstance(loaded, dict) else None
    return _Run(process.returncode, payload, _decode(raw_out), _decode(raw_err))


def _payload_or_crash(run: _Run) -> dict[str, Any]:
    """The harness payload, or an error when the child died before writing one."""
    if run.payload is not None:
        return run.payload
    lines = run.stderr.strip().splitlines()
    last = clean_text(lines[-1]) if lines else "no message"
    raise ComfycineError(
        f"The ComfyScript process ended without a result (exit {run.returncode}): {last}",
        details=_output_details(run.stdout, run.stderr),
    )

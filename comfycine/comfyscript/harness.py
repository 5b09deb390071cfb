"""The child side of comfycine's ComfyScript bridge: run in its own Python process.

Usage (the parent builds these command lines; run by path or with ``-m``)::

    python harness.py build --url URL --out RESULT.json SCRIPT.py
    python harness.py transpile --url URL --out RESULT.json GRAPH.json

ComfyScript patches asyncio (nest-asyncio2) and keeps global state, so it never runs
inside comfycine's own process. This module imports only the standard library at module
level; ``comfy_script`` is imported once the command line is parsed.

``build`` points the ComfyScript runtime at URL and loads its nodes from ``/object_info``
before the script runs, then runs the script as ``__main__``. In the script:

- ``load()`` does nothing, whatever its arguments: the nodes are already loaded from
  URL, the one target comfycine submits to. A different URL is noted on stderr.
- every way of queueing (leaving ``with Workflow():``, ``Workflow.queue()``,
  ``queue.put()``, ``queue += …``, ``node_output.wait()``) records the API-format prompt
  instead of posting it, and hands back a finished task with no outputs (``wait()``
  returns None); cancelling the server's queue does nothing;
- ``start_comfyui()`` raises: scripts describe graphs, they do not start servers.

RESULT.json is always written (stdout and stderr belong to the script):
``{"graphs": [...]}``, ``{"code": "..."}`` or ``{"error": {"kind", "message", ...}}``
with ``kind`` one of ``unreachable``, ``server_error``, ``missing_dependency``,
``unknown_node``, ``transpile_failed``, ``script_failed``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

# Connecting to the target should fail fast; reading /object_info may take a while on a
# server with many custom nodes, and the parent's timeout bounds the whole run anyway.
CONNECT_TIMEOUT = 10.0
TRACEBACK_LINES = 30


class HarnessError(Exception):
    """A failure to report in RESULT.json as ``{"error": {"kind": ..., ...}}``."""

    def __init__(self, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object written to RESULT.json."""
        return {"kind": self.kind, "message": self.message, **self.extra}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the harness command line (``build`` or ``transpile``)."""
    parser = argparse.ArgumentParser(prog="comfycine-comfyscript-harness")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, target in (("build", "script"), ("transpile", "graph")):
        command = commands.add_parser(name)
        command.add_argument("--url", required=True, help="ComfyUI base URL")
        command.add_argument("--out", required=True, type=Path, help="where to write JSON")
        command.add_argument(target, type=Path)
    return parser.parse_args(list(argv))


def write_result(path: Path, payload: dict[str, Any]) -> None:
    """Write RESULT.json (via a temporary name, so the parent never reads half a file)."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(partial, path)


# ------------------------------------------------------------------------- runtime setup


def _import_comfy_script() -> tuple[Any, Any]:
    """Import ComfyScript's client and runtime, or explain which package is missing."""
    try:
        import comfy_script.runtime as runtime
        from comfy_script import client
    except ImportError as exc:
        raise HarnessError(
            "missing_dependency",
            f"ComfyScript cannot load: {exc}. Install it with: pip install 'comfy-script[client]'",
        ) from exc
    return client, runtime


def fetch_nodes_info(client: Any, url: str) -> dict[str, Any]:
    """Point ComfyScript's global client at ``url`` and read ``/object_info`` once."""
    import aiohttp

    def session() -> Any:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT))

    client.client = client.Client(url, session_factory=session)
    try:
        info = asyncio.run(client._get_nodes_info())
    except (TimeoutError, aiohttp.ClientConnectionError, OSError) as exc:
        raise HarnessError("unreachable", f"Cannot reach ComfyUI at {url}: {exc}") from exc
    except Exception as exc:
        raise HarnessError(
            "server_error", f"{url} did not answer /object_info like ComfyUI: {exc}"
        ) from exc
    if not isinstance(info, dict) or not all(
        isinstance(entry, dict) and "input" in entry for entry in info.values()
    ):
        raise HarnessError("server_error", f"{url}/object_info is not a ComfyUI node list.")
    return info


class _Discard:
    """A writable file that keeps nothing."""

    def __enter__(self) -> _Discard:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def write(self, text: str) -> int:
        return len(text)


def _discard_open(*args: Any, **kwargs: Any) -> _Discard:
    return _Discard()


def load_nodes(runtime: Any, info: dict[str, Any]) -> None:
    """Register the server's nodes in ``comfy_script.runtime.nodes`` (what ``load()`` does)."""
    from comfy_script.runtime import node, nodes

    # ComfyScript writes editor type stubs (nodes.pyi) into its installed package on every
    # load: a side effect in site-packages, racy between builds; send it nowhere.
    nodes.open = _discard_open
    node.nodes.clear()
    asyncio.run(nodes.load(info, None, nodes=node.nodes))


class Capture:
    """Replaces the runtime's queueing: records each prompt instead of posting it."""

    def __init__(self, runtime: Any, client: Any, url: str) -> None:
        self.runtime = runtime
        self.client = client
        self.url = url.rstrip("/")
        self.graphs: list[dict[str, Any]] = []

    def install(self) -> None:
        """Patch the runtime module and its global task queue."""
        runtime = self.runtime
        runtime.queue._put = self.put
        runtime.queue._cancel_current = self._nothing
        runtime.queue._cancel_remaining = self._nothing
        runtime.queue.start_watch = self._ignore_watch
        runtime.load = self.load
        runtime.start_comfyui = self.start_comfyui

    async def put(self, workflow: Any, source: Any = None) -> Any:
        """Record ``workflow``'s API prompt; return a finished task without outputs."""
        runtime = self.runtime
        if isinstance(workflow, runtime.Workflow):
            prompt, ids = workflow._get_prompt_and_id()
        else:
            prompt, ids = runtime.Workflow(outputs=workflow)._get_prompt_and_id()
        if not prompt:
            return None  # no output node: ComfyScript queues nothing either
        text = json.dumps(prompt, cls=self.client.WorkflowJSONEncoder)
        self.graphs.append(json.loads(text))
        number = len(self.graphs)
        task = runtime.Task(f"comfycine-build-{number}", number, ids)
        task._fut.set_result({})
        return task

    async def _nothing(self) -> None:
        return None

    def _ignore_watch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def load(self, comfyui: Any = None, *args: Any, **kwargs: Any) -> None:
        """``load()`` in a script: the nodes are loaded already, from comfycine's target."""
        asked = str(comfyui).rstrip("/") if comfyui is not None else None
        if asked is not None and asked != self.url:
            print(
                f"comfycine: load({comfyui!r}) ignored; the nodes come from {self.url}",
                file=sys.stderr,
            )

    def start_comfyui(self, *args: Any, **kwargs: Any) -> None:
        """``start_comfyui()`` in a script: refused."""
        raise RuntimeError(
            "start_comfyui() is not available under comfycine: the script runs against "
            f"{self.url}; build the graph with `with Workflow():` only."
        )


# ------------------------------------------------------------------------------ commands


def _script_traceback(exc: BaseException, script: Path) -> list[str]:
    """The traceback lines from the script's own first frame on (not the harness's)."""
    tb = exc.__traceback__
    target = os.path.realpath(script)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
    text = "".join(lines).rstrip("\n").splitlines()
    return text[-TRACEBACK_LINES:]


def _script_line(exc: BaseException, script: Path) -> int | None:
    """The line of the script where the exception went through last."""
    target = os.path.realpath(script)
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) == target:
            line = lineno
    return line


def run_script(script: Path) -> None:
    """Run ``script`` as ``__main__``, the way ``python SCRIPT`` would; map its failure."""
    sys.argv = [str(script)]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code in (None, 0):
            return
        raise HarnessError(
            "script_failed",
            f"{script.name} exited with status {exc.code}.",
            exception_type="SystemExit",
            line=_script_line(exc, script),
            traceback=_script_traceback(exc, script),
        ) from exc
    except BaseException as exc:
        first = str(exc).strip().splitlines()
        summary = f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
        line = _script_line(exc, script)
        where = f" (line {line})" if line is not None else ""
        raise HarnessError(
            "script_failed",
            f"{script.name} failed{where}: {summary}",
            exception_type=type(exc).__name__,
            line=line,
            traceback=_script_traceback(exc, script),
        ) from exc


def build(script: Path, url: str) -> dict[str, Any]:
    """Load the runtime from ``url``, run ``script``, return the captured prompts."""
    client, runtime = _import_comfy_script()
    info = fetch_nodes_info(client, url)
    load_nodes(runtime, info)
    capture = Capture(runtime, client, url)
    capture.install()
    run_script(script)
    return {"graphs": capture.graphs}


def transpile(graph_path: Path, url: str) -> dict[str, Any]:
    """Transpile the API graph in ``graph_path`` with ComfyScript's transpiler."""
    graph = json.loads(graph_path.read_text(encoding="utf-8"))
    client, _runtime = _import_comfy_script()
    info = fetch_nodes_info(client, url)
    unknown = sorted({str(node["class_type"]) for node in graph.values()} - set(info))
    if unknown:
        raise HarnessError(
            "unknown_node",
            f"The server at {url} has no node class {', '.join(unknown)}.",
            class_types=unknown,
        )
    # The transpiler reads /object_info itself; hand it the copy already fetched.
    client.get_nodes_info = lambda: info
    from comfy_script.transpile import WorkflowToScriptTranspiler

    try:
        code = WorkflowToScriptTranspiler(graph).to_script()
    except Exception as exc:
        raise HarnessError(
            "transpile_failed",
            f"ComfyScript could not transpile the graph: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc().splitlines()[-TRACEBACK_LINES:],
        ) from exc
    return {"code": str(code)}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command and write RESULT.json; 0 when it was written."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # A URL with a password comes in the environment, never on the command line.
    url = os.environ.get("COMFYCINE_HARNESS_URL") or args.url
    try:
        payload = build(args.script, url) if args.command == "build" else transpile(args.graph, url)
    except HarnessError as exc:
        payload = {"error": exc.to_dict()}
    write_result(args.out, payload)
    return 0


if __name__ == "__main__":
    # Run by path, Python put this file's folder first on sys.path: its module names
    # must not shadow anything the script imports.
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        sys.path.pop(0)
    sys.exit(main())

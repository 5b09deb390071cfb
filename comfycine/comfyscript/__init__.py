"""ComfyScript (the comfy-script package) as a way to write and read comfycine graphs.

:func:`transpile` turns an API graph into ComfyScript source; :func:`build_graph_from_script`
runs a ComfyScript script and returns the API graphs it builds, without queueing them:
the caller submits them like any template. Both run ComfyScript in a child process
(see :mod:`comfycine.comfyscript.harness`).
"""

from __future__ import annotations

from .bridge import ScriptResult, build_graph_from_script, check_api_graph, transpile

__all__ = ["ScriptResult", "build_graph_from_script", "check_api_graph", "transpile"]

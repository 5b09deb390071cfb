"""Helpers for the ComfyScript tests: script files and the shared graph."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "scripts"
MODEL_FREE = SCRIPTS / "model_free.py"
MODEL_FREE_CLASSES = {"EmptyImage", "ImageInvert", "SaveImage"}

# The header every ComfyScript script starts with.
HEADER = """\
from comfy_script.runtime import *
load()
from comfy_script.runtime.nodes import *
"""


def model_free_graph() -> dict[str, Any]:
    """EmptyImage → ImageInvert → SaveImage in API format."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0xFF0000},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {
            "class_type": "SaveImage",
            "inputs": {"images": ["2", 0], "filename_prefix": "comfycine/transpiled"},
        },
    }


def write_script(directory: Path, body: str, *, header: bool = True, name: str = "s.py") -> Path:
    """Write a script (the runtime header first unless ``header`` is False)."""
    path = directory / name
    text = (HEADER if header else "") + textwrap.dedent(body)
    path.write_text(text, encoding="utf-8")
    return path


def class_types(graph: dict[str, Any]) -> set[str]:
    """The node classes of an API graph."""
    return {node["class_type"] for node in graph.values()}

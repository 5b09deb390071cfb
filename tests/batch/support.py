"""Helpers for batch tests: input folders of small PNGs and throwaway templates."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comfycine.templates import Template, read_template
from tests.fakecomfy.files import write_png

PNG_SIDE = 32


def make_pngs(
    folder: Path, count: int, *, side: int = PNG_SIDE, prefix: str = "shot"
) -> list[Path]:
    """``count`` solid PNGs of random colours (distinct content, so distinct keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    colours = random.sample(range(1 << 24), count)
    paths = []
    for index, colour in enumerate(colours):
        path = folder / f"{prefix}{index:02d}.png"
        write_png(path, side, side, colour, {})
        paths.append(path)
    return paths


def make_template(directory: Path, name: str, graph: dict[str, Any]) -> Template:
    """Write ``graph`` as ``NAME.json`` in ``directory`` and load it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(graph))
    return read_template(path)


def media_graph(*placeholders: str) -> dict[str, Any]:
    """A graph with one LoadImage per placeholder, each saved."""
    graph: dict[str, Any] = {}
    for index, placeholder in enumerate(placeholders, start=1):
        graph[str(index)] = {"class_type": "LoadImage", "inputs": {"image": placeholder}}
        graph[f"{index}0"] = {
            "class_type": "SaveImage",
            "inputs": {"images": [str(index), 0], "filename_prefix": "t"},
        }
    return graph


# The one constant timing-sensitive waits scale with: how long "nothing more happens"
# is watched for before asserting it did not.
SETTLE_SECONDS = 0.3


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)

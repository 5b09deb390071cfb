"""Building small templates on disk for the template tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comfycine.templates import Template, read_template


def node(class_type: str, title: str | None = None, **inputs: Any) -> dict[str, Any]:
    """One API-format node."""
    made: dict[str, Any] = {"class_type": class_type, "inputs": inputs}
    if title is not None:
        made["_meta"] = {"title": title}
    return made


def write_template(
    directory: Path,
    name: str,
    graph: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write NAME.json (and NAME.meta.json when ``meta`` is given); return the graph path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(graph))
    if meta is not None:
        (directory / f"{name}.meta.json").write_text(json.dumps(meta))
    return path


def make_template(
    directory: Path,
    graph: dict[str, Any],
    meta: dict[str, Any] | None = None,
    name: str = "t",
) -> Template:
    """Write a template and load it back."""
    return read_template(write_template(directory, name, graph, meta))


def sampler_graph(**overrides: Any) -> dict[str, Any]:
    """A txt2img-shaped graph using every placeholder kind once."""
    graph = {
        "1": node("CheckpointLoaderSimple", "Load", ckpt_name="PARAM_COMBO_CKPT"),
        "2": node("CLIPTextEncode", "Positive", text="PARAM_PROMPT", clip=["1", 1]),
        "3": node("CLIPTextEncode", "Negative", text="PARAM_STR_NEGATIVE", clip=["1", 1]),
        "4": node("LoadImage", "Style", image="PARAM_IMAGE_STYLE"),
        "5": node(
            "KSampler",
            "Sampler",
            seed=123,
            steps="PARAM_INT_STEPS",
            cfg="PARAM_FLOAT_CFG",
            model=["1", 0],
            positive=["2", 0],
            negative=["3", 0],
        ),
        "6": node("SomeNode", None, enabled="PARAM_BOOL_UPSCALE", frames="PARAM_INT_FRAMES"),
        "7": node("SaveImage", "Save", images=["5", 0], filename_prefix="x"),
    }
    graph.update(overrides)
    return graph

"""Rendering a binding into an API graph, and describing parameters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from comfycine.errors import ParameterError
from comfycine.templates import bind_values, describe_parameters, render_graph

from .support import make_template, node, sampler_graph


def test_render_replaces_every_placeholder_and_seed(tmp_path: Path) -> None:
    """The rendered graph has typed values, the upload name, the seed, and no PARAM_."""
    image = tmp_path / "in.png"
    image.write_bytes(b"png")
    graph = sampler_graph(
        **{"8": node("RandomNoise", "Noise", noise_seed=1), "9": node("B", other="PARAM_INT_STEPS")}
    )
    template = make_template(tmp_path / "tpl", graph, {"defaults": {"negative": "", "frames": 1}})
    binding = bind_values(
        template,
        prompt="a cat",
        assignments=["ckpt=m.safetensors", f"style={image}", "steps=12", "cfg=6.5", "upscale=on"],
        rng=random.Random(3),
    )
    rendered = render_graph(template, binding.values, {"style": "in (1).png"})
    assert "PARAM_" not in json.dumps(rendered)
    seed = binding.randomized_seeds["seed"]
    assert rendered["5"]["inputs"]["seed"] == seed and rendered["8"]["inputs"]["noise_seed"] == seed
    assert rendered["5"]["inputs"]["steps"] == 12 and rendered["9"]["inputs"]["other"] == 12
    assert rendered["5"]["inputs"]["cfg"] == 6.5
    assert rendered["6"]["inputs"]["enabled"] is True
    assert rendered["4"]["inputs"]["image"] == "in (1).png"
    assert rendered["2"]["inputs"] == {"text": "a cat", "clip": ["1", 1]}


def test_render_leaves_the_template_untouched(tmp_path: Path) -> None:
    """Rendering works on a deep copy."""
    template = make_template(tmp_path, {"1": node("A", w="PARAM_INT_W", l=["2", 0])})
    before = json.dumps(template.graph)
    render_graph(template, {"w": 3}, {})["1"]["inputs"]["l"].append(9)
    assert json.dumps(template.graph) == before


def test_render_sets_a_title_on_every_node(tmp_path: Path) -> None:
    """Nodes without _meta.title get their class_type; existing titles stay."""
    graph = {"1": node("EmptyImage"), "2": node("SaveImage", "Save it"), "3": node("X")}
    graph["3"]["_meta"] = {"title": ""}
    rendered = render_graph(make_template(tmp_path, graph), {}, {})
    titles = [rendered[n]["_meta"]["title"] for n in ("1", "2", "3")]
    assert titles == ["EmptyImage", "Save it", "X"]


def test_render_refuses_missing_values(tmp_path: Path) -> None:
    """A parameter without a value or upload stops the render: no placeholder is sent."""
    graph = {"1": node("A", w="PARAM_INT_W", i="PARAM_IMAGE_IN")}
    with pytest.raises(ParameterError) as caught:
        render_graph(make_template(tmp_path, graph), {}, {})
    assert caught.value.details["problems"] == ["w has no value", "in has no uploaded file"]


def test_render_refuses_names_that_are_not_parameters(tmp_path: Path) -> None:
    """Values or uploads for unknown names are errors, not silently dropped."""
    graph = {"1": node("A", w="PARAM_INT_W")}
    with pytest.raises(ParameterError, match=r"'x' is not a parameter.*'w' is not a media"):
        render_graph(make_template(tmp_path, graph), {"w": 1, "x": 2}, {"w": "a.png"})


def test_describe_parameters(tmp_path: Path) -> None:
    """Each parameter is described with kind, default, bounds, requirement and targets."""
    graph = {
        "1": node("EmptyLatent", "Latent", length="PARAM_INT_FRAMES"),
        "2": node("KSampler", seed=3, text="PARAM_PROMPT"),
    }
    meta = {
        "defaults": {"frames": 81},
        "bounds": {"frames": {"min": 1, "max": 161, "multiple_of": 4, "offset": 1}},
        "help": {"frames": "Length in frames."},
    }
    described = {d["name"]: d for d in describe_parameters(make_template(tmp_path, graph, meta))}
    assert described["frames"] == {
        "name": "frames",
        "kind": "int",
        "placeholder": "PARAM_INT_FRAMES",
        "required": False,
        "default": 81,
        "seed": False,
        "randomized": False,
        "bounds": {"min": 1, "max": 161, "multiple_of": 4, "offset": 1, "step": "4n+1"},
        "choices": None,
        "help": "Length in frames.",
        "targets": ["1.length (Latent)"],
    }
    assert described["seed"]["randomized"] and described["seed"]["placeholder"] is None
    assert described["seed"]["targets"] == ["2.seed (KSampler)"]
    assert described["prompt"]["required"] is True
    json.dumps(list(described.values()))  # JSON-ready as is

"""The placeholder grammar, the scan of a graph into parameters, and the sidecar schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import TemplateInvalid
from comfycine.templates import Kind, parse_placeholder
from comfycine.templates.placeholders import PlaceholderError

from .support import make_template, node, sampler_graph


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PARAM_PROMPT", (Kind.PROMPT, "prompt")),
        ("PARAM_INT_STEPS", (Kind.INT, "steps")),
        ("PARAM_FLOAT_CFG", (Kind.FLOAT, "cfg")),
        ("PARAM_STR_NEGATIVE", (Kind.STR, "negative")),
        ("PARAM_BOOL_UPSCALE", (Kind.BOOL, "upscale")),
        ("PARAM_COMBO_CAMERA_TYPE", (Kind.COMBO, "camera_type")),
        ("PARAM_IMAGE_STYLE", (Kind.IMAGE, "style")),
        ("PARAM_VIDEO_INPUT", (Kind.VIDEO, "input")),
        ("PARAM_MASK", (Kind.MASK, "mask")),
        ("PARAM_IMAGE", (Kind.IMAGE, "image")),
        ("PARAM_INT_2X", (Kind.INT, "2x")),
        ("a cat", None),
        ("", None),
        ("MYPARAM_INT_X", None),
    ],
)
def test_parse_placeholder(text: str, expected: tuple[Kind, str] | None) -> None:
    """Each placeholder form maps to its kind and lower-case parameter name."""
    assert parse_placeholder(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PARAM_STEPS", "not a placeholder"),
        ("PARAM_STRING_X", "not a placeholder"),
        ("PARAM_INT_", "not a placeholder"),
        ("PARAM_int_steps", "not a placeholder"),
        ("PARAM_INT", "needs a name"),
        ("PARAM_PROMPT_NEG", "takes no name"),
        ("a PARAM_PROMPT here", "whole input value"),
    ],
)
def test_malformed_placeholders_are_errors(text: str, reason: str) -> None:
    """Text with a PARAM_ token that is not exactly one valid placeholder is refused."""
    with pytest.raises(PlaceholderError, match=reason):
        parse_placeholder(text)


def test_scan_finds_every_kind_in_graph_order(tmp_path: Path) -> None:
    """Parameters come in order of first appearance, with their kinds and targets."""
    template = make_template(tmp_path, sampler_graph())
    kinds = {name: p.kind for name, p in template.parameters.items()}
    assert list(kinds) == [
        "ckpt", "prompt", "negative", "style", "seed", "steps", "cfg", "upscale", "frames",
    ]  # fmt: skip
    assert kinds["seed"] is Kind.INT and kinds["style"] is Kind.IMAGE
    assert [t.label() for t in template.parameters["steps"].targets] == ["5.steps (Sampler)"]


def test_one_placeholder_in_several_nodes_is_one_parameter(tmp_path: Path) -> None:
    """The same placeholder in two nodes gives one parameter with two targets."""
    graph = {
        "1": node("EmptyImage", width="PARAM_INT_WIDTH"),
        "2": node("EmptyLatentImage", "Latent", width="PARAM_INT_WIDTH"),
    }
    template = make_template(tmp_path, graph)
    labels = [t.label() for t in template.parameters["width"].targets]
    assert labels == ["1.width (EmptyImage)", "2.width (Latent)"]


def test_literal_seeds_and_seed_placeholder_share_one_parameter(tmp_path: Path) -> None:
    """Literal seed/noise_seed inputs and PARAM_INT_SEED all target ``seed``."""
    graph = {
        "1": node("KSampler", seed=5),
        "2": node("RandomNoise", noise_seed=7),
        "3": node("KSamplerAdvanced", noise_seed="PARAM_INT_SEED"),
        "4": node("Other", seed="linked-or-text"),
    }
    param = make_template(tmp_path, graph).parameters["seed"]
    assert param.placeholder == "PARAM_INT_SEED"
    assert [(t.node_id, t.literal) for t in param.targets] == [
        ("1", True),
        ("2", True),
        ("3", False),
    ]
    assert param.is_seed and param.randomized and not param.required


def test_noise_seed_placeholder_is_a_separate_seed(tmp_path: Path) -> None:
    """PARAM_INT_NOISE_SEED is its own parameter, and a seed too."""
    graph = {
        "1": node("A", seed="PARAM_INT_SEED"),
        "2": node("B", noise_seed="PARAM_INT_NOISE_SEED"),
    }
    params = make_template(tmp_path, graph).parameters
    assert params["seed"].is_seed and params["noise_seed"].is_seed


def test_two_kinds_with_one_name_are_a_template_error(tmp_path: Path) -> None:
    """PARAM_IMAGE_INPUT and PARAM_VIDEO_INPUT collide, and the error names both."""
    graph = {
        "1": node("LoadImage", image="PARAM_IMAGE_INPUT"),
        "2": node("LoadVideo", file="PARAM_VIDEO_INPUT"),
    }
    with pytest.raises(TemplateInvalid) as caught:
        make_template(tmp_path, graph)
    assert "PARAM_VIDEO_INPUT" in caught.value.message
    assert "PARAM_IMAGE_INPUT" in caught.value.message


def test_prompt_and_str_prompt_collide(tmp_path: Path) -> None:
    """PARAM_PROMPT and PARAM_STR_PROMPT both claim ``prompt``: a template error."""
    graph = {"1": node("A", text="PARAM_PROMPT"), "2": node("B", text="PARAM_STR_PROMPT")}
    with pytest.raises(TemplateInvalid, match="both give the parameter 'prompt'"):
        make_template(tmp_path, graph)


def test_placeholders_inside_lists_or_text_are_template_errors(tmp_path: Path) -> None:
    """A PARAM_ token anywhere but a whole input value is reported, every one at once."""
    graph = {
        "1": node("A", text="a photo of PARAM_PROMPT"),
        "2": node("B", values=["PARAM_INT_X", 1]),
        "3": node("C", width="PARAM_WIDTH"),
    }
    with pytest.raises(TemplateInvalid) as caught:
        make_template(tmp_path, graph)
    assert len(caught.value.details["problems"]) == 3


def _meta_error(tmp_path: Path, meta: dict[str, Any]) -> TemplateInvalid:
    graph = {
        "1": node("EmptyImage", width="PARAM_INT_WIDTH", color="PARAM_STR_NAME"),
        "2": node("A", cfg="PARAM_FLOAT_CFG", image="PARAM_IMAGE_INPUT", seed=3),
    }
    with pytest.raises(TemplateInvalid) as caught:
        make_template(tmp_path, graph, meta)
    return caught.value


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (
            {"defaults": {"widht": 3}},
            "'widht' is not a parameter of this template (did you mean 'width'?)",
        ),
        ({"defaults": {"width": "wide"}}, "width: the default expects a whole number"),
        ({"defaults": {"width": 8}, "bounds": {"width": {"min": 16}}}, "width must be at least 16"),
        ({"bounds": {"width": {"minimum": 1}}}, "unknown key 'minimum' (did you mean 'min'?)"),
        ({"bounds": {"name": {"max": 3}}}, "name: max must be a number"),
        ({"bounds": {"cfg": {"multiple_of": 2}}}, "multiple_of must be a positive whole number"),
        (
            {"bounds": {"width": {"offset": 1}}},
            "offset must be a whole number, used with multiple_of",
        ),
        ({"bounds": {"width": {"min": 9, "max": 2}}}, "min is greater than max"),
        ({"choices": {"input": ["a"]}}, "choices must be a non-empty list"),
        ({"choices": {"width": ["x"]}}, "a choice expects a whole number"),
        ({"defaults": {"width": 1}, "parameters": {"width": {"default": 2}}}, "given twice"),
        ({"defaults": {"seed": 4}}, '"fixed_seed": true'),
        ({"description": 3}, "description must be a string"),
        ({"models": {}}, "models must be a list"),
        ({"help": ["x"]}, "help must be an object"),
    ],
)
def test_bad_sidecars_are_template_errors(
    tmp_path: Path, meta: dict[str, Any], expected: str
) -> None:
    """Each sidecar mistake is reported against the .meta.json file."""
    error = _meta_error(tmp_path, meta)
    assert expected in error.message
    assert "t.meta.json" in error.message


def test_sidecar_flat_and_per_parameter_forms_combine(tmp_path: Path) -> None:
    """defaults/bounds/choices/help and the ``parameters`` form fill the same fields."""
    graph = {"1": node("A", n="PARAM_INT_FRAMES", mode="PARAM_COMBO_MODE", img="PARAM_IMAGE_X")}
    meta = {
        "defaults": {"frames": 17},
        "bounds": {"frames": {"min": 1, "max": 161}},
        "parameters": {
            "frames": {"multiple_of": 4, "offset": 1, "help": "4n+1"},
            "mode": {"choices": ["a", "b"], "default": "a"},
            "x": {"default": "still.png"},
        },
    }
    params = make_template(tmp_path, graph, meta).parameters
    frames = params["frames"]
    assert (frames.default, frames.minimum, frames.maximum) == (17, 1, 161)
    assert (frames.multiple_of, frames.offset, frames.help) == (4, 1, "4n+1")
    assert params["mode"].choices == ("a", "b") and not params["mode"].required
    assert params["x"].default == str(tmp_path / "still.png")


def test_fixed_seed_defaults_to_the_graph_literal(tmp_path: Path) -> None:
    """With fixed_seed the seed is not randomized and defaults to the first literal."""
    graph = {"1": node("KSampler", seed=42), "2": node("KSampler", seed=43)}
    seed = make_template(tmp_path, graph, {"fixed_seed": True}).parameters["seed"]
    assert (seed.default, seed.randomized, seed.required) == (42, False, False)


def test_fixed_seed_placeholder_needs_a_default(tmp_path: Path) -> None:
    """fixed_seed with only a PARAM_INT_SEED and no default is a sidecar error."""
    graph = {"1": node("KSampler", seed="PARAM_INT_SEED")}
    with pytest.raises(TemplateInvalid, match="has no default"):
        make_template(tmp_path, graph, {"fixed_seed": True})

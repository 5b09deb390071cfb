"""Node schemas parsed from the captured /object_info of a real ComfyUI 0.3.75."""

from __future__ import annotations

import json
from typing import Any

import pytest

from comfycine.graph.schema import (
    Catalog,
    InputSpec,
    as_int,
    literal_error,
    parse_input,
    types_match,
)
from tests.captures import CAPTURES

OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The catalog of the captured server."""
    return Catalog.from_object_info(OBJECT_INFO)


def test_every_captured_class_is_read(catalog: Catalog) -> None:
    """All 478 classes of the capture become schemas."""
    assert len(catalog) == len(OBJECT_INFO) == 478
    assert catalog.get("KSampler") is not None and catalog.get("NoSuchNode") is None


def test_inputs_follow_input_order_required_then_optional(catalog: Catalog) -> None:
    """Inputs come in input_order, required before optional, hidden ones dropped."""
    sampler = catalog.get("KSampler")
    assert sampler is not None
    assert list(sampler.inputs) == OBJECT_INFO["KSampler"]["input_order"]["required"]
    save = catalog.get("SaveImage")
    assert save is not None and "prompt" not in save.inputs
    loader = catalog.get("CLIPLoader")
    assert loader is not None
    assert [(s.name, s.required) for s in loader.inputs.values()] == [
        ("clip_name", True),
        ("type", True),
        ("device", False),
    ]


def test_int_widget_with_bounds_and_seed_control(catalog: Catalog) -> None:
    """KSampler.seed is an INT widget with min/max and control_after_generate."""
    sampler = catalog.get("KSampler")
    assert sampler is not None
    seed = sampler.inputs["seed"]
    assert (seed.type, seed.widget, seed.control_after_generate) == ("INT", True, True)
    assert seed.minimum == 0 and seed.maximum == 2**64 - 1
    assert sampler.inputs["steps"].control_after_generate is False


def test_v1_combo_keeps_its_choices(catalog: Catalog) -> None:
    """An old-style combo ([[choices], {...}]) is COMBO with the list as options."""
    scale = catalog.get("ImageScale")
    assert scale is not None
    method = scale.inputs["upscale_method"]
    assert method.type == "COMBO" and method.widget
    assert method.options == ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")


def test_v3_combo_reads_options_and_upload(catalog: Catalog) -> None:
    """A V3 combo (["COMBO", {"options": ...}]) is COMBO; the upload kind is recorded."""
    video = catalog.get("LoadVideo")
    assert video is not None
    spec = video.inputs["file"]
    assert (spec.type, spec.options, spec.upload) == ("COMBO", (), "video")
    image = catalog.get("LoadImage")
    assert image is not None and image.inputs["image"].upload == "image"
    output = catalog.get("LoadImageOutput")
    assert output is not None and output.inputs["image"].options is None


def test_link_types_and_force_input_are_not_widgets(catalog: Catalog) -> None:
    """MODEL inputs and forceInput primitives take links only."""
    sampler = catalog.get("KSampler")
    lora = catalog.get("SaveLoRANode")
    assert sampler is not None and lora is not None
    assert sampler.inputs["model"].widget is False
    steps = lora.inputs["steps"]
    assert (steps.type, steps.force_input, steps.widget, steps.required) == (
        "INT",
        True,
        False,
        False,
    )


def test_outputs_and_output_node(catalog: Catalog) -> None:
    """Output types, names and the output_node flag come through."""
    loader = catalog.get("CheckpointLoaderSimple")
    save = catalog.get("SaveImage")
    assert loader is not None and save is not None
    assert loader.outputs == ("MODEL", "CLIP", "VAE") and not loader.output_node
    assert save.outputs == () and save.output_node
    assert loader.python_module == "nodes" and loader.display_name == "Load Checkpoint"


def test_list_output_is_recorded_as_combo() -> None:
    """A node that outputs combo choices (a list-typed output) gives "COMBO"."""
    catalog = Catalog.from_object_info(
        {"Pick": {"input": {}, "output": [["a", "b"], "INT"], "output_name": ["choice", "n"]}}
    )
    node = catalog.get("Pick")
    assert node is not None and node.outputs == ("COMBO", "INT")


def test_malformed_specs_do_not_break_the_catalog() -> None:
    """A sloppy custom node (spec not a list, input not a dict) still loads."""
    catalog = Catalog.from_object_info(
        {
            "Odd": {"input": {"required": {"x": "INT", "y": []}, "optional": None}},
            "Broken": "not a dict",
        }
    )
    odd = catalog.get("Odd")
    assert odd is not None and "Broken" not in catalog
    assert [(s.name, s.type, s.widget) for s in odd.inputs.values()] == [
        ("x", "*", False),
        ("y", "*", False),
    ]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("KSampler2", "KSampler"), ("CLIPTextEncod", "CLIPTextEncode"), ("saveimage", "SaveImage")],
)
def test_suggest_finds_the_closest_class(catalog: Catalog, typo: str, expected: str) -> None:
    """Typos (extra digit, missing letter, wrong case) suggest the right class first."""
    assert catalog.suggest(typo)[0] == expected


def test_suggest_gives_nothing_for_unrelated_names(catalog: Catalog) -> None:
    """A name far from every class suggests nothing."""
    assert catalog.suggest("Zzqxv") == []


@pytest.mark.parametrize(
    ("received", "expected", "ok"),
    [
        ("IMAGE", "IMAGE", True),
        ("LATENT", "IMAGE", False),
        ("*", "IMAGE", True),
        ("IMAGE", "*", True),
        ("RIG_TASK_ID", "MODEL_TASK_ID,RIG_TASK_ID,RETARGET_TASK_ID", True),
        ("A,B", "B,C", True),
        ("A,B", "C", False),
        ("COMBO", "COMBO", True),
        ("STRING", "COMBO", False),
        ("COMBO", "STRING", False),
    ],
)
def test_types_match_like_the_server(received: str, expected: str, ok: bool) -> None:
    """Equal, "*" or overlapping comma lists match; a combo takes only COMBO."""
    assert types_match(received, expected) is ok


def test_as_int_follows_int_but_refuses_bools_and_fractions() -> None:
    """ "5" and 5.0 convert like int(); True and 2.5 are refused."""
    assert [as_int(v) for v in (5, "5", 5.0, True, 2.5, "5.0", None)] == [
        5,
        5,
        5,
        None,
        None,
        None,
        None,
    ]


def test_literal_error_names_the_bound() -> None:
    """An INT out of range reports the bound it broke; a fine value reports nothing."""
    spec = parse_input("width", ["INT", {"min": 16, "max": 4096}], required=True)
    error = literal_error(spec, 8)
    assert error is not None and "minimum 16" in error[0] and "between 16 and 4096" in error[1]
    assert literal_error(spec, 512) is None


def test_literal_error_refuses_text_for_boolean_and_values_for_links() -> None:
    """ "false" for a BOOLEAN (always true to ComfyUI) and a value for IMAGE are errors."""
    boolean = InputSpec("flag", "BOOLEAN", True, None)
    image = InputSpec("image", "IMAGE", True, None, widget=False)
    assert literal_error(boolean, "false") is not None and literal_error(boolean, False) is None
    assert literal_error(image, "x.png") is not None

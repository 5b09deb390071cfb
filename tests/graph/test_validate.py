"""validate_graph on hand-made graphs against the captured /object_info (ComfyUI 0.3.75).

The last test, marked ``real``, checks that the real server rejects what we reject.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from comfycine.errors import ValidationFailed
from comfycine.graph import Catalog, Problem, load_catalog, validate_graph
from comfycine.transport import ComfyClient
from tests.captures import CAPTURES
from tests.real_server import RealComfyUI

OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
CATALOG = Catalog.from_object_info(OBJECT_INFO)
# Hand-made classes for what a bare 0.3.75 lacks: a combo-giving node, an any-typed
# output, a STRING-path loader, a loader with Windows paths, a multiselect combo.
EXTRA_INFO: dict[str, Any] = {
    "PickSampler": {"input": {}, "output": [["euler", "ddim"]], "output_name": ["sampler"]},
    "AnyPassthrough": {"input": {"required": {"x": ["*"]}}, "output": ["*"]},
    "PathLoader": {
        "input": {"required": {"model": ["STRING", {}]}},
        "output": ["MODEL"],
    },
    "WinCheckpointLoader": {
        "input": {"required": {"ckpt_name": [["sd\\v15.safetensors", "xl.safetensors"]]}},
        "output": ["MODEL"],
    },
    "TagPicker": {
        "input": {"required": {"tags": ["COMBO", {"options": ["a", "b"], "multiselect": True}]}},
        "output": ["STRING"],
    },
}
EXTENDED = Catalog.from_object_info({**OBJECT_INFO, **EXTRA_INFO})


def node(class_type: str, title: str | None = None, **inputs: Any) -> dict[str, Any]:
    """One API-format node."""
    entry: dict[str, Any] = {"class_type": class_type, "inputs": inputs}
    if title is not None:
        entry["_meta"] = {"title": title}
    return entry


def empty_image(**overrides: Any) -> dict[str, Any]:
    """A valid EmptyImage node (64x64)."""
    return node(
        "EmptyImage", **{"width": 64, "height": 64, "batch_size": 1, "color": 0, **overrides}
    )


def save(source: list[Any]) -> dict[str, Any]:
    """A SaveImage node fed by ``source``."""
    return node("SaveImage", images=source, filename_prefix="x")


def sampler_inputs(sampler_name: Any) -> dict[str, Any]:
    """KSampler inputs linked to a node 9 that does not exist, with ``sampler_name``."""
    return {
        "model": ["9", 0],
        "seed": 1,
        "steps": 1,
        "cfg": 1.0,
        "sampler_name": sampler_name,
        "scheduler": "normal",
        "positive": ["9", 0],
        "negative": ["9", 0],
        "latent_image": ["9", 0],
        "denoise": 1.0,
    }


def good_graph() -> dict[str, Any]:
    """EmptyImage -> SaveImage: valid on a bare server."""
    return {"1": empty_image(), "2": save(["1", 0])}


def codes(problems: list[Problem]) -> list[tuple[str | None, str | None, str]]:
    """(node, input, code) of each problem, in order."""
    return [(p.node, p.input, p.code) for p in problems]


def only(problems: list[Problem]) -> Problem:
    """The single problem of a list (fails with the list otherwise)."""
    assert len(problems) == 1, [p.to_dict() for p in problems]
    return problems[0]


def test_valid_graph_has_no_problem() -> None:
    """A correct graph gives an empty list."""
    assert validate_graph(good_graph(), CATALOG) == []


def test_unknown_extra_input_is_ignored() -> None:
    """An input the class does not declare is not a problem (the server ignores it)."""
    graph = good_graph()
    graph["1"]["inputs"]["leftover"] = 3
    assert validate_graph(graph, CATALOG) == []


@pytest.mark.parametrize(
    ("typo", "expected"), [("KSampler2", "KSampler"), ("CLIPTextEncod", "CLIPTextEncode")]
)
def test_unknown_class_suggests_the_closest(typo: str, expected: str) -> None:
    """A typo'd class is unknown_node naming the closest class in message and fix."""
    graph = {**good_graph(), "3": node(typo)}
    problem = only(validate_graph(graph, CATALOG))
    assert (problem.node, problem.class_type, problem.code) == ("3", typo, "unknown_node")
    assert f"closest: {expected}" in problem.message
    assert problem.fix is not None and problem.fix.startswith(f"Change class_type to {expected}")


def test_declared_custom_node_gives_its_install_command() -> None:
    """A class listed by a sidecar custom_nodes entry is missing_custom_node with the install."""
    pack = {
        "id": "seedvr2_videoupscaler",
        "name": "ComfyUI-SeedVR2_VideoUpscaler",
        "classes": ["SeedVR2VideoUpscaler"],
        "install": "comfy node registry-install seedvr2_videoupscaler",
    }
    graph = {**good_graph(), "3": node("SeedVR2VideoUpscaler")}
    problem = only(validate_graph(graph, CATALOG, custom_nodes=[pack]))
    assert problem.code == "missing_custom_node"
    assert "ComfyUI-SeedVR2_VideoUpscaler" in problem.message
    assert problem.fix == (
        "Install it with: comfy node registry-install seedvr2_videoupscaler, then restart ComfyUI."
    )


def test_missing_required_input() -> None:
    """An absent required link input is missing_input with a connect fix."""
    graph = {"1": empty_image(), "2": node("SaveImage", filename_prefix="x")}
    problem = only(validate_graph(graph, CATALOG))
    assert codes([problem]) == [("2", "images", "missing_input")]
    assert problem.fix == "Connect an output of type IMAGE to images."


def test_missing_widget_input_names_the_default() -> None:
    """An absent required widget says the server's default in the fix."""
    graph = good_graph()
    del graph["1"]["inputs"]["width"]
    problem = only(validate_graph(graph, CATALOG))
    assert problem.code == "missing_input" and problem.fix is not None and "512" in problem.fix


@pytest.mark.parametrize(
    ("value", "words"),
    [(0, "below the minimum 1"), (99999, "above the maximum 16384"), ("abc", "not a whole number")],
)
def test_int_range_and_type(value: Any, words: str) -> None:
    """INT values out of range or not convertible are bad_value naming the bound."""
    problem = only(validate_graph({"1": empty_image(width=value), "2": save(["1", 0])}, CATALOG))
    assert (problem.input, problem.code) == ("width", "bad_value")
    assert words in problem.message and "between 1 and 16384" in (problem.fix or "")


@pytest.mark.parametrize("value", [64, "64", 64.0])
def test_int_accepts_what_the_server_converts(value: Any) -> None:
    """An int, an integral float and a numeric string are fine (the server runs int())."""
    assert validate_graph({"1": empty_image(width=value), "2": save(["1", 0])}, CATALOG) == []


@pytest.mark.parametrize("value", [True, 64.5, None])
def test_int_refuses_bools_fractions_and_null(value: Any) -> None:
    """True, 64.5 and null are not whole numbers, though int() would take the first two."""
    problems = validate_graph({"1": empty_image(width=value), "2": save(["1", 0])}, CATALOG)
    assert codes(problems) == [("1", "width", "bad_value")]


def test_float_range_and_non_finite() -> None:
    """FLOAT out of range and NaN are bad_value."""
    blur = node("ImageBlur", image=["1", 0], blur_radius=1, sigma=50.0)
    nan = node("ImageBlur", image=["1", 0], blur_radius=1, sigma=float("nan"))
    graph = {"1": empty_image(), "2": blur, "3": nan, "4": save(["2", 0]), "5": save(["3", 0])}
    assert codes(validate_graph(graph, CATALOG)) == [
        ("2", "sigma", "bad_value"),
        ("3", "sigma", "bad_value"),
    ]


def test_v1_combo_value_not_in_list_lists_the_choices() -> None:
    """An old-style combo value outside its list is bad_value with every choice in the fix."""
    scale = node(
        "ImageScale",
        image=["1", 0],
        upscale_method="superres",
        width=32,
        height=32,
        crop="disabled",
    )
    problem = only(validate_graph({"1": empty_image(), "2": scale, "3": save(["2", 0])}, CATALOG))
    assert (problem.input, problem.code) == ("upscale_method", "bad_value")
    assert problem.fix == "Use one of: nearest-exact, bilinear, area, bicubic, lanczos."


def test_v3_combo_value_is_checked_too() -> None:
    """A V3 combo (["COMBO", {"options"}]) is checked, which 0.3.75 itself skips."""
    scale = node(
        "ImageScaleToTotalPixels", image=["1", 0], upscale_method="bilinearx", megapixels=1.0
    )
    problem = only(validate_graph({"1": empty_image(), "2": scale, "3": save(["2", 0])}, CATALOG))
    assert (problem.input, problem.code) == ("upscale_method", "bad_value")
    assert "bilinear" in (problem.fix or "")


def test_long_combo_fix_gives_the_closest_values() -> None:
    """With many choices the fix names the closest few, not all of them."""
    problems = validate_graph({"2": node("KSampler", **sampler_inputs("eulr"))}, CATALOG)
    bad = [p for p in problems if p.input == "sampler_name"]
    assert len(bad) == 1 and (bad[0].fix or "").startswith("Closest valid values: euler")


def test_missing_model_from_the_combo_list() -> None:
    """A checkpoint not in the loader's list is missing_model, its folder in the message."""
    graph = {"1": node("CheckpointLoaderSimple", ckpt_name="nope.safetensors"), "2": save(["9", 0])}
    problems = validate_graph(graph, CATALOG)
    model = [p for p in problems if p.code == "missing_model"]
    assert codes(model) == [("1", "ckpt_name", "missing_model")]
    assert "models/checkpoints/" in model[0].message


def test_declared_model_fix_is_the_download_url() -> None:
    """A missing model the sidecar declares with a URL: fix says where to download it."""
    declared = [
        {
            "name": "wan.safetensors",
            "folder": "diffusion_models",
            "url": "https://example.org/wan.safetensors",
        }
    ]
    graph = {
        "1": node("UNETLoader", unet_name="wan.safetensors", weight_dtype="default"),
        "2": save(["9", 0]),
    }
    model = [
        p
        for p in validate_graph(graph, CATALOG, declared_models=declared)
        if p.code == "missing_model"
    ]
    assert len(model) == 1
    url = "https://example.org/wan.safetensors"
    assert model[0].fix == f"Download {url} into models/diffusion_models/ on the server."


def test_string_loader_checked_against_the_models_listing() -> None:
    """A declared model on a STRING input is looked up in /models; found means fine."""
    declared = [
        {
            "name": "dit.safetensors",
            "folder": "seedvr2",
            "url": "https://example.org/dit.safetensors",
        }
    ]
    graph = {
        "1": node("PathLoader", model="dit.safetensors"),
        "2": node("PreviewAny", source=["1", 0]),
    }
    missing = validate_graph(graph, EXTENDED, models={"seedvr2": []}, declared_models=declared)
    assert codes(missing) == [("1", "model", "missing_model")]
    assert "https://example.org/dit.safetensors" in (missing[0].fix or "")
    present = {"seedvr2": ["dit.safetensors"]}
    assert validate_graph(graph, EXTENDED, models=present, declared_models=declared) == []
    assert validate_graph(graph, EXTENDED, models=None, declared_models=declared) == []


def test_model_in_the_wrong_folder_says_move_it() -> None:
    """When /models shows the file in another folder, the fix says to move it."""
    graph = {"1": node("VAELoader", vae_name="ae.safetensors"), "2": save(["9", 0])}
    models = {"checkpoints": ["ae.safetensors"], "vae": []}
    model = [p for p in validate_graph(graph, CATALOG, models=models) if p.code == "missing_model"]
    assert (model[0].fix or "").startswith(
        "Move ae.safetensors from models/checkpoints/ to models/vae/"
    )


def test_windows_path_spelling_is_pointed_out() -> None:
    """ "sd/v15.safetensors" against a server listing "sd\\v15.safetensors": use its spelling."""
    graph = {
        "1": node("WinCheckpointLoader", ckpt_name="sd/v15.safetensors"),
        "2": node("PreviewAny", source=["1", 0]),
    }
    problem = only(validate_graph(graph, EXTENDED))
    assert problem.code == "missing_model" and "'sd\\\\v15.safetensors'" in (problem.fix or "")


def test_upload_combo_accepts_subfolder_paths_but_not_unknown_files() -> None:
    """LoadImage: a bare unknown name is bad_value; a subfolder path is left to the server."""
    missing = {"1": node("LoadImage", image="gone.png"), "2": save(["1", 0])}
    problem = only(validate_graph(missing, CATALOG))
    assert (problem.input, problem.code) == ("image", "bad_value") and "upload" in (
        problem.fix or ""
    )
    subfolder = {"1": node("LoadImage", image="shots/a.png"), "2": save(["1", 0])}
    assert validate_graph(subfolder, CATALOG) == []


def test_link_to_a_missing_node() -> None:
    """A link to an absent node id is bad_link."""
    problem = only(validate_graph({"1": empty_image(), "2": save(["99", 0])}, CATALOG))
    assert codes([problem]) == [("2", "images", "bad_link")] and "node 99" in problem.message


def test_link_to_an_output_index_out_of_range() -> None:
    """A link to output 5 of a one-output node is bad_link listing the outputs."""
    problem = only(validate_graph({"1": empty_image(), "2": save(["1", 5])}, CATALOG))
    assert problem.code == "bad_link" and "0=IMAGE" in problem.message


def test_unwrapped_list_value_is_a_bad_link() -> None:
    """A list that is not [id, index] is bad_link; the fix mentions {"__value__": [...]}."""
    graph = {"1": empty_image(width=[64, 64, 64]), "2": save(["1", 0])}
    problem = only(validate_graph(graph, CATALOG))
    assert (problem.input, problem.code) == ("width", "bad_link") and "__value__" in (
        problem.fix or ""
    )


def test_wrapped_list_value_is_checked_as_a_value() -> None:
    """{"__value__": [...]} is a value: a list for INT is bad_value, for multiselect fine."""
    wrapped = {"1": empty_image(width={"__value__": [64]}), "2": save(["1", 0])}
    assert codes(validate_graph(wrapped, CATALOG)) == [("1", "width", "bad_value")]
    tags = {
        "1": node("TagPicker", tags={"__value__": ["a", "b"]}),
        "2": node("PreviewAny", source=["1", 0]),
    }
    assert validate_graph(tags, EXTENDED) == []
    tags["1"]["inputs"]["tags"] = {"__value__": ["a", "z"]}
    assert codes(validate_graph(tags, EXTENDED)) == [("1", "tags", "bad_value")]


def test_type_mismatch_names_a_fitting_output() -> None:
    """LATENT into IMAGE is type_mismatch; the fix names an IMAGE output of the graph."""
    graph = {
        "1": node("EmptyLatentImage", width=64, height=64, batch_size=1),
        "2": save(["1", 0]),
        "3": empty_image(),
        "4": save(["3", 0]),
    }
    problem = only(validate_graph(graph, CATALOG))
    assert codes([problem]) == [("2", "images", "type_mismatch")]
    assert "needs IMAGE" in problem.message and "gives LATENT" in problem.message
    assert '["3", 0]' in (problem.fix or "")


def test_link_into_a_widget_input_is_fine() -> None:
    """A primitive INT output may feed an INT widget (the server accepts links there)."""
    graph = {
        "1": node("PrimitiveInt", value=64),
        "2": empty_image(width=["1", 0]),
        "3": save(["2", 0]),
    }
    assert validate_graph(graph, CATALOG) == []


def test_combo_links_accept_combo_outputs_only() -> None:
    """A COMBO input takes a list-typed output; an INT output into it is a mismatch."""
    sampler = sampler_inputs(["1", 0])
    graph = {"1": node("PickSampler"), "2": node("KSampler", **sampler)}
    names = [p for p in validate_graph(graph, EXTENDED) if p.input == "sampler_name"]
    assert names == []
    graph["1"] = node("PrimitiveInt", value=3)
    names = [p for p in validate_graph(graph, EXTENDED) if p.input == "sampler_name"]
    assert codes(names) == [("2", "sampler_name", "type_mismatch")]


def test_any_type_matches_both_ways() -> None:
    """ "*" inputs take anything and "*" outputs feed anything."""
    graph = {
        "1": empty_image(),
        "2": node("AnyPassthrough", x=["1", 0]),
        "3": save(["2", 0]),
        "4": node("PreviewAny", source=["1", 0]),
    }
    assert validate_graph(graph, EXTENDED) == []


def test_literal_on_a_core_link_input_is_a_bad_value() -> None:
    """ "images": "x.png" is a value where a link is needed (the server only fails later)."""
    problem = only(
        validate_graph({"1": node("SaveImage", images="x.png", filename_prefix="x")}, CATALOG)
    )
    assert (problem.input, problem.code) == ("images", "bad_value") and "link" in problem.message


def test_loop_is_a_bad_link() -> None:
    """Two nodes feeding each other are reported once as a loop."""
    graph = {
        "1": node("ImageInvert", image=["2", 0]),
        "2": node("ImageInvert", image=["1", 0]),
        "3": save(["2", 0]),
    }
    problem = only(validate_graph(graph, CATALOG))
    assert problem.code == "bad_link" and "loop" in problem.message


def test_no_output_node() -> None:
    """A graph without an output node (or without nodes) is no_output on node None."""
    graph = {"1": empty_image(), "2": node("ImageInvert", image=["1", 0])}
    problem = only(validate_graph(graph, CATALOG))
    assert codes([problem]) == [(None, None, "no_output")] and "SaveImage" in (problem.fix or "")
    assert codes(validate_graph({}, CATALOG)) == [(None, None, "no_output")]


def test_no_output_is_not_claimed_when_a_class_is_unknown() -> None:
    """An unknown class might be the output node: only unknown_node is reported."""
    graph = {"1": empty_image(), "2": node("VHS_VideoCombine", images=["1", 0])}
    assert codes(validate_graph(graph, CATALOG)) == [("2", None, "unknown_node")]


@pytest.mark.parametrize(
    ("input_name", "value", "ok"),
    [
        ("width", "PARAM_INT_WIDTH", True),
        ("width", "PARAM_STR_WIDTH", False),
        ("width", "PARAM_FLOAT_WIDTH", False),
        ("width", "PARAM_IMAGE", False),
    ],
)
def test_placeholder_kind_on_int(input_name: str, value: str, ok: bool) -> None:
    """Only PARAM_INT_* fits an INT input; the value itself is not checked."""
    problems = validate_graph(
        {"1": empty_image(**{input_name: value}), "2": save(["1", 0])}, CATALOG
    )
    assert (problems == []) is ok
    if not ok:
        assert problems[0].code == "bad_value" and (problems[0].fix or "").startswith(
            "Use PARAM_INT_"
        )


def test_placeholders_on_float_combo_string_and_media() -> None:
    """Placeholders of the right kind on FLOAT, combo, STRING and LoadImage inputs pass."""
    graph = {
        "1": node("LoadImage", image="PARAM_IMAGE_INPUT"),
        "2": node(
            "ImageBlur", image=["1", 0], blur_radius="PARAM_INT_RADIUS", sigma="PARAM_INT_SIGMA"
        ),
        "3": node(
            "ImageScale",
            image=["2", 0],
            upscale_method="PARAM_COMBO_METHOD",
            width=32,
            height=32,
            crop="disabled",
        ),
        "4": node("SaveImage", images=["3", 0], filename_prefix="PARAM_PROMPT"),
    }
    assert validate_graph(graph, CATALOG) == []


def test_media_placeholder_on_a_link_input_and_malformed_placeholder() -> None:
    """PARAM_IMAGE on SaveImage.images and a typo'd PARAM_ token are bad_value."""
    graph = {"1": node("SaveImage", images="PARAM_IMAGE", filename_prefix="PARAM_STRING_X")}
    assert codes(validate_graph(graph, CATALOG)) == [
        ("1", "images", "bad_value"),
        ("1", "filename_prefix", "bad_value"),
    ]


def test_malformed_graphs_and_nodes() -> None:
    """A non-object graph is one problem on node None; bad nodes are one problem each."""
    assert codes(validate_graph(["not", "a", "graph"], CATALOG)) == [(None, None, "bad_value")]  # type: ignore[arg-type]
    graph = {
        "1": "text",
        "2": {"inputs": {}},
        "3": {"class_type": "SaveImage", "inputs": None},
        "4": save(["5", 0]),
        "5": empty_image(),
    }
    assert codes(validate_graph(graph, CATALOG)) == [
        ("1", None, "bad_value"),
        ("2", None, "unknown_node"),
        ("3", None, "bad_value"),
    ]


def test_every_problem_in_one_pass_in_node_then_input_order() -> None:
    """Problems of many nodes come together, node ids numeric-aware, inputs in schema order."""
    graph = {
        "10": node("KSampler2"),
        "2": empty_image(width=0, height="tall"),
        "9": node("SaveImage", title="Final\nsave", images=["99", 0]),
        "3": node("CheckpointLoaderSimple", ckpt_name="nope.safetensors"),
        "4": node("SaveImage", images=["3", 0]),
    }
    problems = validate_graph(graph, CATALOG)
    assert codes(problems) == [
        ("2", "width", "bad_value"),
        ("2", "height", "bad_value"),
        ("3", "ckpt_name", "missing_model"),
        ("4", "images", "type_mismatch"),
        ("4", "filename_prefix", "missing_input"),
        ("9", "images", "bad_link"),
        ("9", "filename_prefix", "missing_input"),
        ("10", None, "unknown_node"),
    ]
    assert all("\n" not in p.message and p.fix for p in problems)
    assert problems[5].message.startswith('node 9 "Final save" (SaveImage) input images')


def test_problem_to_dict_has_the_design_keys() -> None:
    """to_dict gives node, class_type, input, code, message, fix."""
    problem = only(validate_graph({"1": empty_image(), "2": save(["99", 0])}, CATALOG))
    assert list(problem.to_dict()) == ["node", "class_type", "input", "code", "message", "fix"]
    assert problem.to_dict()["class_type"] == "SaveImage"


def big_graph(chains: int, length: int) -> dict[str, Any]:
    """``chains`` EmptyImage -> ImageInvert x length -> SaveImage chains."""
    graph: dict[str, Any] = {}
    for c in range(chains):
        base = c * (length + 2)
        graph[str(base)] = empty_image()
        for i in range(1, length + 1):
            graph[str(base + i)] = node("ImageInvert", image=[str(base + i - 1), 0])
        graph[str(base + length + 1)] = save([str(base + length), 0])
    return graph


def test_big_graph_is_valid() -> None:
    """A 2,000-node graph validates with no problem (and no recursion limit)."""
    assert validate_graph(big_graph(1, 1998), CATALOG) == []


# --- the real server agrees --------------------------------------------------------


def _problem_graphs(checkpoint: str) -> dict[str, dict[str, Any]]:
    """One graph per problem kind the real 0.3.75 rejects on its own."""
    return {
        "unknown_node": {**good_graph(), "3": node("KSampler2")},
        "missing_input": {"1": empty_image(), "2": node("SaveImage", filename_prefix="x")},
        "bad_value": {"1": empty_image(width=0), "2": save(["1", 0])},
        "type_mismatch": {
            "1": node("EmptyLatentImage", width=64, height=64, batch_size=1),
            "2": save(["1", 0]),
        },
        "missing_model": {
            "1": node("CheckpointLoaderSimple", ckpt_name="nope-" + checkpoint),
            "2": node("VAEDecode", samples=["3", 0], vae=["1", 2]),
            "3": node("EmptyLatentImage", width=64, height=64, batch_size=1),
            "4": save(["2", 0]),
        },
        "bad_link": {"1": empty_image(), "2": save(["1", 5])},
        "no_output": {"1": empty_image(), "2": node("ImageInvert", image=["1", 0])},
    }


@pytest.mark.real
async def test_real_server_rejects_what_we_reject(real_comfyui: RealComfyUI, tmp_path: Any) -> None:
    """Each problem we find is refused by the real server too; the good graph passes both."""
    async with ComfyClient(real_comfyui.url) as client:
        result = await load_catalog(client, tmp_path)
        assert result.source == "live"
        assert real_comfyui.checkpoint in result.models["checkpoints"]
        assert validate_graph(good_graph(), result.catalog, models=result.models) == []
        for code, graph in _problem_graphs(real_comfyui.checkpoint).items():
            found = validate_graph(graph, result.catalog, models=result.models)
            assert code in {p.code for p in found}, (code, [p.to_dict() for p in found])
            with pytest.raises(ValidationFailed):
                await client.submit(graph, prompt_id=str(uuid.uuid4()), client_id="validate-test")
    combined = {
        "1": node("CheckpointLoaderSimple", ckpt_name="nope.safetensors"),
        "2": node("KSampler2"),
        "3": empty_image(width=0),
        "4": node("SaveImage", images=["1", 0]),
    }
    found = {p.code for p in validate_graph(combined, result.catalog, models=result.models)}
    assert {"missing_model", "unknown_node", "bad_value", "type_mismatch", "missing_input"} <= found
    assert validate_graph(big_graph(20, 98), result.catalog, models=result.models) == []


def test_just_uploaded_input_files_are_accepted() -> None:
    """A LoadImage file missing from the node list is fine once known to be uploaded."""
    graph = {"1": node("LoadImage", image="plate-0042.png"), "2": save(["1", 0])}
    assert only(validate_graph(graph, CATALOG)).code == "bad_value"
    assert validate_graph(graph, CATALOG, input_files={"plate-0042.png"}) == []

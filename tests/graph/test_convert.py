"""UI (save) format -> API format: hand-built fixtures, the frontend's rules, real ComfyUI."""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.errors import TemplateInvalid
from comfycine.graph.convert import ConversionResult, is_ui_workflow, ui_to_api
from comfycine.graph.schema import Catalog

from ..captures import CAPTURES
from ..templates.test_shipped import png_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "convert"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "ui.json").is_file())
CATALOG = Catalog.from_object_info(json.loads((CAPTURES / "GET_object_info.json").read_text()))
# Substrings each warning of a case must contain, in order; other cases convert cleanly.
EXPECTED_WARNINGS = {"muted": [["node 4", "'mask'", "node 3", "muted"]]}
REAL_TIMEOUT = 120.0  # seconds for all converted graphs to run on a slow CPU
POLL = 0.1


def load_case(case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The UI workflow of a fixture case and its known API form."""
    folder = FIXTURES / case
    return (
        json.loads((folder / "ui.json").read_text()),
        json.loads((folder / "api.json").read_text()),
    )


def node(
    node_id: int,
    kind: str,
    *,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    values: Any = None,
    mode: int = 0,
) -> dict[str, Any]:
    """A UI node with just the fields the converter reads."""
    data: dict[str, Any] = {
        "id": node_id,
        "type": kind,
        "mode": mode,
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
    if values is not None:
        data["widgets_values"] = values
    return data


def image_out(*links: int) -> list[dict[str, Any]]:
    """One IMAGE output feeding ``links``."""
    return [{"name": "IMAGE", "type": "IMAGE", "links": list(links)}]


def image_in(link: int | None, name: str = "image") -> list[dict[str, Any]]:
    """One IMAGE input fed by ``link``."""
    return [{"name": name, "type": "IMAGE", "link": link}]


def workflow(nodes: list[dict[str, Any]], links: list[list[Any]]) -> dict[str, Any]:
    """A schema 0.4 UI workflow."""
    return {"nodes": nodes, "links": links, "version": 0.4}


# --- the fixture cases -------------------------------------------------------------


def test_every_required_case_has_a_fixture() -> None:
    """The fixture set covers each situation the converter must handle."""
    required = {"txt2img", "loadimage_blur", "bypass", "muted", "reroute", "primitive"}
    assert required | {"schema1", "v3_combo", "subgraph"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_fixture_converts_to_its_api_form(case: str) -> None:
    """Each hand-built UI workflow converts to exactly its API form."""
    ui, api = load_case(case)
    result = ui_to_api(ui, CATALOG)
    assert isinstance(result, ConversionResult)
    assert result.graph == api


@pytest.mark.parametrize("case", CASES)
def test_fixture_warnings_are_the_expected_ones(case: str) -> None:
    """Only lossy conversions warn, and each warning names the node and the reason."""
    ui, _ = load_case(case)
    warnings = ui_to_api(ui, CATALOG).warnings
    expected = EXPECTED_WARNINGS.get(case, [])
    assert len(warnings) == len(expected), warnings
    for warning, parts in zip(warnings, expected, strict=True):
        assert all(part in warning for part in parts), warning


def test_conversion_leaves_the_ui_workflow_untouched() -> None:
    """Converting does not modify the caller's dict."""
    ui, _ = load_case("subgraph")
    before = copy.deepcopy(ui)
    ui_to_api(ui, CATALOG)
    assert ui == before


# --- format detection and refusals -----------------------------------------------------


def test_is_ui_workflow_needs_lists_of_nodes_and_links() -> None:
    """A dict with list nodes and list links is UI format; API graphs and junk are not."""
    assert is_ui_workflow({"nodes": [], "links": []})
    assert not is_ui_workflow({"3": {"class_type": "KSampler", "inputs": {}}})
    assert not is_ui_workflow({"nodes": {}, "links": []})
    assert not is_ui_workflow([{"nodes": [], "links": []}])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([1, 2], "JSON object"),
        ({"links": []}, "no list of nodes"),
        ({"nodes": [], "links": []}, "no list of nodes"),
        ({"3": {"class_type": "SaveImage", "inputs": {}}}, "already in API format"),
    ],
)
def test_unconvertible_input_is_template_invalid(data: Any, words: str) -> None:
    """Anything that is not a UI workflow raises TemplateInvalid saying why."""
    with pytest.raises(TemplateInvalid, match=words):
        ui_to_api(data, CATALOG)


def test_group_node_is_refused_with_the_unpack_hint() -> None:
    """A legacy group node cannot be converted: the error says how to unpack it."""
    ui = workflow([node(1, "workflow>My group")], [])
    ui["extra"] = {"groupNodes": {"My group": {"nodes": []}}}
    with pytest.raises(TemplateInvalid) as caught:
        ui_to_api(ui, CATALOG)
    assert "group node" in caught.value.message
    assert "Convert to nodes" in caught.value.hint


def test_circular_reroutes_are_refused() -> None:
    """Two reroutes feeding each other raise TemplateInvalid instead of looping."""

    def reroute_in(link: int) -> list[dict[str, Any]]:
        return [{"name": "", "type": "*", "link": link}]

    ui = workflow(
        [
            node(1, "Reroute", inputs=reroute_in(2), outputs=image_out(1)),
            node(
                2, "Reroute", inputs=[{"name": "", "type": "*", "link": 1}], outputs=image_out(2, 3)
            ),
            node(3, "PreviewImage", inputs=image_in(3, "images")),
        ],
        [[1, 1, 0, 2, 0, "*"], [2, 2, 0, 1, 0, "*"], [3, 2, 0, 3, 0, "IMAGE"]],
    )
    with pytest.raises(TemplateInvalid, match="circle"):
        ui_to_api(ui, CATALOG)


# --- nodes the catalog does not know ---------------------------------------------------


def test_unknown_class_keeps_its_links_and_is_reported() -> None:
    """A custom node missing from the server stays, with its links only, and warns."""
    ui = workflow(
        [
            node(1, "EmptyImage", outputs=image_out(1), values=[8, 8, 1, 0]),
            node(2, "FancyUpscaler", inputs=image_in(1), outputs=image_out(2), values=[2, "x"]),
            node(3, "PreviewImage", inputs=image_in(2, "images")),
        ],
        [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]],
    )
    result = ui_to_api(ui, CATALOG)
    assert result.graph["2"] == {
        "class_type": "FancyUpscaler",
        "inputs": {"image": ["1", 0]},
        "_meta": {"title": "FancyUpscaler"},
    }
    assert result.graph["3"]["inputs"] == {"images": ["2", 0]}
    assert len(result.warnings) == 1 and "'FancyUpscaler'" in result.warnings[0]


def test_notes_are_dropped_silently() -> None:
    """Note and MarkdownNote nodes are frontend-only and leave no trace."""
    ui = workflow(
        [
            node(1, "Note", values=["remember the seed"]),
            node(2, "MarkdownNote", values=["# hi"]),
            node(3, "EmptyImage", values=[8, 8, 1, 0]),
        ],
        [],
    )
    result = ui_to_api(ui, CATALOG)
    assert list(result.graph) == ["3"] and result.warnings == []


# --- widget values ---------------------------------------------------------------------


def test_seed_control_slot_is_skipped() -> None:
    """The control_after_generate value after a seed is not taken for steps."""
    ui = workflow(
        [node(1, "KSampler", values=[7, "increment", 20, 6.5, "euler", "karras", 0.9])], []
    )
    result = ui_to_api(ui, CATALOG)
    assert result.graph["1"]["inputs"] == {
        "seed": 7,
        "steps": 20,
        "cfg": 6.5,
        "sampler_name": "euler",
        "scheduler": "karras",
        "denoise": 0.9,
    }
    assert result.warnings == []


def test_an_older_save_is_read_in_order_as_the_frontend_does() -> None:
    """Six KSampler values (no control slot) fill the current widgets in order, and warn."""
    ui = workflow([node(1, "KSampler", values=[7, 20, 6.5, "euler", "karras", 1])], [])
    result = ui_to_api(ui, CATALOG)
    assert result.graph["1"]["inputs"]["steps"] == 6.5  # what ComfyUI itself would queue
    assert result.graph["1"]["inputs"]["denoise"] == 1.0  # the default, nothing saved
    assert "denoise took the default" in result.warnings[0]


def test_too_many_values_are_dropped_and_reported() -> None:
    """Values past the node's widgets are ignored, and the warning counts them."""
    ui = workflow([node(1, "EmptyImage", values=[8, 4, 1, 0, "old", "older"])], [])
    result = ui_to_api(ui, CATALOG)
    assert result.graph["1"]["inputs"] == {"width": 8, "height": 4, "batch_size": 1, "color": 0}
    assert "the last 2 were dropped" in result.warnings[0]


def test_dict_widget_values_are_read_by_name() -> None:
    """Custom nodes that save a dict of widget values are mapped by name (others: defaults)."""
    ui = workflow([node(1, "EmptyImage", values={"width": 8, "height": 4, "videopreview": {}})], [])
    inputs = ui_to_api(ui, CATALOG).graph["1"]["inputs"]
    assert inputs == {"width": 8, "height": 4, "batch_size": 1, "color": 0}


def test_list_widget_value_is_wrapped() -> None:
    """A list value is sent as {"__value__": [...]} so it is not read as a link."""
    ui = workflow([node(1, "ImageQuantize", values=[4, ["none", "bayer-2"]])], [])
    inputs = ui_to_api(ui, CATALOG).graph["1"]["inputs"]
    assert inputs["dither"] == {"__value__": ["none", "bayer-2"]}


def test_upload_slot_is_skipped_for_a_video_upload_combo() -> None:
    """LoadVideo's upload button value is not taken for a further input."""
    ui = workflow([node(1, "LoadVideo", values=["clip.mp4", "image"])], [])
    result = ui_to_api(ui, CATALOG)
    assert result.graph["1"]["inputs"] == {"file": "clip.mp4"} and result.warnings == []


# --- what the frontend does when it queues ----------------------------------------------


def text_node(node_id: int, text: str, **kw: Any) -> dict[str, Any]:
    """A CLIPTextEncode (its text has dynamic prompts) with an unlinked clip."""
    return node(
        node_id,
        "CLIPTextEncode",
        inputs=[{"name": "clip", "type": "CLIP", "link": None}],
        values=[text],
        **kw,
    )


def test_dynamic_prompts_are_drawn_and_returned() -> None:
    """{a|b} is drawn from the seed; the result names the node, the template and the draws."""
    ui = workflow([text_node(6, "a {red|blue} fox // note")], [])
    result = ui_to_api(ui, CATALOG, seed=11)
    [prompt] = result.prompts
    assert (prompt.node, prompt.input, prompt.template) == ("6", "text", "a {red|blue} fox // note")
    assert result.graph["6"]["inputs"]["text"] == prompt.text in ("a red fox ", "a blue fox ")
    assert result.seed == 11 and result.choices() == {"6.text": list(prompt.choices)}


def test_the_same_seed_or_choices_make_the_same_texts() -> None:
    """A take is re-rendered by its seed, or by its recorded choices under any seed."""
    ui = workflow([text_node(6, "{a|b|c} {x|y|z} {1|2|3}"), text_node(7, "{p|q|r|s}")], [])
    first = ui_to_api(ui, CATALOG, seed=5)
    assert ui_to_api(ui, CATALOG, seed=5).graph == first.graph
    replayed = ui_to_api(ui, CATALOG, seed=99, choices=first.choices())
    assert replayed.graph == first.graph
    seeds = {ui_to_api(ui, CATALOG, seed=s).graph["6"]["inputs"]["text"] for s in range(30)}
    assert len(seeds) > 1


def test_a_fresh_seed_is_drawn_and_reported() -> None:
    """Without a seed the conversion draws one and says which."""
    result = ui_to_api(workflow([text_node(6, "{a|b}")], []), CATALOG)
    assert isinstance(result.seed, int)
    assert (
        ui_to_api(workflow([text_node(6, "{a|b}")], []), CATALOG, seed=result.seed).graph
        == result.graph
    )


def test_plain_text_records_no_prompt() -> None:
    """A text without comments or choices is sent as it is and not listed."""
    result = ui_to_api(workflow([text_node(6, "a plain prompt")], []), CATALOG, seed=1)
    assert result.graph["6"]["inputs"]["text"] == "a plain prompt" and result.prompts == []


def test_filename_prefix_tokens_expand_on_the_given_clock() -> None:
    """%Node.widget% and %date:...% in a save node's prefix; other inputs untouched."""
    ui = workflow(
        [
            {**node(1, "EmptyImage", values=[64, 32, 1, 0]), "title": "Canvas"},
            node(2, "SaveImage", values=["%date:yyyy-MM-dd%/%EmptyImage.width%x%Canvas.height%"]),
            text_node(3, "%EmptyImage.width%"),
        ],
        [],
    )
    graph = ui_to_api(ui, CATALOG, now=datetime(2025, 1, 2, 3, 4, 5)).graph
    assert graph["2"]["inputs"]["filename_prefix"] == "2025-01-02/64x32"
    assert graph["3"]["inputs"]["text"] == "%EmptyImage.width%"


def test_a_primitive_behind_a_reroute_is_ignored_with_a_warning() -> None:
    """A primitive's value does not pass a reroute: the widget keeps its own, with a warning."""
    ui, _ = load_case("primitive")
    prim = next(n for n in ui["nodes"] if n["type"] == "PrimitiveNode" and n["title"] == "seed")
    sampler = next(n for n in ui["nodes"] if n["type"] == "KSampler")
    seed_in = next(e for e in sampler["inputs"] if e["name"] == "seed")
    ui["nodes"].append(
        node(
            99,
            "Reroute",
            inputs=[{"name": "", "type": "*", "link": 990}],
            outputs=[{"name": "", "type": "INT", "links": [seed_in["link"]]}],
        )
    )
    ui["links"] = [lk for lk in ui["links"] if lk[0] != seed_in["link"]]
    ui["links"] += [
        [990, prim["id"], 0, 99, 0, "INT"],
        [seed_in["link"], 99, 0, sampler["id"], 4, "INT"],
    ]
    result = ui_to_api(ui, CATALOG)
    assert result.graph[str(sampler["id"])]["inputs"]["seed"] == sampler["widgets_values"][0]
    assert any("PrimitiveNode" in w and "Reroute" in w for w in result.warnings)


def test_a_browser_made_value_is_left_unset_with_a_warning() -> None:
    """A webcam frame is made by the browser: the input stays unset and is named."""
    catalog = Catalog.from_object_info(
        {"WebcamCapture": {"input": {"required": {"image": ["WEBCAM", {}], "width": ["INT", {}]}}}}
    )
    result = ui_to_api(workflow([node(1, "WebcamCapture", values=["", 640])], []), catalog)
    assert result.graph["1"]["inputs"] == {"width": 640}
    assert "'image' is made by the browser" in result.warnings[0]


# --- links -----------------------------------------------------------------------------


def bypassed_mask_node() -> dict[str, Any]:
    """A bypassed node whose first input is a MASK and second an IMAGE."""
    return node(
        2,
        "JoinImageWithAlpha",
        mode=4,
        inputs=[{"name": "alpha", "type": "MASK", "link": 2}, image_in(1)[0]],
        outputs=image_out(3),
    )


def test_bypass_prefers_an_input_of_the_wanted_type_over_the_same_slot() -> None:
    """Output 0 of a bypassed node maps to its IMAGE input when input 0 is a MASK."""
    ui = workflow(
        [
            node(1, "EmptyImage", outputs=image_out(1), values=[8, 8, 1, 0]),
            node(4, "SolidMask", outputs=[{"name": "MASK", "type": "MASK", "links": [2]}]),
            bypassed_mask_node(),
            node(3, "PreviewImage", inputs=image_in(3, "images")),
        ],
        [[1, 1, 0, 2, 1, "IMAGE"], [2, 4, 0, 2, 0, "MASK"], [3, 2, 0, 3, 0, "IMAGE"]],
    )
    graph = ui_to_api(ui, CATALOG).graph
    assert "2" not in graph
    assert graph["3"]["inputs"]["images"] == ["1", 0]


def test_bypass_without_a_matching_input_leaves_the_input_unset() -> None:
    """A bypassed node with no input of the wanted type feeds nothing, and says so."""
    ui = workflow(
        [
            node(4, "SolidMask", outputs=[{"name": "MASK", "type": "MASK", "links": [2]}]),
            node(
                2,
                "MaskToImage",
                mode=4,
                inputs=[{"name": "mask", "type": "MASK", "link": 2}],
                outputs=image_out(3),
            ),
            node(3, "PreviewImage", inputs=image_in(3, "images")),
        ],
        [[2, 4, 0, 2, 0, "MASK"], [3, 2, 0, 3, 0, "IMAGE"]],
    )
    result = ui_to_api(ui, CATALOG)
    assert result.graph["3"]["inputs"] == {}
    assert any("bypassed" in w and "IMAGE" in w for w in result.warnings)


def test_a_link_missing_from_the_table_is_reported() -> None:
    """An input naming a link id that does not exist is left unset with a warning."""
    ui = workflow([node(3, "PreviewImage", inputs=image_in(99, "images"))], [])
    result = ui_to_api(ui, CATALOG)
    assert result.graph["3"]["inputs"] == {}
    assert "link 99" in result.warnings[0]


def test_inner_nodes_muted_with_their_subgraph_are_left_out() -> None:
    """As ComfyUI saves a muted subgraph (inner nodes muted too): nothing inside runs."""
    ui, _ = load_case("subgraph")
    next(n for n in ui["nodes"] if n["id"] == 11)["mode"] = 2
    definition = copy.deepcopy(ui["definitions"]["subgraphs"][0])
    definition["id"] = "muted-copy"
    for inner in definition["nodes"]:
        inner["mode"] = 2
    ui["definitions"]["subgraphs"].append(definition)
    next(n for n in ui["nodes"] if n["id"] == 11)["type"] = "muted-copy"
    result = ui_to_api(ui, CATALOG)
    assert "11:1" not in result.graph and "11:2" not in result.graph
    assert "images" not in result.graph["3"]["inputs"]
    assert any("11:2" in w and "muted" in w for w in result.warnings)


def test_a_subgraph_muted_by_hand_still_runs_its_inner_nodes() -> None:
    """Only the instance muted (its inner nodes not): they run, as in ComfyUI, with a warning."""
    ui, _ = load_case("subgraph")
    next(n for n in ui["nodes"] if n["id"] == 11)["mode"] = 2
    result = ui_to_api(ui, CATALOG)
    assert result.graph["3"]["inputs"]["images"] == ["11:2", 0]
    assert any("node 11" in w and "11:1, 11:2" in w and "run" in w for w in result.warnings)


def test_bypassed_subgraph_instance_passes_its_input_through() -> None:
    """A bypassed subgraph instance wires its IMAGE output to its IMAGE input."""
    ui, _ = load_case("subgraph")
    next(n for n in ui["nodes"] if n["id"] == 10)["mode"] = 4
    graph = ui_to_api(ui, CATALOG).graph
    assert graph["2"]["inputs"]["images"] == ["1", 0]


def test_nested_subgraphs_get_colon_joined_ids() -> None:
    """A subgraph inside a subgraph flattens to "outer:middle:inner" ids."""
    ui, _ = load_case("subgraph")
    inner = ui["definitions"]["subgraphs"][0]
    outer = {
        "id": "outer-def",
        "name": "Wrapper",
        "inputs": [{"name": "image", "type": "IMAGE"}],
        "outputs": [{"name": "IMAGE", "type": "IMAGE"}],
        "nodes": [
            {
                "id": 7,
                "type": inner["id"],
                "mode": 0,
                "inputs": image_in(1),
                "outputs": image_out(2),
                "widgets_values": [3],
            }
        ],
        "links": [
            {"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 7, "target_slot": 0},
            {"id": 2, "origin_id": 7, "origin_slot": 0, "target_id": -20, "target_slot": 0},
        ],
    }
    ui["definitions"]["subgraphs"].append(outer)
    next(n for n in ui["nodes"] if n["id"] == 10)["type"] = "outer-def"
    graph = ui_to_api(ui, CATALOG).graph
    assert graph["10:7:1"]["inputs"] == {"image": ["1", 0], "blur_radius": 3, "sigma": 0.5}
    assert graph["2"]["inputs"]["images"] == ["10:7:2", 0]


def test_a_subgraph_containing_itself_is_refused() -> None:
    """A definition that instantiates itself raises TemplateInvalid naming it."""
    ui, _ = load_case("subgraph")
    definition = ui["definitions"]["subgraphs"][0]
    definition["nodes"].append({"id": 5, "type": definition["id"], "mode": 0})
    with pytest.raises(TemplateInvalid, match="Blur then invert"):
        ui_to_api(ui, CATALOG)


# --- the real server -------------------------------------------------------------------


def adapt_for_tiny_server(graph: dict[str, Any], checkpoint: str) -> dict[str, Any]:
    """Point checkpoints at the test server's tiny one, and keep sampling cheap."""
    for item in graph.values():
        inputs = item["inputs"]
        if item["class_type"] == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoint
        elif item["class_type"] == "EmptyLatentImage":
            inputs.update(width=64, height=64)
        elif item["class_type"] == "KSampler":
            inputs["steps"] = 2
    return graph


@pytest.mark.real
def test_converted_fixtures_are_accepted_and_run_by_real_comfyui(real_comfyui: Any) -> None:
    """Each converted fixture is accepted by a real ComfyUI (no node errors) and runs."""
    client_id = f"convert-test-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=real_comfyui.url, timeout=30) as client:
        catalog = Catalog.from_object_info(client.get("/object_info").raise_for_status().json())
        client.post(
            "/upload/image",
            files={"image": ("example.png", png_bytes())},
            data={"overwrite": "true"},
        ).raise_for_status()
        prompt_ids: dict[str, str] = {}
        for case in CASES:
            ui, _ = load_case(case)
            graph = adapt_for_tiny_server(ui_to_api(ui, catalog).graph, real_comfyui.checkpoint)
            answer = client.post("/prompt", json={"prompt": graph, "client_id": client_id})
            assert answer.status_code == 200, f"{case}: {answer.text}"
            assert answer.json()["node_errors"] == {}, case
            prompt_ids[case] = answer.json()["prompt_id"]
        deadline = time.monotonic() + REAL_TIMEOUT
        statuses: dict[str, str] = {}
        while len(statuses) < len(prompt_ids) and time.monotonic() < deadline:
            for case, prompt_id in prompt_ids.items():
                entry = client.get(f"/history/{prompt_id}").json().get(prompt_id)
                if entry:  # history lists a prompt once it has finished
                    statuses[case] = entry["status"]["status_str"]
            time.sleep(POLL)
    assert statuses == {case: "success" for case in CASES}

"""MCWW tagging: titles on the right nodes, primitives where a title cannot reach."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import UsageError
from comfycine.graph.convert import ui_to_api
from comfycine.graph.validate import validate_graph
from comfycine.mobile.mcww import OWN_PORT, mcww_field, mcww_tag_file, tag_workflow, tagged_path
from comfycine.settings import resolve
from comfycine.targets import resolve_target

from .support import OBJECT_INFO, catalog, ui_fixture

# MCWW's title grammar (docs/titles.md, comfyUtils.parse_title).
TITLE_RE = re.compile(r"<([^:]+):([^/:]+)(?:/([^/:]+))?:(\d+)(?:/(\d+))?>(.*)")


def titles(ui: dict[str, Any]) -> dict[str, str]:
    """Node id -> title, for the nodes that have one."""
    return {str(n["id"]): n["title"] for n in ui["nodes"] if n.get("title")}


def resolved(graph: dict[str, Any], node_id: str, name: str) -> Any:
    """An API input's value, read through a link to a primitive node."""
    value = graph[node_id]["inputs"][name]
    return graph[value[0]]["inputs"]["value"] if isinstance(value, list) else value


def test_txt2img_titles_on_the_right_nodes() -> None:
    """Prompt, negative, seed, width and output titles go on the nodes MCWW reads them from."""
    result = tag_workflow(ui_fixture("txt2img"), catalog())
    got = titles(result.workflow)
    assert got["6"] == "<Prompt:prompt:1>"
    assert got["7"] == "<Negative prompt:advanced:1>"
    assert got["3"] == "<Seed:advanced:2>"
    assert got["5"] == "<Width:important:1>"
    assert got["9"] == "<Output:output:1>"
    assert all(TITLE_RE.fullmatch(t.title) for t in result.tags)


def test_numbers_a_title_cannot_reach_get_primitives() -> None:
    """Steps, cfg and height (second fields of their nodes) get Int/Float primitives."""
    result = tag_workflow(ui_fixture("txt2img"), catalog())
    added = {t.role: t for t in result.tags if t.added}
    assert set(added) == {"steps", "cfg", "height"}
    nodes = {str(n["id"]): n for n in result.workflow["nodes"]}
    assert nodes[added["steps"].node]["type"] == "PrimitiveInt"
    assert nodes[added["cfg"].node]["type"] == "PrimitiveFloat"
    assert nodes[added["height"].node]["title"] == "<Height:important:1>"
    assert added["steps"].controls == ("3.steps",)


def test_tagged_workflow_converts_to_the_same_values() -> None:
    """The tagged workflow runs the same: every value is kept, now driven by primitives."""
    original = ui_to_api(ui_fixture("txt2img"), catalog()).graph
    result = tag_workflow(ui_fixture("txt2img"), catalog())
    converted = ui_to_api(result.workflow, catalog())
    assert converted.warnings == []
    for node_id, node in original.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list):  # a link stays the same link
                assert converted.graph[node_id]["inputs"][name] == value
            else:  # 8 == 8.0: an int cfg now comes from a Float primitive
                assert resolved(converted.graph, node_id, name) == value
    assert converted.graph["3"]["inputs"]["steps"] == [added_id(result, "steps"), 0]
    problems = validate_graph(converted.graph, catalog())
    assert {p.code for p in problems} <= {"missing_model"}


def added_id(result: Any, role: str) -> str:
    """The id of the primitive added for ``role``."""
    return next(t.node for t in result.tags if t.role == role and t.added)


def test_existing_primitives_are_titled_instead() -> None:
    """Inputs already fed by a Primitive node get the title on that node."""
    result = tag_workflow(ui_fixture("primitive"), catalog())
    by_role = {t.role: t for t in result.tags}
    assert (by_role["prompt"].node, by_role["prompt"].previous_title) == ("21", "Prompt")
    assert (by_role["seed"].node, by_role["seed"].added) == ("20", False)
    assert titles(result.workflow)["20"] == "<Seed:advanced:2>"


def test_link_objects_and_state_ids_are_kept_consistent() -> None:
    """In a schema-1 workflow the new link is an object and state's last ids move on."""
    ui = ui_fixture("schema1")
    result = tag_workflow(ui, catalog())
    new = added_id(result, "height")
    state = result.workflow["state"]
    assert state["lastNodeId"] == int(new) and state["lastNodeId"] > ui["state"]["lastNodeId"]
    link = result.workflow["links"][-1]
    assert isinstance(link, dict) and link["origin_id"] == int(new)
    assert state["lastLinkId"] == link["id"]
    converted = ui_to_api(result.workflow, catalog()).graph
    assert converted["1"]["inputs"]["height"] == [new, 0]


def test_user_primitive_wins_for_width() -> None:
    """A width the user already drives from a primitive is tagged on that primitive."""
    result = tag_workflow(ui_fixture("schema1"), catalog())
    width = next(t for t in result.tags if t.role == "width")
    assert (width.node, width.previous_title, width.added) == ("30", "Width", False)


def test_shared_steps_get_one_primitive() -> None:
    """Two samplers with the same steps are driven by one primitive."""
    ui = ui_fixture("txt2img")
    second = copy.deepcopy(next(n for n in ui["nodes"] if n["id"] == 3))
    second["id"], second["title"] = 30, "Second pass"
    second["widgets_values"][0] = 7  # its own seed: not shared
    for entry in second["inputs"]:
        entry["link"] = None
    ui["nodes"].append(second)
    result = tag_workflow(ui, catalog())
    steps = next(t for t in result.tags if t.role == "steps")
    assert steps.added and steps.controls == ("3.steps", "30.steps")
    seed = next(t for t in result.tags if t.role == "seed")
    assert seed.controls == ("3.seed",)


def test_loader_and_output_titles() -> None:
    """An image loader becomes a prompt-category input; the saver the output."""
    result = tag_workflow(ui_fixture("loadimage_blur"), catalog())
    assert {t.role: t.title for t in result.tags} == {
        "image": "<Image:prompt:1>",
        "output": "<Output:output:1>",
    }


def test_missing_prompt_is_warned() -> None:
    """A workflow with nothing for MCWW's prompt category is warned about."""
    result = tag_workflow(ui_fixture("schema1"), catalog())
    assert any("prompt category" in w for w in result.warnings)
    assert result.warnings[-1] == OWN_PORT and "own port" in OWN_PORT


def test_subgraphs_are_warned() -> None:
    """Subgraph inner nodes are left alone, with a warning that MCWW cannot run them."""
    result = tag_workflow(ui_fixture("subgraph"), catalog())
    assert any("subgraphs" in w for w in result.warnings)
    assert all(":" not in t.node for t in result.tags)


def test_api_format_is_refused() -> None:
    """An API-format graph is not a saved workflow: not_ui_workflow."""
    with pytest.raises(UsageError) as caught:
        tag_workflow({"1": {"class_type": "EmptyImage", "inputs": {}}}, catalog())
    assert caught.value.code == "not_ui_workflow"


@pytest.mark.parametrize(
    ("cls", "inputs", "is_input", "expected"),
    [
        ("KSampler", {"seed": 1, "steps": 20, "cfg": 8.0, "denoise": 1.0}, True, "seed"),
        ("SamplerCustom", {"add_noise": True, "noise_seed": 1, "cfg": 8.0}, True, "add_noise"),
        ("CLIPTextEncode", {"text": "x", "clip": ["1", 1]}, True, "text"),
        ("LoadImage", {"image": "example.png"}, True, "image"),
        ("SaveImage", {"images": ["1", 0], "filename_prefix": "x"}, False, "images"),
        ("SaveVideo", {"video": ["1", 0], "filename_prefix": "x"}, False, "video"),
    ],
)
def test_field_choice_mirrors_mcww(
    cls: str, inputs: dict[str, Any], is_input: bool, expected: str
) -> None:
    """The field a titled node shows follows MCWW: media, text, boolean, else first number."""
    schema = catalog().get(cls)
    assert schema is not None
    assert mcww_field(inputs, schema, is_input=is_input) == expected


def offline_settings(tmp_path: Path) -> Any:
    """Settings for a closed loopback server whose node list is in the snapshot."""
    from comfycine.graph.catalog_source import save_snapshot

    url = "http://127.0.0.1:9"
    save_snapshot(tmp_path / "cache", url, OBJECT_INFO, {})
    return resolve(
        {"cache_dir": tmp_path / "cache", "comfyui_url": url}, env={}, read_dotenv_file=False
    )


async def test_tag_file_writes_a_new_file(tmp_path: Path) -> None:
    """The tagged copy goes to NAME-mcww.json; the source is never touched."""
    settings = offline_settings(tmp_path)
    source = tmp_path / "flow.json"
    source.write_text(json.dumps(ui_fixture("txt2img")))
    before = source.read_text()
    result = await mcww_tag_file(
        settings, source, target=resolve_target(settings, None), offline=True
    )
    assert result.path == tagged_path(source).absolute() and source.read_text() == before
    assert json.loads(result.path.read_text()) == result.document
    assert result.data["mcww_url"] == "http://127.0.0.1:7860"
    assert any("Tailscale address" in w for w in result.warnings)
    with pytest.raises(UsageError) as caught:
        await mcww_tag_file(settings, source, target=resolve_target(settings, None), offline=True)
    assert caught.value.code == "file_exists"


async def test_tag_file_refuses_the_input_as_output(tmp_path: Path) -> None:
    """--out naming the source is refused without --force; --in-place rewrites it."""
    settings = offline_settings(tmp_path)
    source = tmp_path / "flow.json"
    source.write_text(json.dumps(ui_fixture("txt2img")))
    target = resolve_target(settings, None)
    with pytest.raises(UsageError):
        await mcww_tag_file(settings, source, target=target, offline=True, out=source)
    assert json.loads(source.read_text()) == ui_fixture("txt2img")
    await mcww_tag_file(settings, source, target=target, offline=True, in_place=True)
    assert titles(json.loads(source.read_text()))["6"] == "<Prompt:prompt:1>"
    with pytest.raises(UsageError):
        await mcww_tag_file(
            settings, source, target=target, offline=True, in_place=True, out=tmp_path / "x.json"
        )

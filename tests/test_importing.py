"""Saved ComfyUI workflows: listing and fetching over userdata, and importing as templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.errors import TemplateInvalid, UsageError
from comfycine.graph.schema import Catalog
from comfycine.importing import (
    SavedWorkflow,
    fetch_saved_workflow,
    import_workflow,
    list_saved_workflows,
    template_stem,
)
from comfycine.templates import load_template
from comfycine.transport import ComfyClient
from tests.captures import CAPTURES

Handler = Callable[[httpx.Request], httpx.Response]
CATALOG = Catalog.from_object_info(json.loads((CAPTURES / "GET_object_info.json").read_text()))
TXT2IMG_UI = Path(__file__).parent / "graph" / "fixtures" / "convert" / "txt2img" / "ui.json"
OFFICIAL = Path(__file__).parent / "fixtures" / "official"
POSITIVE = "beautiful scenery nature glass bottle landscape, purple galaxy bottle"


def make_client(handler: Handler) -> ComfyClient:
    """A client whose requests go to ``handler``."""
    return ComfyClient("http://comfy.test:8188", transport=httpx.MockTransport(handler))


def txt2img_ui() -> dict[str, Any]:
    """The default txt2img workflow in UI format (the converter's fixture)."""
    data: dict[str, Any] = json.loads(TXT2IMG_UI.read_text())
    return data


def encode(node_id: str, text: Any, clip: str = "4") -> dict[str, Any]:
    """A CLIPTextEncode API node."""
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": [clip, 1]}}


def sampler_graph(positive: str, negative: str = "7") -> dict[str, Any]:
    """An API graph around one KSampler whose conditioning comes from the given nodes."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64}},
        "7": encode("7", "ugly"),
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["4", 0],
                "positive": [positive, 0],
                "negative": [negative, 0],
                "latent_image": ["5", 0],
                "seed": 1,
            },
        },
    }


# --- listing and fetching ------------------------------------------------------------


async def test_list_saved_workflows_asks_for_the_full_recursive_listing() -> None:
    """The listing asks for workflows recursively with full info and keeps .json files."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json=[
                {"path": "shots/B roll.json", "size": 2048, "modified": 1730000000.5},
                {"path": "a.json", "size": 10, "modified": 1720000000.0, "created": 1.0},
                {"path": "notes.txt", "size": 3, "modified": 1.0},
                "legacy.json",
            ],
        )

    async with make_client(handler) as client:
        found = await list_saved_workflows(client)
    assert seen[0].url.path == "/api/userdata"
    assert dict(seen[0].url.params) == {"dir": "workflows", "recurse": "true", "full_info": "true"}
    assert found == [
        SavedWorkflow("a.json", 10, 1720000000.0),
        SavedWorkflow("legacy.json"),
        SavedWorkflow("shots/B roll.json", 2048, 1730000000.5),
    ]


async def test_no_workflows_directory_is_an_empty_list() -> None:
    """A 404 (the user never saved a workflow) lists nothing instead of failing."""
    async with make_client(lambda r: httpx.Response(404, text="Not Found")) as client:
        assert await list_saved_workflows(client) == []


async def test_fetch_encodes_the_whole_path_as_one_segment() -> None:
    """The file path is sent with "/" as %2F (and spaces escaped) after workflows%2F."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={"nodes": [], "links": []})

    async with make_client(handler) as client:
        data = await fetch_saved_workflow(client, "shots/B roll.json")
    assert seen == [b"/api/userdata/workflows%2Fshots%2FB%20roll.json"]
    assert data == {"nodes": [], "links": []}


async def test_fetch_of_a_missing_workflow_is_a_usage_error() -> None:
    """A 404 for the file raises workflow_not_found naming the path."""
    async with make_client(lambda r: httpx.Response(404, text="Not Found")) as client:
        with pytest.raises(UsageError) as caught:
            await fetch_saved_workflow(client, "gone.json")
    assert caught.value.code == "workflow_not_found"
    assert "gone.json" in caught.value.message


async def test_fetch_of_a_non_object_is_template_invalid() -> None:
    """A saved file whose JSON is not an object cannot be a workflow."""
    async with make_client(lambda r: httpx.Response(200, json=[1, 2])) as client:
        with pytest.raises(TemplateInvalid):
            await fetch_saved_workflow(client, "odd.json")


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("shots/My Flow v2.json", "my-flow-v2"),
        ("Été à Paris.json", "ete-a-paris"),
        ("wan2.2 (fast)!.JSON", "wan2-2-fast"),
        ("plain", "plain"),
    ],
)
def test_template_stem_is_lowercase_and_safe(path: str, stem: str) -> None:
    """The file stem keeps letters, digits, _ and -, lower-cased, spaces as dashes."""
    assert template_stem(path) == stem


def test_template_stem_of_nothing_usable_is_refused() -> None:
    """A name without a single safe character raises a usage error."""
    with pytest.raises(UsageError):
        template_stem("dir/!!!.json")


# --- importing -------------------------------------------------------------------------


def test_import_converts_and_places_the_prompt_placeholders(tmp_path: Path) -> None:
    """The UI txt2img becomes a template with PARAM_PROMPT and PARAM_STR_NEGATIVE."""
    result = import_workflow(txt2img_ui(), CATALOG, name="shots/My Flow.json", dest_dir=tmp_path)
    assert result.name == "my-flow" and result.converted
    assert result.path == tmp_path / "my-flow.json"
    assert result.prompt_inputs == ["6.text"] and result.negative_inputs == ["7.text"]
    graph = json.loads(result.path.read_text())
    assert graph["6"]["inputs"]["text"] == "PARAM_PROMPT"
    assert graph["7"]["inputs"]["text"] == "PARAM_STR_NEGATIVE"
    assert graph["3"]["inputs"]["positive"] == ["6", 0]
    meta = json.loads(result.meta_path.read_text())
    assert meta["description"] == "Imported from ComfyUI: shots/My Flow.json"
    assert meta["defaults"] == {
        "prompt": POSITIVE,
        "negative": "text, watermark",
        "width": 512,
        "height": 512,
        "batch": 1,
        "steps": 20,
        "cfg": 8.0,
    }
    assert meta["bounds"]["width"] == {"min": 16, "max": 16384, "multiple_of": 8}
    # The fixture predates per-node model lists: the model is listed, without a URL.
    assert meta["models"] == [{"name": "v1-5-pruned-emaonly.safetensors", "folder": "checkpoints"}]
    assert len(result.warnings) == 1 and "no download URL" in result.warnings[0]
    assert "v1-5-pruned-emaonly.safetensors" in result.warnings[0]


def test_imported_template_loads_with_its_defaults(tmp_path: Path) -> None:
    """The written pair is a valid template whose prompt defaults to the old text."""
    import_workflow(txt2img_ui(), CATALOG, name="flow.json", dest_dir=tmp_path)
    template = load_template("flow", [tmp_path])
    assert template.parameters["prompt"].default == POSITIVE
    assert template.parameters["negative"].default == "text, watermark"
    assert template.description == "Imported from ComfyUI: flow.json"


def test_import_never_clobbers_without_overwrite(tmp_path: Path) -> None:
    """A second import of the same name fails with template_exists and changes nothing."""
    first = import_workflow(txt2img_ui(), CATALOG, name="flow.json", dest_dir=tmp_path)
    before = first.path.read_text()
    with pytest.raises(UsageError) as caught:
        import_workflow(sampler_graph("7"), CATALOG, name="flow.json", dest_dir=tmp_path)
    assert caught.value.code == "template_exists"
    assert "--force" in caught.value.hint
    assert first.path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.json", "flow.meta.json"]


def test_an_existing_sidecar_alone_also_blocks(tmp_path: Path) -> None:
    """A lone NAME.meta.json is not replaced either, and no NAME.json is written."""
    (tmp_path / "flow.meta.json").write_text("{}")
    with pytest.raises(UsageError, match=r"flow\.meta\.json"):
        import_workflow(txt2img_ui(), CATALOG, name="flow", dest_dir=tmp_path)
    assert not (tmp_path / "flow.json").exists()


def test_overwrite_replaces_both_files(tmp_path: Path) -> None:
    """With overwrite the new graph and sidecar replace the old ones."""
    import_workflow(txt2img_ui(), CATALOG, name="flow", dest_dir=tmp_path)
    graph = sampler_graph("6")
    graph["6"] = encode("6", "a lighthouse at dusk")
    result = import_workflow(
        graph, CATALOG, name="flow", dest_dir=tmp_path, overwrite=True, source="x.json"
    )
    assert not result.converted
    meta = json.loads(result.meta_path.read_text())
    assert meta["defaults"]["prompt"] == "a lighthouse at dusk"
    assert meta["description"] == "Imported from ComfyUI: x.json"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_prompt_is_found_through_conditioning_nodes(tmp_path: Path) -> None:
    """An encoder behind ConditioningCombine is found; a different second text is reported."""
    graph = sampler_graph("10")
    graph["10"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["8", 0]},
    }
    graph["6"] = encode("6", "a castle")
    graph["8"] = encode("8", "in the fog")
    original = copy.deepcopy(graph)
    result = import_workflow(graph, CATALOG, name="combo", dest_dir=tmp_path)
    written = json.loads(result.path.read_text())
    assert written["6"]["inputs"]["text"] == "PARAM_PROMPT"
    assert written["8"]["inputs"]["text"] == "in the fog"
    assert any("node 8" in w for w in result.warnings)
    assert graph == original


def test_prompt_text_from_a_string_node_is_replaced_there(tmp_path: Path) -> None:
    """When the encoder's text is linked from a string node, that node gets the placeholder."""
    graph = sampler_graph("6")
    graph["6"] = encode("6", ["20", 0])
    graph["20"] = {"class_type": "PrimitiveString", "inputs": {"value": "a red fox"}}
    result = import_workflow(graph, CATALOG, name="linked", dest_dir=tmp_path)
    written = json.loads(result.path.read_text())
    assert written["20"]["inputs"]["value"] == "PARAM_PROMPT"
    assert result.prompt_inputs == ["20.value"]


def test_a_graph_without_sampler_is_imported_without_prompt(tmp_path: Path) -> None:
    """No sampler: no prompt parameter (a warning says so); the image size still is one."""
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    result = import_workflow(graph, CATALOG, name="plain", dest_dir=tmp_path)
    written = json.loads(result.path.read_text())
    assert written["1"]["inputs"] == {
        "width": "PARAM_INT_WIDTH",
        "height": "PARAM_INT_HEIGHT",
        "color": 0,
    }
    assert written["2"] == graph["2"]
    meta = json.loads(result.meta_path.read_text())
    assert meta["defaults"] == {"width": 8, "height": 8}
    assert "models" not in meta
    assert result.prompt_inputs == [] and result.warnings == [
        "no text input feeds a sampler's positive input; no prompt parameter"
    ]


def official(name: str) -> dict[str, Any]:
    """An official template in UI format (tests/fixtures/official)."""
    data: dict[str, Any] = json.loads((OFFICIAL / f"{name}.json").read_text())
    return data


def test_official_template_sidecar_lists_models_with_urls(tmp_path: Path) -> None:
    """Wan 2.2 t2v: every model with URL and folder, the inferred defaults; it loads."""
    result = import_workflow(
        official("video_wan2_2_14B_t2v"),
        CATALOG,
        name="video_wan2_2_14B_t2v",
        dest_dir=tmp_path,
        description="Wan 2.2 text to video.",
        extra_meta={"official": {"name": "video_wan2_2_14B_t2v"}},
    )
    meta = json.loads(result.meta_path.read_text())
    assert meta["description"] == "Wan 2.2 text to video."
    assert meta["official"] == {"name": "video_wan2_2_14B_t2v"}
    assert len(meta["models"]) == 6
    assert all(m["url"].startswith("https://huggingface.co/") for m in meta["models"])
    high = next(m for m in meta["models"] if "high_noise_14B" in m["name"])
    assert high["folder"] == "diffusion_models"
    assert result.warnings == [] and result.partner_nodes == []
    template = load_template(result.name, [tmp_path])
    assert template.parameters["frames"].default == 81
    assert template.parameters["frames"].multiple_of == 4
    assert template.parameters["steps"].default == 4
    assert {"prompt", "negative", "seed", "width", "height", "fps", "cfg"} <= set(
        template.parameters
    )


def test_partner_template_records_its_partner_nodes(tmp_path: Path) -> None:
    """Kling first/last frame: no models, the partner class named in the sidecar."""
    result = import_workflow(official("api_kling_flf"), CATALOG, name="kling", dest_dir=tmp_path)
    meta = json.loads(result.meta_path.read_text())
    assert meta["partner_nodes"] == ["KlingStartEndFrameNode"]
    assert "models" not in meta
    template = load_template("kling", [tmp_path])
    assert template.parameters["start_frame"].required


def test_models_without_url_are_named_in_one_warning(tmp_path: Path) -> None:
    """A workflow whose model lists were stripped: the models stay, without URL, and it says so."""
    ui = official("default")
    for node in ui["nodes"]:
        node.get("properties", {}).pop("models", None)
    result = import_workflow(ui, CATALOG, name="bare", dest_dir=tmp_path)
    meta = json.loads(result.meta_path.read_text())
    assert meta["models"] == [
        {"name": "v1-5-pruned-emaonly-fp16.safetensors", "folder": "checkpoints"}
    ]
    assert result.warnings == [
        "1 model file(s) carry no download URL in the workflow: "
        "v1-5-pruned-emaonly-fp16.safetensors; the sidecar lists them without one "
        "(nothing was looked up)"
    ]


def test_custom_node_packs_go_into_the_sidecar(tmp_path: Path) -> None:
    """A node from a registry pack adds a custom_nodes entry with its install command."""
    ui = official("default")
    sampler = next(n for n in ui["nodes"] if n["type"] == "KSampler")
    sampler["properties"]["cnr_id"] = "comfyui-kjnodes"
    result = import_workflow(ui, CATALOG, name="packs", dest_dir=tmp_path)
    meta = json.loads(result.meta_path.read_text())
    assert meta["custom_nodes"] == [
        {
            "id": "comfyui-kjnodes",
            "name": "comfyui-kjnodes",
            "classes": ["KSampler"],
            "install": "comfy node registry-install comfyui-kjnodes",
        }
    ]


def test_importing_a_template_again_keeps_its_placeholders(tmp_path: Path) -> None:
    """An imported template imported again is the same graph: no new or renamed parameters."""
    first = import_workflow(official("default"), CATALOG, name="one", dest_dir=tmp_path)
    graph = json.loads(first.path.read_text())
    second = import_workflow(graph, CATALOG, name="two", dest_dir=tmp_path)
    assert json.loads(second.path.read_text()) == graph
    assert [p["name"] for p in second.parameters] == ["prompt", "negative"]


def test_import_of_something_else_is_template_invalid(tmp_path: Path) -> None:
    """A dict that is neither UI nor API format is refused before writing anything."""
    with pytest.raises(TemplateInvalid):
        import_workflow({"hello": "world"}, CATALOG, name="junk", dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.real
async def test_saved_workflow_round_trip_on_real_comfyui(real_comfyui: Any, tmp_path: Path) -> None:
    """A workflow saved in a subfolder is listed, fetched with %2F and imported."""
    folder = f"comfycine-test-{tmp_path.name}"
    saved = f"{folder}/My Flow.json"
    body = json.dumps(txt2img_ui())
    url = f"/api/userdata/workflows%2F{folder}%2FMy%20Flow.json"
    async with httpx.AsyncClient(base_url=real_comfyui.url, timeout=30) as raw:
        stored = await raw.post(url, content=body)
        assert stored.status_code == 200, stored.text
        catalog = Catalog.from_object_info((await raw.get("/object_info")).json())
    try:
        async with ComfyClient(real_comfyui.url) as client:
            listed = await list_saved_workflows(client)
            data = await fetch_saved_workflow(client, saved)
        entry = next(w for w in listed if w.path == saved)
        assert entry.size == len(body.encode()) and entry.modified
        assert data == txt2img_ui()
        result = import_workflow(data, catalog, name=saved, dest_dir=tmp_path)
        assert result.name == "my-flow" and result.prompt_inputs == ["6.text"]
    finally:
        async with httpx.AsyncClient(base_url=real_comfyui.url, timeout=30) as raw:
            await raw.delete(url)


def test_a_prompts_choices_stay_in_the_template_for_each_take(tmp_path: Path) -> None:
    """{a|b} in the saved prompt: the template keeps it (each take draws its own), not the
    one option the conversion drew."""
    ui = txt2img_ui()
    node = next(n for n in ui["nodes"] if n["id"] == 6)
    node["widgets_values"][0] = "a {red|blue} fox"
    import_workflow(ui, CATALOG, name="fox.json", dest_dir=tmp_path)
    template = load_template("fox", [tmp_path])
    assert template.parameters["prompt"].default == "a {red|blue} fox"

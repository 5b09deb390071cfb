"""Model files named by a workflow: URLs and folders from UI workflows, names from API graphs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comfycine.graph.modelrefs import ModelRef, model_refs, without_url
from comfycine.graph.packrefs import node_packs

OFFICIAL = Path(__file__).parent.parent / "fixtures" / "official"
HF = "https://huggingface.co/Comfy-Org"


def official(name: str) -> dict[str, Any]:
    """An official template in UI format."""
    data: dict[str, Any] = json.loads((OFFICIAL / f"{name}.json").read_text())
    return data


def ui_node(node_id: int, type_: str, widgets: list[Any], **properties: Any) -> dict[str, Any]:
    """A minimal UI node."""
    return {
        "id": node_id,
        "type": type_,
        "mode": 0,
        "widgets_values": widgets,
        "properties": properties,
    }


def ui(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal UI workflow."""
    return {"nodes": list(nodes), "links": [], **extra}


def test_official_default_names_its_checkpoint_with_url_and_folder() -> None:
    """default.json: one checkpoint, with the URL and folder of its loader's model list."""
    assert model_refs(official("default")) == [
        ModelRef(
            "v1-5-pruned-emaonly-fp16.safetensors",
            "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
            "v1-5-pruned-emaonly-fp16.safetensors?download=true",
            "checkpoints",
            "4",
            "CheckpointLoaderSimple",
        )
    ]


def test_bypassed_nodes_need_no_models() -> None:
    """Wan 2.2 t2v: six files, each once, all with URLs, read from the nodes that run."""
    refs = model_refs(official("video_wan2_2_14B_t2v"))
    assert len(refs) == 6 and without_url(refs) == []
    assert {r.node_id for r in refs} == {"71", "73", "75", "76", "83", "85"}
    assert {r.directory for r in refs} == {"text_encoders", "vae", "diffusion_models", "loras"}
    assert all(r.url and r.url.startswith(HF) for r in refs)


def test_partner_template_needs_no_models() -> None:
    """A partner (API) template loads no model file."""
    assert model_refs(official("api_kling_flf")) == []


def test_model_names_without_a_list_have_no_url() -> None:
    """An older save with only widget values: the file is named, with no URL or folder."""
    refs = model_refs(ui(ui_node(1, "UNETLoader", ["wan/x.safetensors", "default"])))
    assert refs == [ModelRef("wan/x.safetensors", None, None, "1", "UNETLoader")]


def test_a_later_entry_with_a_url_completes_an_earlier_one() -> None:
    """The same file named twice keeps one ref, with the URL the second one gives."""
    first = ui_node(1, "VAELoader", ["v.safetensors"])
    second = ui_node(
        2, "VAELoader", ["v.safetensors"], models=[{"name": "v.safetensors", "url": "https://x/v"}]
    )
    top = {"models": [{"name": "v.safetensors", "directory": "vae"}]}
    refs = model_refs(ui(first, second, **top))
    assert refs == [ModelRef("v.safetensors", "https://x/v", "vae", "1", "VAELoader")]


def test_subgraph_nodes_get_their_api_ids() -> None:
    """A loader inside a subgraph instance 9 is node "9:3", as in the converted graph."""
    inner = ui_node(
        3,
        "CheckpointLoaderSimple",
        ["m.safetensors"],
        models=[{"name": "m.safetensors", "url": "https://x/m", "directory": "checkpoints"}],
    )
    definitions = {"subgraphs": [{"id": "sub-1", "nodes": [inner], "links": []}]}
    refs = model_refs(ui(ui_node(9, "sub-1", []), definitions=definitions))
    assert [(r.node_id, r.class_type, r.url) for r in refs] == [
        ("9:3", "CheckpointLoaderSimple", "https://x/m")
    ]


def test_api_graph_refs_have_folders_but_no_url() -> None:
    """An API graph names its files; the folder comes from the input, placeholders are skipped."""
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd.safetensors"}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": "t5.safetensors", "type": "wan"}},
        "3": {"class_type": "UNETLoader", "inputs": {"unet_name": "PARAM_COMBO_UNET"}},
        "4": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x", "images": ["1", 0]}},
    }
    refs = model_refs(graph)
    assert [(r.name, r.directory, r.url) for r in refs] == [
        ("sd.safetensors", "checkpoints", None),
        ("t5.safetensors", "text_encoders", None),
    ]


def test_sidecar_form_leaves_out_what_is_unknown() -> None:
    """to_sidecar gives name, folder and url, omitting the ones not known."""
    assert ModelRef("a.pt", None, None, None, None).to_sidecar() == {"name": "a.pt"}
    full = ModelRef("a.pt", "https://x/a.pt", "loras", "1", "LoraLoader").to_sidecar()
    assert full == {"name": "a.pt", "folder": "loras", "url": "https://x/a.pt"}


def test_node_packs_come_from_registry_ids() -> None:
    """Non-core cnr_id / aux_id become custom_nodes entries; core nodes and API graphs none."""
    workflow = ui(
        ui_node(1, "KSampler", [], cnr_id="comfy-core"),
        ui_node(2, "DrawMaskOnImage", [], cnr_id="comfyui-kjnodes", ver="1.0"),
        ui_node(3, "PointsEditor", [], cnr_id="comfyui-kjnodes"),
        ui_node(4, "OldNode", [], aux_id="someone/old-pack"),
    )
    assert node_packs(workflow) == [
        {
            "id": "comfyui-kjnodes",
            "name": "comfyui-kjnodes",
            "classes": ["DrawMaskOnImage", "PointsEditor"],
            "install": "comfy node registry-install comfyui-kjnodes",
        },
        {
            "id": "someone/old-pack",
            "name": "someone/old-pack",
            "classes": ["OldNode"],
            "repo": "https://github.com/someone/old-pack",
        },
    ]
    assert node_packs(official("default")) == []
    assert node_packs({"1": {"class_type": "KSampler", "inputs": {}}}) == []

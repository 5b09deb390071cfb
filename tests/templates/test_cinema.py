"""The shipped cinema templates: the filmmaker's placeholders, and graphs ComfyUI accepts.

No model runs here (they weigh tens of GB): each template is rendered with its defaults
and checked by :func:`validate_graph` against the captured ``/object_info`` and, in the
``real`` test, against the live ComfyUI 0.3.75. The only problems allowed are the model
files and custom node classes the template's sidecar declares, since neither exists on
those servers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.graph.schema import Catalog
from comfycine.graph.validate import Problem, validate_graph
from comfycine.templates import (
    Kind,
    Template,
    bind_values,
    describe_parameters,
    list_templates,
    load_template,
    render_graph,
    shipped_dir,
)

from ..captures import load
from .test_shipped import png_bytes

# The filmmaker's table (specs "Workflows a pre-charger"), plus upscale-video: one
# placeholder name cannot take both an image and a video.
SPEC_PLACEHOLDERS = {
    "wan22-t2v": {"PARAM_PROMPT", "PARAM_INT_STEPS", "PARAM_INT_WIDTH", "PARAM_INT_HEIGHT"},
    "wan22-camera": {"PARAM_PROMPT", "PARAM_COMBO_CAMERA_TYPE"},
    "hunyuan-t2v": {"PARAM_PROMPT", "PARAM_INT_STEPS"},
    "ltx-quick": {"PARAM_PROMPT"},
    "sdxl-style": {"PARAM_PROMPT", "PARAM_IMAGE_STYLE"},
    "upscale": {"PARAM_IMAGE_INPUT"},
    "upscale-video": {"PARAM_VIDEO_INPUT"},
    "vace-inpaint": {"PARAM_VIDEO_INPUT", "PARAM_MASK"},
}
CINEMA = sorted(SPEC_PLACEHOLDERS)
WAN_TWO_STAGE = ["wan22-t2v", "wan22-camera"]
STILLS = {"sdxl-style", "upscale"}
ALLOWED_CODES = {"missing_model", "missing_custom_node"}
STILL_NAME, CLIP_NAME = "cinema-still.png", "cinema-clip.mp4"  # names "uploaded" to the server
PROMPT = "A slow dolly shot along a rain-soaked neon street at night."
OBJECT_INFO: dict[str, Any] = load(".", "GET_object_info.json")


def cinema(name: str) -> Template:
    """A shipped cinema template."""
    return load_template(name, [shipped_dir()])


def listing_uploads(object_info: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``object_info`` as the server lists it once ``names`` sit in its input folder."""
    data = copy.deepcopy(object_info)
    for node in data.values():
        for section in node["input"].values():
            for spec in section.values() if isinstance(section, dict) else ():
                extra = spec[1] if isinstance(spec, list) and len(spec) > 1 else None
                if not isinstance(extra, dict) or not (
                    extra.get("image_upload") or extra.get("video_upload")
                ):
                    continue
                if isinstance(spec[0], list):  # V1 combo: the list is the choices
                    spec[0].extend(names)
                else:
                    extra["options"] = [*extra.get("options", []), *names]
    return data


def render_with_defaults(template: Template, directory: Path, uploaded: dict[Kind, str]) -> Any:
    """The template rendered with its defaults, a prompt and a dummy file per media input."""
    paths = {Kind.VIDEO: directory / CLIP_NAME}
    paths[Kind.IMAGE] = paths[Kind.MASK] = directory / STILL_NAME
    paths[Kind.IMAGE].write_bytes(png_bytes())
    paths[Kind.VIDEO].write_bytes(b"not decoded: only listed")
    media = {n: p.kind for n, p in template.parameters.items() if p.kind.is_media}
    binding = bind_values(
        template,
        prompt=PROMPT if "prompt" in template.parameters else None,
        assignments=[f"{name}={paths[kind]}" for name, kind in media.items()],
    )
    return render_graph(template, binding.values, {n: uploaded[k] for n, k in media.items()})


def unexpected(
    problems: list[Problem], template: Template, graph: dict[str, Any]
) -> list[dict[str, Any]]:
    """Problems other than the declared models and custom node classes being absent."""
    models = {m["name"] for m in template.models}
    classes = {c for pack in template.custom_nodes for c in pack["classes"]}
    return [
        p.to_dict()
        for p in problems
        if not (
            (p.code == "missing_model" and value_of(graph, p) in models)
            or (p.code == "missing_custom_node" and p.class_type in classes)
        )
    ]


def value_of(graph: dict[str, Any], problem: Problem) -> Any:
    """The graph's value for the input a problem is about."""
    assert problem.node is not None and problem.input is not None, problem
    return graph[problem.node]["inputs"][problem.input]


def text_values(graph: dict[str, Any]) -> Iterator[str]:
    """Every literal text input value of a graph."""
    for node in graph.values():
        yield from (v for v in node["inputs"].values() if isinstance(v, str))


@pytest.fixture
def uploaded_names() -> dict[Kind, str]:
    """The server-side names of the dummy media, as the capture lists them."""
    return {Kind.IMAGE: STILL_NAME, Kind.MASK: STILL_NAME, Kind.VIDEO: CLIP_NAME}


def test_the_cinema_templates_are_listed() -> None:
    """The shipped dir lists all eight cinema templates, loadable and described."""
    infos = {i.name: i for i in list_templates([shipped_dir()])}
    for name in CINEMA:
        assert infos[name].error is None, infos[name].error
        assert infos[name].description


@pytest.mark.parametrize("name", CINEMA)
def test_cinema_template_has_the_spec_placeholders(name: str) -> None:
    """describe_parameters shows every placeholder of the filmmaker's table."""
    described = describe_parameters(cinema(name))
    assert SPEC_PLACEHOLDERS[name] <= {p["placeholder"] for p in described}


@pytest.mark.parametrize("name", CINEMA)
def test_cinema_parameters_have_help_and_only_inputs_are_required(name: str) -> None:
    """Every parameter has help; only the prompt and media need a value."""
    for param in cinema(name).parameters.values():
        assert param.help, param.name
        assert param.required == (param.kind.is_media or param.kind is Kind.PROMPT), param.name


@pytest.mark.parametrize("name", CINEMA)
def test_rendering_with_defaults_leaves_no_placeholder(
    name: str, tmp_path: Path, uploaded_names: dict[Kind, str]
) -> None:
    """Defaults, a prompt and uploaded media names fill every placeholder."""
    graph = render_with_defaults(cinema(name), tmp_path, uploaded_names)
    assert "PARAM_" not in json.dumps(graph)


@pytest.mark.parametrize("name", CINEMA)
def test_cinema_template_is_valid_for_the_captured_server(
    name: str, tmp_path: Path, uploaded_names: dict[Kind, str]
) -> None:
    """Against the captured /object_info only the declared models and packs are missing."""
    template = cinema(name)
    catalog = Catalog.from_object_info(listing_uploads(OBJECT_INFO, [STILL_NAME, CLIP_NAME]))
    graph = render_with_defaults(template, tmp_path, uploaded_names)
    for checked in (graph, template.graph):  # rendered, and with placeholders kind-checked
        problems = validate_graph(
            checked,
            catalog,
            declared_models=template.models,
            custom_nodes=template.custom_nodes,
        )
        assert unexpected(problems, template, checked) == []
        assert problems, "a model or a custom node should be missing on a bare server"


@pytest.mark.parametrize("name", CINEMA)
def test_missing_models_come_with_their_download(
    name: str, tmp_path: Path, uploaded_names: dict[Kind, str]
) -> None:
    """Each declared model is used by the graph and has a folder and an https URL."""
    template = cinema(name)
    values = set(text_values(render_with_defaults(template, tmp_path, uploaded_names)))
    assert template.models
    for entry in template.models:
        assert entry["name"] in values, entry["name"]
        assert entry["folder"] and entry["url"].startswith("https://"), entry
        assert entry["url"].endswith("/" + entry["name"]), entry
    catalog = Catalog.from_object_info(OBJECT_INFO)
    urls = {m["name"]: m["url"] for m in template.models}
    for problem in validate_graph(template.graph, catalog, declared_models=template.models):
        if problem.code == "missing_model":
            assert problem.fix and urls[value_of(template.graph, problem)] in problem.fix


@pytest.mark.parametrize("name", CINEMA)
def test_parameter_bounds_fit_every_input_they_set(name: str) -> None:
    """Numeric bounds sit inside each target's range, and steps follow the node's step."""
    template = cinema(name)
    catalog = Catalog.from_object_info(OBJECT_INFO)
    for param in template.parameters.values():
        if param.kind not in (Kind.INT, Kind.FLOAT):
            continue
        for target in param.targets:
            schema = catalog.get(template.graph[target.node_id]["class_type"])
            if schema is None:  # a custom node: its ranges are not in the capture
                continue
            spec = schema.inputs[target.input]
            where = f"{param.name} -> {target.label()}"
            if spec.minimum is not None:
                assert param.minimum is not None and param.minimum >= spec.minimum, where
            if spec.maximum is not None:
                assert param.maximum is not None and param.maximum <= spec.maximum, where
            if param.kind is Kind.INT and spec.step and spec.step > 1:
                assert param.multiple_of and param.multiple_of % spec.step == 0, where


def test_camera_choices_are_the_nodes_poses() -> None:
    """camera_type offers exactly WanCameraEmbedding's nine camera_pose values."""
    catalog = Catalog.from_object_info(OBJECT_INFO)
    embedding = catalog.get("WanCameraEmbedding")
    assert embedding is not None
    choices = cinema("wan22-camera").parameters["camera_type"].choices
    assert choices == embedding.inputs["camera_pose"].options
    assert choices is not None and len(choices) == 9


@pytest.mark.parametrize("name", WAN_TWO_STAGE)
def test_wan_stages_share_seed_steps_and_split(name: str) -> None:
    """Both KSamplerAdvanced stages take one seed; the hand-over defaults to half the steps."""
    template = cinema(name)
    stages = [n for n, node in template.graph.items() if node["class_type"] == "KSamplerAdvanced"]
    assert len(stages) == 2
    params = template.parameters
    for param in ("seed", "steps", "split"):
        assert {t.node_id for t in params[param].targets} == set(stages), param
    assert params["split"].default * 2 == params["steps"].default
    assert params["frames"].multiple_of == 4 and params["frames"].offset == 1


@pytest.mark.parametrize("name", CINEMA)
def test_outputs_use_core_save_nodes_and_comfycine_prefixes(name: str) -> None:
    """Stills go through SaveImage, videos through SaveVideo, under comfycine/<name>."""
    saves = [n for n in cinema(name).graph.values() if n["class_type"].startswith("Save")]
    assert len(saves) == 1
    if name in STILLS:
        assert saves[0]["class_type"] == "SaveImage"
        assert saves[0]["inputs"]["filename_prefix"] == f"comfycine/{name}"
    else:
        assert saves[0]["class_type"] == "SaveVideo"
        assert saves[0]["inputs"]["filename_prefix"] == f"video/comfycine/{name}"


@pytest.mark.parametrize("name", CINEMA)
def test_only_the_upscalers_need_a_custom_node_pack(name: str) -> None:
    """SeedVR2 templates declare their pack with its install command; the rest need none."""
    template = cinema(name)
    if not name.startswith("upscale"):
        assert template.custom_nodes == []
        return
    (pack,) = template.custom_nodes
    assert pack["install"] == "comfy node registry-install seedvr2_videoupscaler"
    used = {n["class_type"] for n in template.graph.values()}
    assert set(pack["classes"]) <= used
    assert all(m["folder"] == "SEEDVR2" and m.get("auto_download") for m in template.models)


@pytest.fixture(scope="module")
def live_object_info(real_comfyui: Any) -> Iterator[dict[str, Any]]:
    """The live server's /object_info once a still and a clip are in its input folder."""
    with httpx.Client(base_url=real_comfyui.url, timeout=60) as client:
        names = {}
        for name, body in ((STILL_NAME, png_bytes()), (CLIP_NAME, b"only listed")):
            answer = client.post(
                "/upload/image", data={"overwrite": "true"}, files={"image": (name, body)}
            )
            names[name] = answer.raise_for_status().json()["name"]
        info = client.get("/object_info").raise_for_status().json()
    assert names == {STILL_NAME: STILL_NAME, CLIP_NAME: CLIP_NAME}
    yield info


@pytest.mark.real
@pytest.mark.parametrize("name", CINEMA)
def test_cinema_template_is_valid_for_the_real_comfyui(
    name: str, tmp_path: Path, uploaded_names: dict[Kind, str], live_object_info: dict[str, Any]
) -> None:
    """On the live ComfyUI 0.3.75 only the declared models and packs are missing."""
    template = cinema(name)
    graph = render_with_defaults(template, tmp_path, uploaded_names)
    problems = validate_graph(
        graph,
        Catalog.from_object_info(live_object_info),
        declared_models=template.models,
        custom_nodes=template.custom_nodes,
    )
    assert unexpected(problems, template, graph) == []

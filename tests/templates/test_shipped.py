"""The shipped model-free templates: well-formed for a bare ComfyUI 0.3.75, and runnable."""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.templates import (
    Kind,
    Template,
    bind_values,
    list_templates,
    load_template,
    render_graph,
    shipped_dir,
)

from ..captures import CAPTURES

SHIPPED = ["testblur", "testimage", "testpattern", "testinvert-video"]
OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
REAL_TIMEOUT = 60.0  # seconds a model-free graph may take on a slow CPU
POLL = 0.05  # seconds between two /history polls


def _value_problems(graph: dict[str, Any], where: str, value: Any, spec: list[Any]) -> list[str]:
    """What is wrong with one input value against its object_info spec."""
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
    if isinstance(value, list):
        source = graph.get(str(value[0])) if len(value) == 2 else None
        if source is None or not isinstance(value[1], int):
            return [f"{where}: bad link {value}"]
        outputs = OBJECT_INFO.get(source["class_type"], {}).get("output", [])
        if value[1] >= len(outputs) or (outputs[value[1]] != kind and kind != "*"):
            return [f"{where}: link {value} gives {outputs[value[1] : value[1] + 1]}, needs {kind}"]
        return []
    if isinstance(kind, list):  # old-style combo: the list is the choices
        if options.get("image_upload") or options.get("video_upload"):
            return [] if isinstance(value, str) else [f"{where}: needs a file name"]
        return [] if value in kind else [f"{where}: {value!r} not in {kind}"]
    if kind == "COMBO" and (options.get("image_upload") or options.get("video_upload")):
        return [] if isinstance(value, str) else [f"{where}: needs a file name"]
    checks = {
        "COMBO": lambda v: v in options.get("options", []),
        "INT": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "FLOAT": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "STRING": lambda v: isinstance(v, str),
        "BOOLEAN": lambda v: isinstance(v, bool),
    }
    if kind not in checks:
        return [f"{where}: {kind} must come from a link, got {value!r}"]
    if not checks[kind](value):
        return [f"{where}: {value!r} is not a valid {kind}"]
    if kind in ("INT", "FLOAT") and not options.get("min", value) <= value <= options.get(
        "max", value
    ):
        return [f"{where}: {value} outside [{options.get('min')}, {options.get('max')}]"]
    return []


def structural_problems(graph: dict[str, Any]) -> list[str]:
    """Every way ``graph`` disagrees with the captured /object_info of ComfyUI 0.3.75."""
    problems: list[str] = []
    for node_id, node in graph.items():
        info = OBJECT_INFO.get(node["class_type"])
        if info is None:
            problems.append(f"{node_id}: unknown class {node['class_type']}")
            continue
        required = info["input"].get("required", {})
        known = {**required, **info["input"].get("optional", {})}
        problems += [f"{node_id}.{n}: missing" for n in required if n not in node["inputs"]]
        for name, value in node["inputs"].items():
            if name not in known:
                problems.append(f"{node_id}.{name}: not an input of {node['class_type']}")
            else:
                problems += _value_problems(graph, f"{node_id}.{name}", value, known[name])
    if not any(OBJECT_INFO.get(n["class_type"], {}).get("output_node") for n in graph.values()):
        problems.append("no output node")
    return problems


def png_bytes(width: int = 16, height: int = 16) -> bytes:
    """A small valid RGB PNG, written without an imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([200, 40, 90]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def media_assignments(template: Template, directory: Path) -> list[str]:
    """A local file for each media parameter of ``template`` (a short clip for a video)."""
    from tests.takes.clips import make_clip

    image = directory / "input.png"
    image.write_bytes(png_bytes())
    video = directory / "input.mp4"
    files = {Kind.VIDEO: video}
    if any(p.kind is Kind.VIDEO for p in template.parameters.values()):
        make_clip(video, frames=6, size=(64, 36))
    media = [(n, p) for n, p in template.parameters.items() if p.kind.is_media]
    return [f"{n}={files.get(p.kind, image)}" for n, p in media]


def extreme_assignments(template: Template, attr: str) -> list[str]:
    """Every bounded number set to its minimum or maximum."""
    values = [(n, getattr(p, attr)) for n, p in template.parameters.items()]
    return [f"{n}={v}" for n, v in values if v is not None]


def test_the_shipped_templates_are_listed() -> None:
    """The shipped dir lists the four test templates, all loadable and described."""
    infos = {i.name: i for i in list_templates([shipped_dir()])}
    for name in SHIPPED:
        assert infos[name].error is None, infos[name].error
        assert infos[name].description


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_template_parameters_have_help_and_defaults(name: str) -> None:
    """Every shipped parameter has help, and only media ones need a value."""
    template = load_template(name, [shipped_dir()])
    for param in template.parameters.values():
        assert param.help, param.name
        assert param.required == param.kind.is_media, param.name


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("extreme", [None, "minimum", "maximum"])
def test_shipped_template_is_valid_against_object_info(
    name: str, extreme: str | None, tmp_path: Path
) -> None:
    """Rendered with defaults, minimums or maximums, it matches ComfyUI 0.3.75's nodes."""
    template = load_template(name, [shipped_dir()])
    assignments = media_assignments(template, tmp_path)
    if extreme is not None:
        assignments += extreme_assignments(template, extreme)
    binding = bind_values(template, assignments=assignments)
    uploaded = {n: "input.png" for n in binding.media}
    graph = render_graph(template, binding.values, uploaded)
    assert structural_problems(graph) == []


def test_the_structural_check_catches_mistakes() -> None:
    """The check in this file does find a bad class, input, range and link."""
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 8, "batch_size": 1}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["9", 0], "extra": 1}},
        "3": {"class_type": "Nope", "inputs": {}},
    }
    assert len(structural_problems(graph)) == 6


def test_testpattern_makes_seven_bars_into_one_video() -> None:
    """testpattern joins seven colour bars sized by one set of parameters into SaveVideo."""
    template = load_template("testpattern", [shipped_dir()])
    classes = [n["class_type"] for n in template.graph.values()]
    assert classes.count("EmptyImage") == 7 and classes[-1] == "SaveVideo"
    assert len(template.parameters["bar_frames"].targets) == 7
    assert template.parameters["fps"].kind is Kind.FLOAT
    prefix = template.graph["15"]["inputs"]["filename_prefix"]
    assert prefix.startswith("video/")


@pytest.mark.real
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_template_runs_on_real_comfyui(
    name: str, tmp_path: Path, real_comfyui: Any
) -> None:
    """Each shipped template renders, uploads its media and succeeds on a real ComfyUI."""
    template = load_template(name, [shipped_dir()])
    binding = bind_values(template, assignments=media_assignments(template, tmp_path))
    with httpx.Client(base_url=real_comfyui.url, timeout=30) as client:
        uploaded = {}
        for param, path in binding.media.items():
            answer = client.post("/upload/image", files={"image": (path.name, path.read_bytes())})
            uploaded[param] = answer.raise_for_status().json()["name"]
        graph = render_graph(template, binding.values, uploaded)
        posted = client.post("/prompt", json={"prompt": graph, "client_id": "templates-test"})
        assert posted.status_code == 200, posted.text
        prompt_id = posted.json()["prompt_id"]
        deadline = time.monotonic() + REAL_TIMEOUT
        history: dict[str, Any] = {}
        while not history and time.monotonic() < deadline:
            history = client.get(f"/history/{prompt_id}").json()
            time.sleep(POLL)
    entry = history[prompt_id]
    assert entry["status"]["status_str"] == "success", entry["status"]
    files = [f for out in entry["outputs"].values() for f in out.get("images", [])]
    assert files and all(f["subfolder"].endswith("comfycine") for f in files)

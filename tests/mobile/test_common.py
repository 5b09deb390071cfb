"""Shared export rules: filled values, readable titles, outputs, the phone's address."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from comfycine.errors import ParameterError, UsageError
from comfycine.mobile.common import (
    STOCK_IMAGE,
    export_values,
    image_source,
    label,
    phone_address,
    render_export,
    write_json,
)
from comfycine.templates import Kind

from ..templates.support import make_template, node
from .support import SHIPPED, shipped


def test_labels_are_human() -> None:
    """Parameter names become labels; media labels say what they take."""
    assert label("cfg") == "CFG"
    assert label("camera_type") == "Camera type"
    assert label("style", Kind.IMAGE) == "Style image"
    assert label("mask", Kind.MASK) == "Mask"


def test_prompt_default_from_meta(tmp_path: Path) -> None:
    """A prompt with a sidecar default is exported with that text and no warning."""
    graph = {
        "1": node("CLIPTextEncode", "Text", text="PARAM_PROMPT", clip=["2", 0]),
        "2": node("CheckpointLoaderSimple", "Model", ckpt_name="m.safetensors"),
    }
    template = make_template(tmp_path, graph, {"defaults": {"prompt": "a lighthouse at dusk"}})
    values, media, warnings = export_values(template)
    assert values == {"prompt": "a lighthouse at dusk"} and media == {}
    assert warnings == []


def test_prompt_without_default_is_empty_and_warned(tmp_path: Path) -> None:
    """A prompt without a default is exported empty, with a warning to type it."""
    template = make_template(tmp_path, {"1": node("CLIPTextEncode", "T", text="PARAM_PROMPT")})
    values, _, warnings = export_values(template)
    assert values["prompt"] == ""
    assert any(w.startswith("prompt:") and "type it" in w for w in warnings)


def test_media_get_input_folder_names_and_warnings(tmp_path: Path) -> None:
    """Media placeholders become input-folder file names, each with a warning."""
    graph = {
        "1": node("LoadImage", "Still", image="PARAM_IMAGE_STYLE"),
        "2": node("LoadVideo", "Clip", file="PARAM_VIDEO_INPUT"),
        "3": node("LoadImage", "Mask", image="PARAM_MASK"),
    }
    _, media, warnings = export_values(make_template(tmp_path, graph))
    assert media == {"style": STOCK_IMAGE, "input": "input.mp4", "mask": "mask.png"}
    assert len([w for w in warnings if "ComfyUI/input" in w]) == 3


def test_media_default_keeps_its_file_name(tmp_path: Path) -> None:
    """A sidecar media default (a local path) is exported as its bare file name."""
    graph = {"1": node("LoadImage", "Still", image="PARAM_IMAGE_STILL")}
    template = make_template(tmp_path, graph, {"defaults": {"still": "shots/plate 01.png"}})
    assert export_values(template)[1] == {"still": "plate 01.png"}


def test_seed_is_drawn_and_combo_takes_first_choice(tmp_path: Path) -> None:
    """An unset seed is a fresh 32-bit value; a combo without default takes its first choice."""
    graph = {
        "1": node("KSampler", "S", seed="PARAM_INT_SEED", sampler_name="PARAM_COMBO_SAMPLER"),
    }
    template = make_template(tmp_path, graph, {"choices": {"sampler": ["euler", "dpmpp_2m"]}})
    values, _, _ = export_values(template, random.Random(7))
    assert 0 <= values["seed"] <= 2**32 - 1 and values["sampler"] == "euler"
    assert export_values(template, random.Random(7))[0] == values


def test_number_without_default_is_an_error(tmp_path: Path) -> None:
    """A number without any default cannot be exported; the error names it."""
    template = make_template(tmp_path, {"1": node("EmptyImage", "E", width="PARAM_INT_WIDTH")})
    with pytest.raises(ParameterError) as caught:
        export_values(template)
    assert caught.value.details["missing"] == ["width"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_template_renders_plain(name: str) -> None:
    """Every shipped template renders with no placeholder left and a title on every node."""
    graph, _ = render_export(shipped(name), random.Random(1))
    assert "PARAM_" not in json.dumps(graph)
    assert all(n["_meta"]["title"].strip() for n in graph.values())


def test_titles_name_the_parameters() -> None:
    """One-parameter nodes take the label; shared nodes keep their title plus the labels."""
    graph, _ = render_export(shipped("sdxl-style"), random.Random(1))
    titles = {k: n["_meta"]["title"] for k, n in graph.items()}
    assert titles["2"] == "Prompt" and titles["3"] == "Negative prompt"
    assert titles["4"] == "Style image" and titles["11"] == "Output"
    assert titles["9"] == "Sampler (Seed, Steps, CFG)"


def test_save_video_from_another_video_gets_its_frames(tmp_path: Path) -> None:
    """A SaveVideo not fed by CreateVideo gets a GetVideoComponents node for its frames."""
    graph = {
        "1": node("LoadVideo", "Clip", file="clip.mp4"),
        "2": node("SaveVideo", "Save", video=["1", 0], filename_prefix="x"),
    }
    source = image_source(graph, "2")
    assert source == ["3", 0]
    assert graph["3"]["class_type"] == "GetVideoComponents"
    assert graph["3"]["inputs"]["video"] == ["1", 0]


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://100.64.1.2:8188", "100.64.1.2", 8188),
        ("https://pc.tail1234.ts.net", "pc.tail1234.ts.net", 443),
        ("pc.tail1234.ts.net:8188", "pc.tail1234.ts.net", 8188),
    ],
)
def test_phone_address_of_a_tailscale_url(url: str, host: str, port: int) -> None:
    """Host (no scheme) and port come from the URL; a Tailscale address is not warned about."""
    address = phone_address(url)
    assert (address.host, address.port, address.warnings) == (host, port, ())


@pytest.mark.parametrize("url", ["http://127.0.0.1:8188", "http://localhost:8188"])
def test_phone_address_of_this_machine_is_warned(url: str) -> None:
    """A loopback URL warns that the phone needs the PC's Tailscale address."""
    (warning,) = phone_address(url).warnings
    assert "Tailscale address" in warning and "--listen" in warning


def test_write_json_never_overwrites(tmp_path: Path) -> None:
    """An existing file is refused (file_exists) and left as it was; force replaces it."""
    path = tmp_path / "w.json"
    path.write_text("mine")
    with pytest.raises(UsageError) as caught:
        write_json(path, {"a": 1})
    assert caught.value.code == "file_exists" and path.read_text() == "mine"
    write_json(path, {"a": 1}, force=True)
    assert json.loads(path.read_text()) == {"a": 1}

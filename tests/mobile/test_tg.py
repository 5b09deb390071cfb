"""ComfyUI-TG exports: a TG_ImageSaver on the images, poster frames, titles the bot reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from comfycine.errors import UsageError
from comfycine.mobile.common import output_nodes
from comfycine.mobile.tg import NO_VIDEO, SAVER_CLASS, TG_PACK, build_tg_graph, tg_export

from ..templates.support import make_template, node
from .support import SHIPPED, catalog, shipped, unexpected_problems

VIDEO_TEMPLATES = [
    "hunyuan-t2v", "ltx-quick", "testinvert-video", "testpattern", "upscale-video", "vace-inpaint",
    "wan22-camera", "wan22-t2v",
]  # fmt: skip
STILL_TEMPLATES = sorted(set(SHIPPED) - set(VIDEO_TEMPLATES))


def test_video_list_covers_the_shipped_templates() -> None:
    """Every shipped template is classed as a video or a still in these tests."""
    assert set(VIDEO_TEMPLATES) < set(SHIPPED) and STILL_TEMPLATES


@pytest.mark.parametrize("name", SHIPPED)
def test_export_has_no_placeholder(name: str) -> None:
    """No PARAM_ placeholder is left anywhere in a ComfyUI-TG export."""
    graph, _, _ = build_tg_graph(shipped(name), random.Random(1))
    assert "PARAM_" not in json.dumps(graph)


@pytest.mark.parametrize("name", SHIPPED)
def test_saver_is_titled_for_the_bot(name: str) -> None:
    """Exactly one TG_ImageSaver, titled TG_ImageSaver (the bot finds it by title)."""
    graph, facts, _ = build_tg_graph(shipped(name), random.Random(1))
    savers = [k for k, n in graph.items() if n["class_type"] == SAVER_CLASS]
    assert savers == [facts["saver_node"]]
    saver = graph[savers[0]]
    assert saver["_meta"]["title"] == "TG_ImageSaver"
    assert isinstance(saver["inputs"]["Path"], str)


@pytest.mark.parametrize("name", STILL_TEMPLATES)
def test_still_saver_takes_the_saved_images(name: str) -> None:
    """For a still, the saver is fed the very IMAGE link the template's SaveImage saves."""
    graph, facts, warnings = build_tg_graph(shipped(name), random.Random(1))
    (output,) = output_nodes(graph)
    assert graph[facts["saver_node"]]["inputs"]["Images"] == graph[output]["inputs"]["images"]
    assert facts["poster_node"] is None and NO_VIDEO not in warnings


@pytest.mark.parametrize("name", VIDEO_TEMPLATES)
def test_video_saver_takes_a_poster_frame(name: str) -> None:
    """For a video, the saver gets the first decoded frame, and the limit is warned."""
    graph, facts, warnings = build_tg_graph(shipped(name), random.Random(1))
    poster = graph[facts["poster_node"]]
    assert graph[facts["saver_node"]]["inputs"]["Images"] == [facts["poster_node"], 0]
    assert poster["class_type"] == "ImageFromBatch"
    assert (poster["inputs"]["batch_index"], poster["inputs"]["length"]) == (0, 1)
    (save,) = output_nodes(graph)
    create = graph[graph[save]["inputs"]["video"][0]]
    assert create["class_type"] == "CreateVideo"
    assert poster["inputs"]["image"] == create["inputs"]["images"]
    assert warnings[0] == NO_VIDEO and "no video in ComfyUI-TG" in NO_VIDEO


@pytest.mark.parametrize("name", SHIPPED)
def test_export_passes_structural_validation(name: str) -> None:
    """Links and types check out; only models and custom packs (TG's saver) are missing."""
    template = shipped(name)
    graph, facts, _ = build_tg_graph(template, random.Random(1))
    assert unexpected_problems(graph, template, [TG_PACK]) == []
    problems = unexpected_problems(graph, template)  # without the pack: the saver is unknown
    assert [(p.node, p.code) for p in problems] == [(facts["saver_node"], "unknown_node")]


def test_poster_frame_node_is_a_core_node() -> None:
    """The poster-frame class exists on a stock ComfyUI and outputs IMAGE."""
    schema = catalog().get("ImageFromBatch")
    assert schema is not None and schema.outputs == ("IMAGE",)


@pytest.mark.parametrize(
    ("name", "node_id", "title"),
    [
        ("sdxl-style", "9", "KSampler"),
        ("hunyuan-t2v", "10", "RandomNoise"),
        ("ltx-quick", "9", "RandomNoise"),
    ],
)
def test_seed_node_titled_for_reseeding(name: str, node_id: str, title: str) -> None:
    """The seed node is titled KSampler / RandomNoise, the titles the bot re-seeds."""
    graph, facts, _ = build_tg_graph(shipped(name), random.Random(1))
    assert graph[node_id]["_meta"]["title"] == title and facts["reseeded_node"] == node_id


def test_two_stage_seed_warns_about_the_second_stage() -> None:
    """With a seed on two samplers, only the first is re-seeded and the user is told."""
    graph, facts, warnings = build_tg_graph(shipped("wan22-t2v"), random.Random(1))
    assert facts["reseeded_node"] == "10" and graph["11"]["_meta"]["title"] != "RandomNoise"
    assert any("re-seeds only node 10" in w and "11" in w for w in warnings)


def test_small_seed_range_is_not_reseeded() -> None:
    """A seed capped at 2**32-1 is not titled for the bot (its ms timestamps would fail)."""
    graph, facts, warnings = build_tg_graph(shipped("upscale"), random.Random(1))
    assert facts["reseeded_node"] is None
    assert not {"KSampler", "RandomNoise"} & {n["_meta"]["title"] for n in graph.values()}
    assert any("cannot re-seed node 4" in w for w in warnings)


def test_phone_hints_name_the_bot_commands() -> None:
    """The warnings say how to set the prompt and send the image from Telegram."""
    _, _, warnings = build_tg_graph(shipped("sdxl-style"), random.Random(1))
    assert "prompt: set it from Telegram with /s 2 0 <text>." in warnings
    assert "style: send it to the bot as a photo captioned /s 4 0." in warnings


def test_template_without_images_is_refused(tmp_path: Path) -> None:
    """A template with no image or video output is refused (no_image_output)."""
    template = make_template(tmp_path, {"1": node("EmptyLatentImage", "L", width=64)})
    with pytest.raises(UsageError) as caught:
        build_tg_graph(template)
    assert caught.value.code == "no_image_output"


def test_tg_export_writes_once(tmp_path: Path) -> None:
    """The file is NAME.json in the folder; a second export never overwrites it."""
    result = tg_export(shipped("testimage"), tmp_path / "tg", rng=random.Random(1))
    assert result.path == tmp_path / "tg" / "testimage.json"
    before = result.path.read_text()
    assert json.loads(before) == result.document
    with pytest.raises(UsageError) as caught:
        tg_export(shipped("testimage"), tmp_path / "tg", rng=random.Random(2))
    assert caught.value.code == "file_exists" and result.path.read_text() == before
    assert "Telegram" in result.to_dict()["hint"]

"""The frontend's widgets for a class, and how a saved ``widgets_values`` fills them.

Classes come from the real server's ``/object_info`` recorded with the frontend fixtures;
what the frontend itself does with each is checked in ``test_frontend_parity.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from comfycine.graph.schema import Catalog, NodeSchema
from comfycine.graph.widgets import (
    UNSET,
    annotated,
    load_widget_values,
    node_widgets,
    truthy,
)

from .frontend_page import FIXTURES

CATALOG = Catalog.from_object_info(
    json.loads((FIXTURES / "1.32.9" / "object_info.json").read_text())
)


def schema(name: str, info: dict[str, Any] | None = None) -> NodeSchema:
    """A class of the recorded catalog, or one made from ``info``."""
    found = Catalog.from_object_info({name: info}).get(name) if info else CATALOG.get(name)
    assert found is not None
    return found


def names(name: str, info: dict[str, Any] | None = None) -> list[str]:
    """The saved widget names of a class."""
    return [w.name for w in node_widgets(schema(name, info))]


def test_a_seed_gets_a_control_widget_after_it() -> None:
    """KSampler: seed, its control, then the other widgets; links make none."""
    assert names("KSampler") == [
        "seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise",
    ]  # fmt: skip


def test_a_seed_declared_without_control_gets_none() -> None:
    """control_after_generate: false beats the seed naming convention."""
    assert "control_after_generate" not in names("MoonvalleyVideo2VideoNode")


def test_an_int_named_seed_gets_a_control_when_its_spec_is_silent() -> None:
    """The legacy convention: an INT called seed or noise_seed has a control."""
    info = {"input": {"required": {"noise_seed": ["INT", {}], "seedling": ["INT", {}]}}}
    assert names("Custom", info) == ["noise_seed", "control_after_generate", "seedling"]


def test_a_combo_with_control_gets_a_filter_list_too() -> None:
    """A combo asking for a control gets the control and a filter list, named by prefix."""
    spec = ["COMBO", {"options": ["a", "b"], "control_after_generate": True, "control_prefix": "x"}]
    info = {"input": {"required": {"pick": spec}}}
    assert names("Custom", info) == ["pick", "x control_after_generate", "x control_filter_list"]


def test_the_upload_button_comes_after_every_input() -> None:
    """LoadImageMask: image, channel, then the upload button (a UI-only widget)."""
    widgets = node_widgets(schema("LoadImageMask"))
    assert [w.name for w in widgets] == ["image", "channel", "upload"]
    assert widgets[2].spec is None and widgets[0].upload_folder == "input"


def test_remote_combos_get_a_toggle_and_a_refresh_button() -> None:
    """LoadImageOutput: the combo, auto-refresh, refresh, upload; its files annotated."""
    widgets = node_widgets(schema("LoadImageOutput"))
    assert [w.name for w in widgets] == [
        "image", "Auto-refresh after generation", "refresh", "upload",
    ]  # fmt: skip
    assert widgets[0].default == "Loading... [output]"


def test_force_input_and_link_types_make_no_widget() -> None:
    """KlingVideoExtendNode's forceInput video_id is a socket only."""
    assert names("KlingVideoExtendNode") == ["prompt", "negative_prompt", "cfg_scale"]


def test_browser_made_widgets_are_marked() -> None:
    """WebcamCapture's image is made by the browser; its button has no input."""
    widgets = {w.name: w for w in node_widgets(schema("WebcamCapture"))}
    assert widgets["image"].browser and widgets["image"].spec is not None
    assert widgets["waiting for camera..."].spec is None


def test_only_text_encoders_resolve_dynamic_prompts() -> None:
    """CLIPTextEncode's text has dynamicPrompts; StringConcatenate's strings do not."""
    assert [w.dynamic_prompts for w in node_widgets(schema("CLIPTextEncode"))] == [True]
    assert not any(w.dynamic_prompts for w in node_widgets(schema("StringConcatenate")))


def test_defaults_follow_the_frontend() -> None:
    """INT 0, STRING "", a combo's default or first choice, no choices at all: unset."""
    info = {
        "input": {
            "required": {
                "n": ["INT", {}],
                "s": ["STRING", {}],
                "b": ["BOOLEAN", {}],
                "c": [["x", "y"], {"default": ""}],
                "e": ["COMBO", {}],
            }
        }
    }
    assert [w.default for w in node_widgets(schema("Custom", info))] == [0, "", False, "x", UNSET]


def test_values_fill_the_widgets_in_order() -> None:
    """Values fill widgets by position; the rest keep defaults and are named as a problem."""
    values, problems = load_widget_values(schema("KSampler"), [7, "fixed", 20])
    assert values["seed"] == 7 and values["steps"] == 20 and values["cfg"] == 8
    assert problems and "cfg, sampler_name, scheduler, denoise took the default" in problems[0]


def test_a_full_list_is_no_problem() -> None:
    """A list with a value for every widget maps cleanly, nulls included."""
    saved = [None, "fixed", 20, 8, "euler", "normal", 1]
    values, problems = load_widget_values(schema("KSampler"), saved)
    assert values["seed"] is None and problems == []


def test_a_save_from_before_1_16_drops_its_force_input_slots() -> None:
    """Four values for three widgets plus a forceInput: the forceInput value goes."""
    saved = ["a walk", "blur", 0.5, "video-id"]
    values, problems = load_widget_values(schema("KlingVideoExtendNode"), saved)
    assert values == {"prompt": "a walk", "negative_prompt": "blur", "cfg_scale": 0.5}
    assert problems == []


def test_force_input_slots_are_paired_one_per_input() -> None:
    """The frontend pairs inputs and values one to one although a seed takes two slots."""
    saved = ["crisp", 0.3, 11, "fixed", "noisy"]
    values, _ = load_widget_values(schema("StabilityUpscaleConservativeNode"), saved)
    assert values["seed"] == 11 and values["control_after_generate"] == "noisy"


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ("pic.png", "pic.png"),
        ("", "undefined"),
        (None, "undefined"),
        (0, "undefined"),
        (["a.png", "b.png"], "a.png"),
        ({"filename": "f.png", "subfolder": "sub", "type": "output"}, "sub/f.png"),
    ],
)
def test_an_upload_combo_gives_back_what_the_frontend_does(saved: Any, expected: str) -> None:
    """An upload combo's value: names kept, nothing becomes the first file's text."""
    values, _ = load_widget_values(schema("LoadImage"), [saved, "image"])
    assert values["image"] == expected


def test_files_outside_the_input_folder_are_annotated() -> None:
    """A name from the output folder gets " [output]" unless it carries a folder tag."""
    assert annotated("a.png", "output") == "a.png [output]"
    assert annotated("a.png [temp]", "output") == "a.png [temp]"
    assert annotated("a.png", "input") == "a.png"


def test_old_sampler_names_lose_their_prefix_at_the_top_level() -> None:
    """sample_euler becomes euler on a top-level KSampler, as the frontend's loader does."""
    saved = [1, "fixed", 2, 3.5, "sample_euler", "normal", 1]
    assert load_widget_values(schema("KSampler"), saved)[0]["sampler_name"] == "euler"
    inner = load_widget_values(schema("KSampler"), saved, root=False)[0]
    assert inner["sampler_name"] == "sample_euler"


def test_a_dict_is_read_by_name() -> None:
    """Some custom nodes save a dict: read by name, the rest at defaults, no problem."""
    values, problems = load_widget_values(schema("EmptyImage"), {"width": 8, "extra": 1})
    assert values["width"] == 8 and values["height"] == 512 and problems == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (0, False), (0.0, False), ("", False), (False, False), ([], True), ("0", True)],
)
def test_truthy_is_javascripts(value: Any, expected: bool) -> None:
    """Empty lists are true and "0" is true, as in JavaScript."""
    assert truthy(value) is expected

"""Small decisions of generate: the @cloud prefix, media shortcuts, recorded seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfycine.errors import ParameterError, UsageError
from comfycine.generation import resolve_media_shortcuts, seed_values, split_target_prefix
from comfycine.templates import load_template, template_dirs


def test_cloud_prefix_is_stripped_and_selects_cloud() -> None:
    """'@cloud text' selects the cloud target and leaves the text."""
    assert split_target_prefix("@cloud  rain on a window", None) == ("rain on a window", "cloud")
    assert split_target_prefix("@Cloud", None) == ("", "cloud")
    assert split_target_prefix("@cloudy sky", None) == ("@cloudy sky", None)
    assert split_target_prefix("a sky", "local") == ("a sky", "local")


def test_cloud_prefix_conflicting_with_target() -> None:
    """@cloud with --target local is refused rather than guessed."""
    with pytest.raises(UsageError):
        split_target_prefix("@cloud x", "local")


def test_image_shortcut_maps_to_the_single_image_input() -> None:
    """--image becomes the template's only image parameter."""
    template = load_template("testblur", template_dirs(None))
    assert resolve_media_shortcuts(template, {"@image": "a.png", "radius": "2"}) == {
        "input": "a.png",
        "radius": "2",
    }
    with pytest.raises(ParameterError):
        resolve_media_shortcuts(template, {"@video": "a.mov"})


def test_seed_values_keep_only_seeds(tmp_path: Path) -> None:
    """Seed parameters (set or drawn) are recorded; other ints are not."""
    graph = {
        "1": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": "PARAM_INT_STEPS"}},
        "2": {"class_type": "SamplerCustom", "inputs": {"noise_seed": "PARAM_INT_NOISE_SEED"}},
    }
    path = tmp_path / "seeded.json"
    path.write_text(json.dumps(graph))
    template = load_template(str(path), [])
    values = {"seed": 7, "noise_seed": 8, "steps": 20}
    assert seed_values(template, values) == {"seed": 7, "noise_seed": 8}

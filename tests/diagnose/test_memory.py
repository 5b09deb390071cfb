"""Smaller settings for an out-of-memory job."""

from __future__ import annotations

from comfycine.diagnose.memory import fewer_frames, has_full_vae_decode, lower_resolution


def test_resolution_keeps_aspect_and_multiple() -> None:
    """1920×1088 → about 60 % of the pixels, both sides multiples of 16."""
    cut = lower_resolution({"width": 1920, "height": 1088}, {})
    assert cut is not None
    width, height = cut.changes["width"], cut.changes["height"]
    assert width % 16 == 0 and height % 16 == 0
    assert 0.5 < width * height / (1920 * 1088) < 0.65


def test_resolution_respects_the_minimum() -> None:
    """At the template's minimum there is nothing smaller to propose."""
    assert (
        lower_resolution(
            {"width": 256, "height": 256}, {"width": {"min": 256}, "height": {"min": 256}}
        )
        is None
    )


def test_frames_stay_on_the_4n_plus_1_grid() -> None:
    """81 frames → fewer, still 4n+1 (Wan, LTX, Hunyuan)."""
    cut = fewer_frames({"frames": 81}, {"frames": {"multiple_of": 4, "offset": 1}})
    assert cut is not None and cut.changes["frames"] % 4 == 1 and cut.changes["frames"] < 81


def test_frames_under_another_name() -> None:
    """A 'length' parameter (native Wan nodes) is found too."""
    cut = fewer_frames({"length": 121}, {})
    assert cut is not None and "length" in cut.changes


def test_no_size_parameters_no_proposal() -> None:
    """A job without width/height/frames gets no computed proposal."""
    assert lower_resolution({"steps": 20}, {}) is None
    assert fewer_frames({"steps": 20}, {}) is None


def test_full_vae_decode_nodes_are_found() -> None:
    """Plain VAEDecode nodes are listed; tiled ones are not."""
    graph = {"1": {"class_type": "VAEDecode"}, "2": {"class_type": "VAEDecodeTiled"}}
    assert has_full_vae_decode(graph) == ["1"]

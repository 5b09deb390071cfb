"""Smaller settings for a job that ran out of GPU memory, computed from the job itself.

Activation memory grows with the number of latent pixels (width × height × frames), so
the two levers are the frame area and the frame count. We aim at ~60 % of the failing
job's pixels per lever: enough headroom to matter on one retry, without halving the shot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AREA_FACTOR = 0.6
FRAMES_FACTOR = 0.6
# ComfyUI latents are 8× smaller than pixels and video models want multiples of 16.
DEFAULT_MULTIPLE = 16
WIDTH_NAMES = ("width",)
HEIGHT_NAMES = ("height",)
FRAME_NAMES = ("frames", "length", "num_frames", "frame_count", "video_length")


@dataclass(frozen=True)
class Reduction:
    """One smaller setting: the parameter changes and a plain summary."""

    changes: dict[str, int]
    summary: str


def _first(params: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, int] | None:
    for name in names:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return name, value
    return None


def _snap_down(value: float, bounds: Mapping[str, Any], default_multiple: int, below: int) -> int:
    """The allowed value (n·multiple + offset, ≥ min) nearest ``value``, under ``below``."""
    multiple = int(bounds.get("multiple_of") or default_multiple)
    offset = int(bounds.get("offset") or 0)
    snapped = round((value - offset) / multiple) * multiple + offset
    if snapped >= below:
        snapped -= multiple
    minimum = bounds.get("min")
    if isinstance(minimum, int | float) and snapped < minimum:
        snapped = int(math.ceil((minimum - offset) / multiple) * multiple + offset)
    return max(int(snapped), multiple + offset if offset else multiple)


def lower_resolution(
    params: Mapping[str, Any], bounds: Mapping[str, Mapping[str, Any]]
) -> Reduction | None:
    """Width and height scaled to ~60 % of the area, aspect kept, snapped to the bounds."""
    width, height = _first(params, WIDTH_NAMES), _first(params, HEIGHT_NAMES)
    if width is None or height is None:
        return None
    scale = math.sqrt(AREA_FACTOR)
    new_w = _snap_down(width[1] * scale, bounds.get(width[0], {}), DEFAULT_MULTIPLE, width[1])
    new_h = _snap_down(height[1] * scale, bounds.get(height[0], {}), DEFAULT_MULTIPLE, height[1])
    if new_w >= width[1] and new_h >= height[1]:
        return None  # already at the smallest allowed size
    share = round(100 * new_w * new_h / (width[1] * height[1]))
    return Reduction(
        {width[0]: new_w, height[0]: new_h},
        f"{width[1]}×{height[1]} → {new_w}×{new_h} ({share} % of the pixels)",
    )


def fewer_frames(
    params: Mapping[str, Any], bounds: Mapping[str, Mapping[str, Any]]
) -> Reduction | None:
    """The frame count cut to ~60 %, kept on the model's grid (4n+1 for Wan/LTX/Hunyuan)."""
    found = _first(params, FRAME_NAMES)
    if found is None:
        return None
    name, frames = found
    limits = bounds.get(name, {})
    if not limits.get("multiple_of") and frames % 4 == 1:
        limits = {**limits, "multiple_of": 4, "offset": 1}  # the video models' own grid
    new = _snap_down(frames * FRAMES_FACTOR, limits, 1, frames)
    if new >= frames:
        return None
    return Reduction({name: new}, f"{frames} → {new} frames")


def has_full_vae_decode(graph: Mapping[str, Any]) -> list[str]:
    """Node ids of plain ``VAEDecode`` nodes (a tiled decode needs far less memory)."""
    return [
        str(node_id)
        for node_id, node in graph.items()
        if isinstance(node, Mapping) and node.get("class_type") == "VAEDecode"
    ]

"""Decode latents in tiles: the out-of-memory fix that changes no setting of the shot.

A plain ``VAEDecode`` decodes the whole latent (every frame of a video) at once, often the
peak of a job's memory. ``VAEDecodeTiled`` (a core node) takes the same two inputs plus
tile sizes and decodes piece by piece, spatially and, for video VAEs, over time.
"""

from __future__ import annotations

import copy
from typing import Any

# VAEDecodeTiled's own defaults (ComfyUI 0.3.75 /object_info): 512 px tiles, 64 px
# overlap, 64 frames at a time with 8 frames of overlap.
TILED_INPUTS = {"tile_size": 512, "overlap": 64, "temporal_size": 64, "temporal_overlap": 8}


def tile_vae_decodes(graph: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``graph`` with every ``VAEDecode`` made a ``VAEDecodeTiled``; the node ids."""
    tiled = copy.deepcopy(graph)
    changed: list[str] = []
    for node_id, node in tiled.items():
        if isinstance(node, dict) and node.get("class_type") == "VAEDecode":
            node["class_type"] = "VAEDecodeTiled"
            node["inputs"] = {**TILED_INPUTS, **(node.get("inputs") or {})}
            changed.append(str(node_id))
    return tiled, changed

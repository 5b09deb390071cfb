"""Tiled VAE decode: the graph rewrite behind --tiled-vae."""

from __future__ import annotations

from comfycine.graph.tiling import tile_vae_decodes


def test_plain_decodes_become_tiled_with_their_links() -> None:
    """VAEDecode → VAEDecodeTiled with the same links plus tile sizes; the input untouched."""
    graph = {
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}},
    }
    tiled, changed = tile_vae_decodes(graph)
    assert changed == ["8"]
    assert tiled["8"]["class_type"] == "VAEDecodeTiled"
    assert tiled["8"]["inputs"]["samples"] == ["3", 0] and tiled["8"]["inputs"]["tile_size"] == 512
    assert graph["8"]["class_type"] == "VAEDecode"


def test_a_graph_without_decode_is_unchanged() -> None:
    """No VAEDecode: nothing changed."""
    graph = {"1": {"class_type": "EmptyImage", "inputs": {}}}
    assert tile_vae_decodes(graph) == (graph, [])

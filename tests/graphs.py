"""API-format graphs the real CPU ComfyUI runs in tests: a blur chain and a tiny txt2img."""

from __future__ import annotations

import secrets
from typing import Any


def random_colour() -> int:
    """A colour nobody used before: ComfyUI caches results, a repeated graph ends at once."""
    return secrets.randbelow(1 << 24)


def blur_chain(
    blurs: int, *, side: int = 768, batch: int = 2, prefix: str = "slow"
) -> dict[str, Any]:
    """EmptyImage → ``blurs`` × ImageBlur → SaveImage: seconds of CPU, a node boundary (an
    interrupt point) per blur, a random colour so no run is served from the cache."""
    graph: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {
                "width": side,
                "height": side,
                "batch_size": batch,
                "color": random_colour(),
            },
        }
    }
    previous = "1"
    for index in range(2, blurs + 2):
        graph[str(index)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [previous, 0], "blur_radius": 9, "sigma": 2.0},
        }
        previous = str(index)
    graph["999"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [previous, 0], "filename_prefix": prefix},
    }
    return graph


def txt2img(checkpoint: str, *, steps: int, seed: int = 42, prefix: str = "tiny") -> dict[str, Any]:
    """The standard txt2img graph on the tiny checkpoint, 64×64 (sampler is node 5)."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
        "4": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "5": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["3", 0],
                "latent_image": ["4", 0],
                "seed": seed,
                "steps": steps,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": prefix}},
    }

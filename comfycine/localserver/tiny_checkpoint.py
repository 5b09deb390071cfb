"""Write a tiny random SD1.5-layout checkpoint, using ComfyUI's own model classes.

Not imported by comfycine: ``ensure_tiny_checkpoint`` runs it with the local server's
venv interpreter and the ComfyUI tree as working directory::

    python tiny_checkpoint.py OUTPUT.safetensors

The UNet has one level (``model_channels`` 320, ``context_dim`` 768, one res block, one
transformer), so ComfyUI detects an SD1.5 model and samples 64×64 in about a second on
the CPU; the text encoder (CLIP-L) and VAE are full size, as ComfyUI expects them. Weights
are random but seeded: images are noise. The script loads the result back through
ComfyUI's checkpoint loader and fails unless it is seen as SD1.5 with CLIP and VAE.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

SEED = 20240601
UNET_CONFIG: dict[str, Any] = {
    "image_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [1],
    "channel_mult": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [1, 1],
    "transformer_depth_middle": 1,
    "context_dim": 768,
    "num_heads": 8,
    "num_head_channels": -1,
    "use_spatial_transformer": True,
    "use_linear_in_transformer": False,
    "use_checkpoint": False,
    "legacy": False,
    "adm_in_channels": None,
    "use_temporal_resblock": False,
    "use_temporal_attention": False,
}
# ComfyUI's default SD1.x VAE (comfy/sd.py).
VAE_DDCONFIG: dict[str, Any] = {
    "double_z": True,
    "z_channels": 4,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "dropout": 0.0,
}


def _init_weights(module: Any, generator: Any) -> None:
    """Seeded small random weights; norms at identity (the ops classes skip init)."""
    import torch

    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("bias"):
                param.zero_()
            elif param.ndim == 1:
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)


def _prefixed(prefix: str, state: dict[str, Any], keep: str = "") -> dict[str, Any]:
    import torch

    return {
        prefix + key: value.detach().to(torch.float16).contiguous()
        for key, value in state.items()
        if key.startswith(keep)
    }


def build_state_dict() -> dict[str, Any]:
    """The checkpoint's tensors, keyed as in an original SD1.5 checkpoint."""
    import comfy.clip_model
    import comfy.ops
    import torch
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    generator = torch.Generator().manual_seed(SEED)
    ops = comfy.ops.disable_weight_init
    unet = UNetModel(**UNET_CONFIG, dtype=torch.float32, device="cpu", operations=ops)
    config_path = os.path.join("comfy", "sd1_clip_config.json")
    with open(config_path, encoding="utf-8") as handle:
        clip_config = json.load(handle)
    clip = comfy.clip_model.CLIPTextModel(clip_config, torch.float32, "cpu", ops)
    vae = AutoencoderKL(ddconfig=VAE_DDCONFIG, embed_dim=4)
    for module in (unet, clip, vae):
        _init_weights(module, generator)
    state: dict[str, Any] = {}
    state.update(_prefixed("model.diffusion_model.", unet.state_dict()))
    # Original SD1.5 checkpoints have no text projection: keep the text model only.
    state.update(_prefixed("cond_stage_model.transformer.", clip.state_dict(), "text_model."))
    state.update(_prefixed("first_stage_model.", vae.state_dict()))
    return state


def check_checkpoint(path: str) -> str:
    """Load ``path`` with ComfyUI's checkpoint loader; the detected model class name."""
    import comfy.sd

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(path)
    if clip is None or vae is None:
        raise SystemExit("ComfyUI found no CLIP or no VAE in the tiny checkpoint")
    name = type(model.model.model_config).__name__
    if name != "SD15":
        raise SystemExit(f"ComfyUI detected {name}, not SD15")
    return name


def main(argv: list[str]) -> int:
    """Write the checkpoint to ``argv[0]`` and check it loads as SD1.5."""
    if len(argv) != 1:
        print("usage: python tiny_checkpoint.py OUTPUT.safetensors", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())
    from comfy.cli_args import args

    args.cpu = True  # model_management reads it at import; there may be no GPU
    from safetensors.torch import save_file

    state = build_state_dict()
    metadata = {"comfycine": "tiny random SD1.5-layout checkpoint for tests; images are noise"}
    save_file(state, argv[0], metadata=metadata)
    detected = check_checkpoint(argv[0])
    print(f"wrote {argv[0]}: {len(state)} tensors, detected as {detected}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

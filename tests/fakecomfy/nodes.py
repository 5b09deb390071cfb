"""The node classes the fake knows, and what each one computes.

Schemas come from ``object_info_subset.json``: the entries for the fifteen classes below,
copied unchanged from a real ComfyUI 0.3.64 ``GET /object_info``
(``comfyui-captures/GET_object_info.json``). Model and input-file lists are filled in
at request time, as the real server does.

Nodes compute small value objects instead of tensors (an image is its size, batch and
one colour), but output nodes write real files: PNGs with the ``prompt``/``workflow``
text chunks ComfyUI embeds, and an MP4 (a tiny captured clip, or a sparse file of any
size for memory benchmarks). Runtime failures a real node raises on its own (a blur
radius larger than the image, a ``LoadImage`` file deleted after validation) are raised
here too, with the real exception types and messages.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from tests.fakecomfy.files import (
    Folders,
    next_counter,
    read_png_size,
    resolve_save_prefix,
    split_annotation,
    write_png,
    write_sparse,
)

FIXTURES = Path(__file__).parent
SAMPLER_CLASSES = frozenset({"KSampler"})


@cache
def preview_jpeg() -> bytes:
    """A 16x16 JPEG sent as every sampler preview."""
    return (FIXTURES / "preview.jpg").read_bytes()


@cache
def clip_mp4() -> bytes:
    """A 12-frame h264 MP4 written by a real ComfyUI (capture 06), used for every video."""
    return (FIXTURES / "clip.mp4").read_bytes()


def load_object_info() -> dict[str, Any]:
    """Return the bundled ``/object_info`` subset (a fresh copy each call)."""
    with (FIXTURES / "object_info_subset.json").open(encoding="utf-8") as handle:
        info: dict[str, Any] = json.load(handle)
    return info


def fill_object_info(
    base: dict[str, Any], models: dict[str, list[str]], folders: Folders
) -> dict[str, Any]:
    """Return ``base`` with the checkpoint and input-image combos filled from disk state."""
    info = copy.deepcopy(base)
    if "CheckpointLoaderSimple" in info:
        spec = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"]
        spec[0] = list(models.get("checkpoints", []))
    if "LoadImage" in info:
        input_dir = folders.base / "input"
        files = sorted(p.name for p in input_dir.iterdir() if p.is_file())
        info["LoadImage"]["input"]["required"]["image"][0] = files
    return info


@dataclass(frozen=True)
class Images:
    """A batch of solid-colour RGB images (what flows on an ``IMAGE`` link)."""

    width: int
    height: int
    batch: int
    color: int

    def __str__(self) -> str:
        # The real server formats tensors with str(); keep the same kind of text.
        return f"tensor(<{self.batch}x{self.height}x{self.width}x3, #{self.color:06x}>)"


@dataclass(frozen=True)
class Latent:
    """A batch of empty latents (``LATENT``)."""

    width: int
    height: int
    batch: int


@dataclass(frozen=True)
class Video:
    """Frames plus a frame rate (``VIDEO``)."""

    frames: Images
    fps: float


@dataclass(frozen=True)
class Handle:
    """An opaque object such as a model or a conditioning."""

    kind: str
    label: str


@dataclass
class NodeContext:
    """What a node may read besides its inputs."""

    node_id: str
    prompt: dict[str, Any]
    extra_pnginfo: dict[str, Any] | None
    folders: Folders
    temp_suffix: str
    video_size: int | None = None


@dataclass
class NodeResult:
    """Output values (by slot) and the optional UI dict shown in ``executed``."""

    outputs: tuple[Any, ...]
    ui: dict[str, Any] | None = None


Executor = Callable[[NodeContext, dict[str, Any]], NodeResult]


def format_value(value: Any) -> Any:
    """Format an input value for ``execution_error.current_inputs`` like the real server."""
    if value is None or isinstance(value, int | float | bool | str):
        return value
    return str(value)


def _expand_prefix(prefix: str, width: int, height: int) -> str:
    if "%" not in prefix:
        return prefix
    now = time.localtime()
    for key, value in {
        "%width%": str(width),
        "%height%": str(height),
        "%year%": str(now.tm_year),
        "%month%": f"{now.tm_mon:02}",
        "%day%": f"{now.tm_mday:02}",
        "%hour%": f"{now.tm_hour:02}",
        "%minute%": f"{now.tm_min:02}",
        "%second%": f"{now.tm_sec:02}",
    }.items():
        prefix = prefix.replace(key, value)
    return prefix


def _save_images(ctx: NodeContext, images: Images, prefix: str, kind: str) -> NodeResult:
    root = str(ctx.folders.base / kind)
    prefix = _expand_prefix(prefix, images.width, images.height)
    folder, filename, subfolder = resolve_save_prefix(prefix, root)
    counter = next_counter(folder, filename)
    texts = {"prompt": json.dumps(ctx.prompt)}
    for key, value in (ctx.extra_pnginfo or {}).items():
        texts[key] = json.dumps(value)
    results = []
    for batch_number in range(images.batch):
        name = filename.replace("%batch_num%", str(batch_number))
        file = f"{name}_{counter:05}_.png"
        write_png(folder / file, images.width, images.height, images.color, texts)
        results.append({"filename": file, "subfolder": subfolder, "type": kind})
        counter += 1
    return NodeResult((), {"images": results})


def _save_video(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    video: Video = inputs["video"]
    root = str(ctx.folders.base / "output")
    prefix = _expand_prefix(inputs["filename_prefix"], video.frames.width, video.frames.height)
    folder, filename, subfolder = resolve_save_prefix(prefix, root)
    file = f"{filename}_{next_counter(folder, filename):05}_.mp4"
    if ctx.video_size is None:
        (folder / file).write_bytes(clip_mp4())
    else:
        write_sparse(folder / file, clip_mp4(), ctx.video_size)
    entry = {"filename": file, "subfolder": subfolder, "type": "output"}
    return NodeResult((), {"images": [entry], "animated": [True]})


def _image_blur(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    image: Images = inputs["image"]
    radius = int(inputs["blur_radius"])
    # Reflect padding needs a radius smaller than each side; torch checks width first.
    if radius >= image.width or radius >= image.height:
        dimension = 3 if radius >= image.width else 2
        raise RuntimeError(
            "Argument #4: Padding size should be less than the corresponding input "
            f"dimension, but got: padding ({radius}, {radius}) at dimension {dimension} "
            f"of input [{image.batch}, 3, {image.height}, {image.width}]"
        )
    return NodeResult((image,))


def _image_scale(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    image: Images = inputs["image"]
    width, height = int(inputs["width"]), int(inputs["height"])
    if width == 0 and height == 0:
        width, height = image.width, image.height
    elif width == 0:
        width = max(1, round(image.width * height / image.height))
    elif height == 0:
        height = max(1, round(image.height * width / image.width))
    return NodeResult((replace(image, width=width, height=height),))


def input_path(folders: Folders, name: str) -> Path:
    """Return where ``LoadImage`` looks for ``name`` (``"sub/x.png"``, ``"x.png [output]"``)."""
    bare, folder_type = split_annotation(name)
    return folders.base / (folder_type or "input") / bare


def _load_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    path = input_path(ctx.folders, inputs["image"])
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    width, height = read_png_size(path) or (64, 64)
    return NodeResult((Images(width, height, 1, 0x808080), Handle("MASK", "alpha")))


def _image_batch(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    first: Images = inputs["image1"]
    second: Images = inputs["image2"]
    return NodeResult((replace(first, batch=first.batch + second.batch),))


def _vae_decode(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    latent: Latent = inputs["samples"]
    return NodeResult((Images(latent.width, latent.height, latent.batch, 0x7F7F7F),))


def _checkpoint(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    name = str(inputs["ckpt_name"])
    return NodeResult((Handle("MODEL", name), Handle("CLIP", name), Handle("VAE", name)))


EXECUTORS: dict[str, Executor] = {
    "EmptyImage": lambda ctx, i: NodeResult(
        (Images(i["width"], i["height"], i["batch_size"], i["color"]),)
    ),
    "ImageInvert": lambda ctx, i: NodeResult(
        (replace(i["image"], color=i["image"].color ^ 0xFFFFFF),)
    ),
    "ImageBlur": _image_blur,
    "ImageScale": _image_scale,
    "ImageBatch": _image_batch,
    "LoadImage": _load_image,
    "CheckpointLoaderSimple": _checkpoint,
    "CLIPTextEncode": lambda ctx, i: NodeResult((Handle("CONDITIONING", str(i["text"])),)),
    "EmptyLatentImage": lambda ctx, i: NodeResult(
        (Latent(i["width"], i["height"], i["batch_size"]),)
    ),
    "KSampler": lambda ctx, i: NodeResult((i["latent_image"],)),
    "VAEDecode": _vae_decode,
    "CreateVideo": lambda ctx, i: NodeResult((Video(i["images"], float(i["fps"])),)),
    "SaveImage": lambda ctx, i: _save_images(ctx, i["images"], i["filename_prefix"], "output"),
    "PreviewImage": lambda ctx, i: _save_images(
        ctx, i["images"], "ComfyUI" + ctx.temp_suffix, "temp"
    ),
    "SaveVideo": _save_video,
}


def validate_load_image(folders: Folders, inputs: dict[str, Any]) -> bool | str:
    """``LoadImage``'s own input check: the file must exist (else the real message)."""
    image = inputs["image"]
    if not input_path(folders, str(image)).is_file():
        return f"Invalid image file: {image}"
    return True


# Classes with a custom VALIDATE_INPUTS: the inputs it takes, and the check itself.
# Those inputs skip the generic range and combo checks, as on the real server.
CUSTOM_VALIDATORS: dict[str, tuple[tuple[str, ...], Callable[[Folders, dict[str, Any]], Any]]] = {
    "LoadImage": (("image",), validate_load_image),
}


def change_token(class_type: str, inputs: dict[str, Any], folders: Folders) -> str:
    """Return what makes a node's cached result stale besides its inputs (its IS_CHANGED)."""
    if class_type != "LoadImage":
        return ""
    path = input_path(folders, str(inputs.get("image", "")))
    if not path.is_file():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()

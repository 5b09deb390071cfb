"""Real media for the preview tests, made with PyAV and Pillow: each frame a known colour.

Frame ``i`` of ``n`` is filled with :func:`colour`: red climbs across the clip and blue
jumps by 37 a frame, so a neighbouring frame differs by ≥ 37 in blue and one a few
frames away by ≥ 25 in red — far beyond what H.264 or VP9 change in a flat colour.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

Paint = Callable[[int, Image.Image], None]

# How far a decoded flat colour may drift from the encoded one (YUV 4:2:0 + quantizer).
TOLERANCE = 14


def colour(index: int, count: int) -> tuple[int, int, int]:
    """The colour of frame ``index`` of a ``count``-frame test clip."""
    red = round(index * 255 / max(1, count - 1))
    return (red, 255 - red, (index * 37) % 256)


def close(got: tuple[int, ...], want: tuple[int, ...], tolerance: int = TOLERANCE) -> bool:
    """True when every channel of ``got`` is within ``tolerance`` of ``want``."""
    return all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=False))


def has_encoder(name: str) -> bool:
    """True when this PyAV wheel can encode with ``name``."""
    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


def make_clip(
    path: Path,
    *,
    codec: str = "libx264",
    fps: int | Fraction = 24,
    frames: int = 72,
    size: tuple[int, int] = (320, 180),
    pix_fmt: str = "yuv420p",
    faststart: bool = False,
    rotation: int | None = None,
    paint: Paint | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode a clip whose frame ``i`` is :func:`colour` ``(i, frames)`` (then ``paint``)."""
    muxing = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=muxing) as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index in range(frames):
            image = Image.new("RGB", size, colour(index, frames))
            if paint is not None:
                paint(index, image)
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_animation(path: Path, *, frames: int = 10, size: tuple[int, int] = (96, 54)) -> Path:
    """An animated GIF, WebP (lossless) or PNG by suffix, 100 ms a frame (10 fps)."""
    images = [Image.new("RGB", size, colour(i, frames)) for i in range(frames)]
    extra = {"lossless": True} if path.suffix == ".webp" else {}
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0, **extra)
    return path


def cut(path: Path, fraction: float = 0.5) -> Path:
    """Keep only the first ``fraction`` of ``path``'s bytes (a download cut short)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path

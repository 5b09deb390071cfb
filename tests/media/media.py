"""Real clips for the media tests, made with PyAV: each frame a known colour.

Frame ``i`` is :func:`tests.takes.clips.colour` ``(i, frames)`` unless ``picture``
says otherwise (black, or one colour held: a frozen stretch).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from tests.takes.clips import colour

RGB = tuple[int, int, int]


def make_video(
    path: Path,
    *,
    frames: int = 24,
    fps: int | Fraction = 24,
    size: tuple[int, int] = (160, 90),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    timecode: str | None = None,
    picture: Callable[[int], RGB] | None = None,
    audio: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``frames`` flat-colour frames (``picture(i)``, else ``colour(i, frames)``)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        if timecode is not None:
            stream.metadata["timecode"] = timecode
        sound = container.add_stream("aac", rate=48000) if audio else None
        for index in range(frames):
            rgb = picture(index) if picture is not None else colour(index, frames)
            frame = av.VideoFrame.from_image(Image.new("RGB", size, rgb))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            silence = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate, silence.pts = 48000, 0
            container.mux(sound.encode(silence))
            container.mux(sound.encode(None))
    return path


def held(frames: int, hold: range, rgb: RGB | None = None) -> Callable[[int], RGB]:
    """The usual colours, but ``rgb`` (else the colour of ``hold``'s first frame) over
    ``hold``: a black stretch with ``(0, 0, 0)``, a frozen one without."""

    def picture(index: int) -> RGB:
        if index in hold:
            return rgb if rgb is not None else colour(hold.start, frames)
        return colour(index, frames)

    return picture


def middle_colours(path: Path, *, start_number: int | None = None) -> list[RGB]:
    """The RGB colour at the centre of every frame of ``path`` (or an image sequence)."""
    options = {}
    if start_number is not None:
        options = {"format": "image2", "options": {"start_number": str(start_number)}}
    found: list[RGB] = []
    with av.open(str(path), **options) as container:
        for frame in container.decode(video=0):
            image = frame.to_image()
            found.append(image.getpixel((image.width // 2, image.height // 2)))
    return found

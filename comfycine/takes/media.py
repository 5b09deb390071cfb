"""What the previews read: clip information, frames by number, stills, the poster's choice.

A :class:`Clip` gives a clip's :class:`ClipInfo` (frame count, rate, duration, display
size) and its frames by number; :mod:`.video` opens one (PyAV for video, and here
:class:`PillowClip` for WebP, which FFmpeg cannot decode when animated, as ComfyUI's
``SaveAnimatedWEBP`` writes it). Stills are read with Pillow. av and PIL are imported
inside the functions: the CLI starts without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from comfycine.errors import MediaNotFound, UsageError

if TYPE_CHECKING:
    from PIL import Image

# Renders a decoded frame ``width`` px wide at its display aspect ratio.
Render = Callable[[int], "Image.Image"]

_HINT = "Check that the file plays; if it came from a job, fetch it again with: comfycine wait JOB"


def unreadable(path: Path, why: str) -> UsageError:
    """The ``media_unreadable`` error for ``path``: one line naming the file and why."""
    return UsageError(
        f"Cannot make a preview of {path.name}: {why}.",
        code="media_unreadable",
        hint=_HINT,
        details={"path": str(path)},
    )


def check_exists(path: Path) -> None:
    """Raise :class:`MediaNotFound` when ``path`` is not a file."""
    if not path.is_file():
        raise MediaNotFound(
            f"No such file: {path}.",
            hint="Check the path; list recent outputs with: comfycine status",
            details={"path": str(path)},
        )


@dataclass(frozen=True)
class ClipInfo:
    """What the index pass learned about a clip; frame numbers count from its first frame."""

    path: Path
    frame_count: int
    fps: Fraction  # the stream's average rate: timecodes count frames at round(fps)
    duration: float  # seconds the readable frames cover (the last one's own duration too)
    width: int  # display size: pixel aspect ratio and rotation applied
    height: int
    codec: str
    truncated: bool = False  # fewer frames than the file's header announces
    declared: float | None = None  # the duration the header announces, when it says one

    def timecode(self, index: int) -> str:
        """Frame ``index`` as a non-drop-frame ``HH:MM:SS:FF`` at the nominal frame rate.

        23.976 counts as 24 and 29.97 as 30 (non-drop-frame, as editors show them);
        a rate below 1 fps counts as 1.
        """
        base = max(1, round(self.fps))
        seconds, frame = divmod(index, base)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}:{frame:02d}"


class Clip(Protocol):
    """An open clip: its :class:`ClipInfo` and its frames by number."""

    info: ClipInfo

    def pictures(self, indices: Sequence[int]) -> Iterator[tuple[int, Render]]:
        """Yield ``(index, render)`` for the wanted frames that decode, in frame order.

        Frames that do not decode (the end of a truncated file) are left out. A rotated
        video's :attr:`info` gets its display size once its first frame decodes.
        """
        ...


def is_animated(path: Path) -> bool:
    """True when a still-image file (PNG, WebP) holds more than one frame."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return bool(getattr(image, "is_animated", False))
    except (OSError, ValueError, Image.DecompressionBombError):
        return False  # the still-image path names the problem


def load_still(path: Path, width: int) -> Image.Image:
    """An image file as RGB, EXIF orientation applied, ``width`` px wide at most.

    Transparency is laid over mid grey; an animated file gives its first frame.
    """
    from PIL import Image, ImageOps

    check_exists(path)
    try:
        with Image.open(path) as opened:
            # A JPEG decodes at 1/2, 1/4 or 1/8 of its size when that is enough: much faster.
            opened.draft("RGB", (width, max(1, width * opened.height // max(1, opened.width))))
            image = ImageOps.exif_transpose(opened)
            image.load()
    except Image.DecompressionBombError as exc:
        raise unreadable(path, "the image is too large to open safely") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise unreadable(path, _pillow_reason(exc)) from exc
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        image.alpha_composite(rgba)
    image = image.convert("RGB")
    target = min(width, image.width)
    height = max(1, round(image.height * target / image.width))
    if (target, height) == image.size:
        return image
    return image.resize((target, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _pillow_reason(exc: BaseException) -> str:
    """A short reason for a Pillow failure (which says truncated or unidentified)."""
    text = str(exc)
    if "truncated" in text:
        return "the image is truncated"
    if "cannot identify" in text or isinstance(exc, SyntaxError):
        return "it is not an image Pillow can read"
    return text.split(" (")[0] or type(exc).__name__


class PillowClip:
    """A WebP (animated or not) read with Pillow, frame by frame."""

    def __init__(self, path: Path) -> None:
        from PIL import Image

        try:
            self._image = Image.open(path)
            count = int(getattr(self._image, "n_frames", 1))
            durations = []
            for index in range(count):
                self._image.seek(index)
                self._image.load()  # Pillow reads a WebP frame's duration as it decodes it
                durations.append(int(self._image.info.get("duration") or 0))
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
            raise unreadable(path, _pillow_reason(exc)) from exc
        known = sorted(d for d in durations if d > 0)
        step = known[len(known) // 2] if known else 100  # the median frame, in ms
        fps = Fraction(1000, step)
        total = sum(d if d > 0 else step for d in durations) / 1000
        width, height = self._image.size
        self._path = path
        self.info = ClipInfo(path, count, fps, total, width, height, "webp")

    def close(self) -> None:
        """Close the image file."""
        self._image.close()

    def pictures(self, indices: Sequence[int]) -> Iterator[tuple[int, Render]]:
        """Yield the wanted frames (Pillow decodes an animation forward from its start)."""
        from PIL import Image

        for index in sorted({i for i in indices if 0 <= i < self.info.frame_count}):
            try:
                self._image.seek(index)
                frame = self._image.convert("RGB")
            except (OSError, ValueError, EOFError):
                return  # a truncated animation: what came before is what there is

            def render(width: int, frame: Image.Image = frame) -> Image.Image:
                height = max(1, round(frame.height * width / frame.width))
                return frame.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)

            yield index, render


def choose_poster(clip: Clip, width: int, first: Image.Image | None = None) -> Image.Image:
    """The frame that stands for a clip, ``width`` px wide at most (never enlarged).

    The frame at 1/3 of the clip: the first frames of a generated clip are the still it
    was conditioned on (image-to-video) or a fade from black, and its last ones are where
    long generations drift; by a third the shot is established. A near-black pick gives
    way to the frames at 1/2, then 2/3; a clip black throughout keeps its 1/3 frame.
    ``first`` is that 1/3 frame when the caller decoded it already (see previews_for).
    """
    count = clip.info.frame_count
    order = [count // 3, count // 2, 2 * count // 3]
    seen: dict[int, Image.Image] = {}
    if first is not None:
        seen[order[0]] = first
    if order[0] not in seen:
        for index, render in clip.pictures(order[:1]):
            seen[index] = render(min(width, clip.info.width))
    if order[0] in seen and not _is_dark(seen[order[0]]):
        return seen[order[0]]
    for index, render in clip.pictures([i for i in order[1:] if i not in seen]):
        seen[index] = picked = render(min(width, clip.info.width))
        if not _is_dark(picked):
            return picked
    for index in order:
        if index in seen:
            return seen[index]
    raise unreadable(clip.info.path, "no frame of it decodes")


def _is_dark(image: Image.Image) -> bool:
    """True for a frame that is black or nearly (a fade, a blank first frame)."""
    from PIL import ImageStat

    return float(ImageStat.Stat(image.convert("L")).mean[0]) < 20.0

"""The fake server's folders: input, output and temp, named and checked like ComfyUI's.

ComfyUI keeps three folders (``input``, ``output``, ``temp``) and resolves every
``filename``/``subfolder``/``type`` triple against them with the same rules in
``/view``, ``/upload/image`` and the save nodes. This module reproduces those rules
(observed on 0.3.64 and 0.3.75, see ``comfyui-captures/04_upload`` and ``20_misc_http``)
on a temporary directory, so that outputs live on disk and ``/view`` can answer through
aiohttp's ``FileResponse`` exactly like the real server (``ETag``, ``Range``, ...).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

FOLDER_TYPES = ("input", "output", "temp")

# ComfyUI's "name.png [output]" notation, accepted by /view and LoadImage.
_ANNOTATIONS = {" [input]": "input", " [output]": "output", " [temp]": "temp"}


@dataclass(frozen=True)
class Folders:
    """The three ComfyUI folders under one base directory (all absolute, symlinks resolved)."""

    base: Path

    @classmethod
    def create(cls, base: Path) -> Folders:
        """Create ``input``, ``output`` and ``temp`` under ``base`` and return the set."""
        real = Path(os.path.realpath(base))
        for name in FOLDER_TYPES:
            (real / name).mkdir(parents=True, exist_ok=True)
        return cls(real)

    def by_type(self, folder_type: str | None) -> str | None:
        """Return the folder for ``input``/``output``/``temp`` as a string, else None."""
        if folder_type in FOLDER_TYPES:
            return str(self.base / folder_type)
        return None


def split_annotation(name: str) -> tuple[str, str | None]:
    """Split ``"x.png [output]"`` into ``("x.png", "output")``; no annotation gives None."""
    for suffix, folder_type in _ANNOTATIONS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], folder_type
    return name, None


def is_inside(parent: str, child: str) -> bool:
    """Tell whether ``child`` stays inside ``parent`` (ComfyUI's ``commonpath`` test)."""
    return os.path.commonpath((parent, os.path.abspath(child))) == parent


def next_counter(folder: Path, filename: str) -> int:
    """Return the next ``_NNNNN_`` counter for ``filename`` in ``folder``, as ComfyUI does.

    The counter is one more than the largest one already on disk for that prefix, so it
    survives a server restart (the files stay, the history does not).
    """
    best = 0
    if folder.is_dir():
        for existing in os.listdir(folder):
            if existing[: len(filename) + 1] != f"{filename}_":
                continue
            try:
                best = max(best, int(existing[len(filename) + 1 :].split("_")[0]))
            except ValueError:
                continue
    return best + 1


def resolve_save_prefix(prefix: str, root: str) -> tuple[Path, str, str]:
    """Split a ``filename_prefix`` into (folder, file prefix, subfolder) below ``root``.

    Raises:
        Exception: the prefix climbs out of ``root``; the message is the real server's.
    """
    normalised = os.path.normpath(prefix)
    subfolder = os.path.dirname(normalised)
    filename = os.path.basename(normalised)
    folder = os.path.join(root, subfolder)
    if not is_inside(root, folder):
        raise Exception(  # the real node raises a bare Exception too
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {os.path.abspath(folder)}"
            f"\n         output_dir: {root}"
        )
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder), filename, subfolder


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def write_png(path: Path, width: int, height: int, rgb: int, texts: dict[str, str]) -> None:
    """Write a solid-colour 8-bit RGB PNG with ``tEXt`` chunks (ComfyUI's metadata).

    Rows are compressed one at a time, so a large image never sits in memory whole.
    """
    pixel = bytes(((rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF))
    row = b"\x00" + pixel * width
    compressor = zlib.compressobj(6)
    idat = bytearray()
    for _ in range(height):
        idat += compressor.compress(row)
    idat += compressor.flush()
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        for key, value in texts.items():
            out.write(_png_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode()))
        out.write(_png_chunk(b"IDAT", bytes(idat)))
        out.write(_png_chunk(b"IEND", b""))


def read_png_size(path: Path) -> tuple[int, int] | None:
    """Return (width, height) from a PNG header, or None when the file is not a PNG."""
    with path.open("rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def write_sparse(path: Path, head: bytes, size: int) -> None:
    """Write ``head`` and extend the file to ``size`` bytes without writing the rest.

    On Linux and macOS file systems the tail is a hole: a multi-gigabyte output costs
    neither memory nor disk, and ``/view`` still streams it through ``FileResponse``.
    """
    with path.open("wb") as out:
        out.write(head[:size])
        out.truncate(size)

"""A clip's media on this machine: its URL as a path, and relinking by name.

Timelines name media as ``file://`` URLs (``file:///Volumes/A/shot%20010.mov``,
``file://localhost/…`` from FCP7, ``file:///C:/…`` from Windows), as plain paths
(EDL ``* FROM CLIP:`` comments), relative to the timeline's folder, or not at all (an
EDL's reel and clip name). :func:`media_path` turns the first kinds into a
:class:`~pathlib.Path`; :class:`Relinker` finds what is offline by file name.

Relinking looks under the ``--relink`` folder (recursively); a clip that names no path
at all (an EDL event, a MissingReference) is looked for beside the timeline too (in
its folder, not below). A clip whose path is given but missing is offline unless
``--relink`` finds it. Names match case-insensitively; a name without a suffix (an EDL
reel or clip name) matches a media file of that stem. Several matches: the one of the
size the timeline gives (when it gives one); still several → ambiguous, none chosen.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlparse

WINDOWS_DRIVE = re.compile(r"^/?[A-Za-z]:[\\/]")
MEDIA_SUFFIXES = {
    ".mov",
    ".mp4",
    ".m4v",
    ".mxf",
    ".avi",
    ".mkv",
    ".webm",
    ".mts",
    ".m2ts",
    ".mpg",
    ".mpeg",
    ".dv",
    ".braw",
    ".r3d",
    ".ari",
    ".dpx",
    ".exr",
    ".png",
    ".tif",
    ".tiff",
    ".jpg",
    ".jpeg",
    ".gif",
    ".wav",
    ".aif",
    ".aiff",
    ".mp3",
    ".m4a",
}
SKIPPED_DIRS = {".git", "__pycache__", "node_modules"}


def media_path(url: str | None, base: Path) -> Path | None:
    """The local path a media URL or path names (relative ones against ``base``).

    Returns None for an empty URL or a non-file scheme (``http://``); the path may
    not exist (the caller checks).
    """
    if not url:
        return None
    text = url.strip()
    parsed = urlparse(text)
    if parsed.scheme.lower() == "file":
        raw = unquote(parsed.path)
        if parsed.netloc and parsed.netloc.lower() != "localhost":
            raw = f"//{parsed.netloc}{raw}"  # a UNC share: file://server/share/x.mov
        if WINDOWS_DRIVE.match(raw):
            return _windows_path(raw.lstrip("/"))
        return Path(raw)
    if parsed.scheme and len(parsed.scheme) > 1:
        return None  # http:, s3: …: nothing on this machine
    if WINDOWS_DRIVE.match(text) or text.startswith("\\\\"):
        return _windows_path(text)
    path = Path(unquote(text) if "%" in text else text)
    return path if path.is_absolute() else base / path


def _windows_path(text: str) -> Path:
    """A Windows path as a Path here (on macOS/Linux: its parts, for relinking by name)."""
    if os.name == "nt":
        return Path(text)
    return Path(PurePosixPath(*PureWindowsPath(text).parts))


def media_name(url: str | None) -> str:
    """The file name in a URL or path (``shot 010.mov``), Windows separators included."""
    if not url:
        return ""
    parsed = urlparse(url.strip())
    raw = unquote(parsed.path) if parsed.scheme.lower() == "file" else url.strip()
    return PureWindowsPath(raw).name if "\\" in raw else PurePosixPath(raw).name


@dataclass
class Found:
    """The outcome of relinking one name: the file, or why there is none."""

    path: Path | None
    reason: str = ""  # "" when found; "not found under …" / "ambiguous: …"
    candidates: list[Path] = field(default_factory=list)


class Relinker:
    """Finds media files by name under a folder (and beside the timeline), indexed once."""

    def __init__(self, folder: Path | None, beside: Path | None = None) -> None:
        """``folder`` is searched with its sub-folders; ``beside`` (the timeline's own
        folder) alone, and only when :meth:`find` is asked to."""
        self.folder = folder if folder is not None and folder.is_dir() else None
        self.beside = beside if beside is not None and beside.is_dir() else None
        self._index: dict[tuple[Path, int | None], dict[str, list[Path]]] = {}

    def find(self, name: str, *, beside: bool = False, size: int | None = None) -> Found:
        """The one file called ``name`` (or of that stem) in the first folder holding any.

        ``beside``: look in the timeline's folder too (for clips that name no path).
        """
        if not name:
            return Found(None, "the timeline names no media")
        folders: list[tuple[Path, int | None]] = [(self.folder, None)] if self.folder else []
        if beside and self.beside is not None:
            folders.append((self.beside, 0))
        key = name.casefold()
        for folder, depth in folders:
            index = self._folder_index(folder, depth)
            matches = index.get(key) or ([] if Path(key).suffix else index.get("stem:" + key, []))
            if not matches:
                continue
            if len(matches) > 1 and size is not None:
                sized = [m for m in matches if _size(m) == size]
                matches = sized or matches
            if len(matches) == 1:
                return Found(matches[0])
            listed = ", ".join(str(m) for m in matches[:4]) + ("…" if len(matches) > 4 else "")
            return Found(None, f"ambiguous: {len(matches)} files named {name} ({listed})", matches)
        if not folders:
            return Found(None, "no folder to relink from (give one with --relink)")
        where = " or ".join(str(f) for f, _ in folders)
        return Found(None, f"not found under {where}")

    def _folder_index(self, folder: Path, depth: int | None) -> dict[str, list[Path]]:
        if (folder, depth) not in self._index:
            index: dict[str, list[Path]] = {}
            for path in _walk(folder, depth):
                index.setdefault(path.name.casefold(), []).append(path)
                if path.suffix.lower() in MEDIA_SUFFIXES:
                    index.setdefault("stem:" + path.stem.casefold(), []).append(path)
            for paths in index.values():
                paths.sort()
            self._index[folder, depth] = index
        return self._index[folder, depth]


def _walk(folder: Path, depth: int | None) -> list[Path]:
    """Files under ``folder`` (``depth`` levels of sub-folders; hidden ones skipped)."""
    found: list[Path] = []
    start = len(folder.parts)
    for root, dirs, files in os.walk(folder):
        level = len(Path(root).parts) - start
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIPPED_DIRS and (depth is None or level < depth)
        ]
        found.extend(Path(root) / f for f in files if not f.startswith("."))
    return found


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None

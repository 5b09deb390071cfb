"""A batch's inputs: the files of a folder, and the template placeholder they go into.

The folder is read once, not recursively, sorted by name. Files a person would not call
inputs (hidden files, ``.DS_Store``, downloads still in progress) are ignored outright;
files that are inputs but cannot be used (wrong media type, unreadable, empty) become
items with a ``problem`` so the summary says why they were left out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError, UsageError
from ..templates import Kind, Parameter, Template

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".exr"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
# Files being written by a browser, rsync or a copy: never inputs, not even skipped ones.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp")
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "icon\r"})
# What each media placeholder takes: a mask is a black-and-white image.
ACCEPTS = {Kind.IMAGE: "image", Kind.MASK: "image", Kind.VIDEO: "video"}


@dataclass(frozen=True)
class InputFile:
    """One file of the folder; ``problem`` says why it cannot be used (None: usable)."""

    path: Path
    problem: str | None = None

    @property
    def name(self) -> str:
        """The file name shown in summaries."""
        return self.path.name


def media_type(path: Path) -> str | None:
    """``image`` or ``video`` from the file extension, None for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def is_ignored(name: str) -> bool:
    """Hidden files, system files and partial downloads are not inputs."""
    lowered = name.lower()
    return (
        name.startswith((".", "~$"))
        or lowered in SYSTEM_FILES
        or lowered.endswith(PARTIAL_SUFFIXES)
    )


def media_parameter(template: Template, input_param: str | None = None) -> Parameter:
    """The media placeholder the folder's files go into.

    A template without one is a usage error (nothing to feed); with several, the caller
    names one with ``--input-param``.
    """
    media = [p for p in template.parameters.values() if p.kind.is_media]
    if input_param is not None:
        wanted = input_param.strip().lower().replace("-", "_")
        for param in media:
            if param.name == wanted:
                return param
        names = ", ".join(p.name for p in media) or "none"
        raise ParameterError(
            f"{template.name} has no media input {input_param!r}; its media inputs: {names}.",
            hint=f"See its inputs with: comfycine workflow show {template.name}",
        )
    if not media:
        raise UsageError(
            f"Template {template.name} takes no image or video input, so a folder of files "
            "has nowhere to go.",
            hint="Choose a template with a PARAM_IMAGE or PARAM_VIDEO input "
            "(see: comfycine workflow list), or render it with: comfycine generate "
            f"{template.name}",
            code="no_media_input",
            details={"template": template.name},
        )
    if len(media) > 1:
        names = ", ".join(p.name for p in media)
        raise UsageError(
            f"Template {template.name} takes several media inputs ({names}); which one "
            "do the folder's files go into?",
            hint=f"Name it with --input-param (one of: {names}); set the others with --set.",
            code="ambiguous_media_input",
            details={"template": template.name, "inputs": [p.name for p in media]},
        )
    return media[0]


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _problem(path: Path, param: Parameter, template: str) -> str | None:
    """Why ``path`` cannot go into ``param`` (without reading it), or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "unreadable: a broken link or a file removed meanwhile"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    found = media_type(path)
    wanted = ACCEPTS[param.kind]
    if found is None:
        suffix = path.suffix.lower() or "no extension"
        return f"not an image or video file ({suffix})"
    if found != wanted:
        return f"{_a(found)}, but {template} takes {_a(wanted)} in '{param.name}'"
    if info.st_size == 0:
        return "empty file (still being copied?)"
    return None


def discover_inputs(folder: Path, param: Parameter, template: str) -> list[InputFile]:
    """Every input file of ``folder`` (not recursive), sorted by name.

    Sub-folders are not entered. Raises UsageError when the folder is missing or holds
    no input at all (``empty_folder``).
    """
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(
            f"{folder} {reason}.",
            hint="Give the folder holding the images or videos to render.",
            code="folder_not_found",
            details={"folder": str(folder)},
        )
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise UsageError(
            f"{folder} cannot be read: {exc.strerror or exc}.",
            hint="Check the folder's permissions.",
            code="folder_not_found",
            details={"folder": str(folder)},
        ) from exc
    found: list[InputFile] = []
    for name in names:
        path = folder / name
        if is_ignored(name) or path.is_dir():
            continue
        found.append(InputFile(path.absolute(), _problem(path, param, template)))
    if not found:
        raise UsageError(
            f"{folder} holds no input files (hidden files and partial downloads are "
            "ignored; sub-folders are not entered).",
            hint=f"Put the {ACCEPTS[param.kind]}s to render in {folder}.",
            code="empty_folder",
            details={"folder": str(folder)},
        )
    return found

"""Fixtures for the timeline tests: sample timelines staged beside real media."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ..takes.clips import make_clip

FIXTURES = Path(__file__).parent.parent / "fixtures" / "timelines"
MEDIA = ("shot010.mov", "shot020.mov", "shot030.mov")
Stage = Callable[..., Path]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample timelines' media, made once: 24 frames of 160×90 each."""
    folder = tmp_path_factory.mktemp("media")
    for name in MEDIA:
        make_clip(folder / name, frames=24, size=(160, 90))
    return folder


@pytest.fixture
def stage(tmp_path: Path, media_dir: Path) -> Stage:
    """Copy a sample timeline into a fresh folder, its media beside it unless told not to.

    ``rewrite=True`` points the copy's ``/Volumes/Media/`` URLs at that folder.
    """

    def staged(name: str, *, media: bool = True, rewrite: bool = False) -> Path:
        folder = tmp_path / "edit"
        folder.mkdir(exist_ok=True)
        target = folder / name
        text = (FIXTURES / name).read_text(encoding="utf-8")
        if rewrite:
            text = text.replace("/Volumes/Media/", f"{folder.as_posix()}/")
        target.write_text(text, encoding="utf-8")
        if media:
            for file in MEDIA:
                shutil.copy(media_dir / file, folder / file)
        return target

    return staged

"""Input discovery: which files of a folder a batch takes, and where they go."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.batch.inputs import discover_inputs, is_ignored, media_parameter
from comfycine.errors import ParameterError, UsageError
from comfycine.templates import Template
from tests.batch.support import make_pngs, make_template, media_graph


@pytest.fixture
def image_template(tmp_path: Path) -> Template:
    """A template taking one image."""
    return make_template(tmp_path / "wf", "oneimage", media_graph("PARAM_IMAGE_INPUT"))


def test_files_sorted_hidden_and_partial_ignored(tmp_path: Path, image_template: Template) -> None:
    """Regular files sorted by name; hidden, system and partial files and sub-folders left out."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    for name in (".DS_Store", ".hidden.png", "clip.mp4.part", "x.png.crdownload", "Thumbs.db"):
        (folder / name).write_bytes(b"x")
    (folder / "sub").mkdir()
    make_pngs(folder / "sub", 1)
    param = media_parameter(image_template)
    found = discover_inputs(folder, param, image_template.name)
    assert [f.name for f in found] == ["shot00.png", "shot01.png", "shot02.png"]
    assert all(f.problem is None and f.path.is_absolute() for f in found)


def test_wrong_type_unknown_and_empty_files_have_a_reason(
    tmp_path: Path, image_template: Template
) -> None:
    """A video for an image input, a text file and an empty file are listed with why."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    (folder / "clip.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  ")
    (folder / "notes.txt").write_text("shot list")
    (folder / "copying.jpg").write_bytes(b"")
    found = {
        f.name: f.problem for f in discover_inputs(folder, media_parameter(image_template), "t")
    }
    assert found["shot00.png"] is None
    assert found["clip.mov"] == "a video, but t takes an image in 'input'"
    assert found["notes.txt"] == "not an image or video file (.txt)"
    assert found["copying.jpg"] is not None and "empty" in found["copying.jpg"]


def test_broken_link_is_unreadable(tmp_path: Path, image_template: Template) -> None:
    """A symlink to nothing is an unreadable item, not a crash."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    (folder / "ghost.png").symlink_to(tmp_path / "nowhere.png")
    found = {
        f.name: f.problem for f in discover_inputs(folder, media_parameter(image_template), "t")
    }
    assert found["ghost.png"] is not None and found["ghost.png"].startswith("unreadable")


def test_video_input_takes_videos_only(tmp_path: Path) -> None:
    """A PARAM_VIDEO placeholder takes .mp4/.mov and refuses a still."""
    template = make_template(tmp_path / "wf", "vid", media_graph("PARAM_VIDEO_CLIP"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"mp4")
    (folder / "b.MOV").write_bytes(b"mov")
    make_pngs(folder, 1)
    found = {f.name: f.problem for f in discover_inputs(folder, media_parameter(template), "vid")}
    assert found["a.mp4"] is None and found["b.MOV"] is None
    assert found["shot00.png"] == "an image, but vid takes a video in 'clip'"


def test_empty_and_missing_folders_are_usage_errors(
    tmp_path: Path, image_template: Template
) -> None:
    """No input files at all (only hidden ones) or no folder: exit 2 with a named code."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"x")
    param = media_parameter(image_template)
    with pytest.raises(UsageError) as empty:
        discover_inputs(folder, param, "t")
    assert empty.value.code == "empty_folder" and empty.value.exit_code == 2
    with pytest.raises(UsageError) as missing:
        discover_inputs(tmp_path / "nope", param, "t")
    assert missing.value.code == "folder_not_found"


def test_template_without_media_input_is_refused(tmp_path: Path) -> None:
    """Zero media placeholders: a usage error naming the template."""
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    template = make_template(tmp_path, "nomedia", graph)
    with pytest.raises(UsageError) as info:
        media_parameter(template)
    assert info.value.code == "no_media_input" and "nomedia" in info.value.message


def test_several_media_inputs_need_input_param(tmp_path: Path) -> None:
    """Two media placeholders: --input-param chooses; without it, or naming another, refused."""
    template = make_template(tmp_path, "two", media_graph("PARAM_VIDEO_SOURCE", "PARAM_MASK_MATTE"))
    with pytest.raises(UsageError) as info:
        media_parameter(template)
    assert info.value.code == "ambiguous_media_input"
    assert "--input-param" in info.value.hint
    assert media_parameter(template, "source").name == "source"
    with pytest.raises(ParameterError):
        media_parameter(template, "prompt")


def test_ignored_names() -> None:
    """Partial downloads and system files are not inputs; ordinary names are."""
    assert is_ignored("clip.MP4.part") and is_ignored("desktop.ini") and is_ignored("~$x.png")
    assert not is_ignored("shot_010.png")

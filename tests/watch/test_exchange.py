"""The exchange folder: layout, template choice, naming, filing inputs."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from comfycine.errors import JobFailed, UsageError
from comfycine.templates import load_template, template_dirs
from comfycine.watch.exchange import (
    Exchange,
    fail_input,
    finish_input,
    media_parameter,
    move_aside,
    place_file,
    reason_path,
    resolve_item,
    scan_inputs,
)


def test_missing_folders_are_created_and_reported(tmp_path: Path) -> None:
    """ensure() makes root, input/, output/, failed/ and says which; a second call: none."""
    exchange = Exchange(tmp_path / "Exchange")
    created = exchange.ensure()
    assert created == [exchange.root, exchange.input_dir, exchange.output_dir, exchange.failed_dir]
    assert all(folder.is_dir() for folder in created)
    assert exchange.ensure() == []


def test_exchange_on_a_missing_drive_is_not_created(tmp_path: Path) -> None:
    """A root whose parent is missing (unmounted drive) is an error, not a new folder."""
    exchange = Exchange(tmp_path / "Volumes" / "RAID" / "Exchange")
    with pytest.raises(UsageError) as caught:
        exchange.ensure()
    assert caught.value.code == "exchange_unavailable"
    assert not (tmp_path / "Volumes").exists()


def test_template_comes_from_the_subfolder_or_the_flag() -> None:
    """input/upscale/a/b.mov → upscale, inner a/b.mov; --template wins and keeps the path."""
    item = resolve_item(PurePosixPath("upscale/scene1/plan12.mov"), None)
    assert (item.template, item.inner) == ("upscale", PurePosixPath("scene1/plan12.mov"))
    fixed = resolve_item(PurePosixPath("scene1/plan12.mov"), "testblur")
    assert (fixed.template, fixed.inner) == ("testblur", PurePosixPath("scene1/plan12.mov"))


def test_file_at_the_top_of_input_needs_a_template() -> None:
    """Without --template a file directly in input/ is an error naming both remedies."""
    with pytest.raises(UsageError) as caught:
        resolve_item(PurePosixPath("plan12.mov"), None)
    assert caught.value.code == "no_template"
    assert "--template" in caught.value.hint


def test_outputs_are_named_after_the_input() -> None:
    """plan12.mov rendered by upscale as mp4 → plan12.upscale.mp4, in the inner folder."""
    item = resolve_item(PurePosixPath("upscale/plan12.mov"), None)
    assert item.output_name("MP4") == PurePosixPath("plan12.upscale.mp4")
    nested = resolve_item(PurePosixPath("upscale/scene1/plan12.mov"), None)
    assert nested.output_name("mp4") == PurePosixPath("scene1/plan12.upscale.mp4")


def test_place_file_never_overwrites(tmp_path: Path) -> None:
    """Taken names get -2, -3; existing files keep their bytes; a hard link is reused."""
    out = tmp_path / "output"
    out.mkdir()
    (out / "plan12.upscale.png").write_bytes(b"older")
    first, second = tmp_path / "r1.png", tmp_path / "r2.png"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    placed_first = place_file(first, out / "plan12.upscale.png")
    placed_second = place_file(second, out / "plan12.upscale.png")
    assert placed_first.name == "plan12.upscale-2.png"
    assert placed_second.name == "plan12.upscale-3.png"
    assert (out / "plan12.upscale.png").read_bytes() == b"older"
    assert placed_second.read_bytes() == b"two"
    assert place_file(first, out / "plan12.upscale.png") == placed_first


def test_move_aside_keeps_both_files_and_a_free_companion(tmp_path: Path) -> None:
    """A taken name (or a taken reason name) moves the file to -2; nothing is replaced."""
    source = tmp_path / "a.mov"
    source.write_bytes(b"new")
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "a.mov.json").write_text("{}")
    moved = move_aside(source, failed / "a.mov", companion=reason_path)
    assert moved.name == "a-2.mov" and moved.read_bytes() == b"new"
    assert not source.exists()
    with pytest.raises(FileNotFoundError):
        move_aside(source, failed / "a.mov")


def test_failed_input_moves_with_its_reason(tmp_path: Path) -> None:
    """fail_input: failed/<same path> plus <name>.json with code, message, hint, diagnosis."""
    exchange = Exchange(tmp_path / "ex")
    exchange.ensure()
    (exchange.input_dir / "upscale").mkdir()
    (exchange.input_dir / "upscale" / "plan12.mov").write_bytes(b"frames")
    error = JobFailed("node 3 failed: RuntimeError: boom", details={"node": "3"})
    moved, reason = fail_input(
        exchange, PurePosixPath("upscale/plan12.mov"), error, template="upscale", job="abc"
    )
    assert moved == exchange.failed_dir / "upscale" / "plan12.mov"
    assert moved.read_bytes() == b"frames"
    assert reason == exchange.failed_dir / "upscale" / "plan12.mov.json"
    data = json.loads(reason.read_text())
    assert data["error"]["code"] == "node_exception"
    assert data["error"]["message"] == "node 3 failed: RuntimeError: boom"
    assert data["error"]["hint"]
    assert data["diagnosis"]["code"]
    assert data["template"] == "upscale" and data["job"] == "abc"
    assert "input/upscale/" in data["retry"]


def test_reason_file_redacts_secrets(tmp_path: Path) -> None:
    """A configured secret inside an error message never reaches the reason file."""
    exchange = Exchange(tmp_path / "ex")
    exchange.ensure()
    (exchange.input_dir / "a.png").write_bytes(b"x")
    error = JobFailed("bad key sk-secret-1234 refused")
    _, reason = fail_input(exchange, PurePosixPath("a.png"), error, secrets=("sk-secret-1234",))
    assert "sk-secret-1234" not in reason.read_text()


def test_finished_input_moves_to_done(tmp_path: Path) -> None:
    """finish_input moves the file to input/.done/<same path>."""
    exchange = Exchange(tmp_path / "ex")
    exchange.ensure()
    (exchange.input_dir / "testblur").mkdir()
    (exchange.input_dir / "testblur" / "a.png").write_bytes(b"x")
    moved = finish_input(exchange, PurePosixPath("testblur/a.png"))
    assert moved == exchange.done_dir / "testblur" / "a.png"


def test_scan_skips_clutter_done_and_partial_files(tmp_path: Path) -> None:
    """Dot-files, AppleDouble, .done/, *.part and *.crdownload are never inputs."""
    exchange = Exchange(tmp_path / "ex")
    exchange.ensure()
    folder = exchange.input_dir / "testblur"
    (folder / ".done").mkdir(parents=True)
    for name in ("a.png", ".DS_Store", "._a.png", "b.png.part", "c.mov.crdownload"):
        (folder / name).write_bytes(b"x")
    (folder / ".done" / "old.png").write_bytes(b"x")
    assert [str(rel) for rel, _ in scan_inputs(exchange.input_dir)] == ["testblur/a.png"]


def test_media_parameter_matches_the_file_kind() -> None:
    """testblur takes an image: a PNG feeds `input`, a video or a text file is refused."""
    template = load_template("testblur", template_dirs(None))
    assert media_parameter(template, Path("a.png")) == "input"
    with pytest.raises(UsageError) as video:
        media_parameter(template, Path("plan12.mov"))
    assert video.value.code == "wrong_media_type"
    assert "plan12.mov is a video" in video.value.message
    with pytest.raises(UsageError) as text:
        media_parameter(template, Path("notes.txt"))
    assert "not an image or a video" in text.value.message


def test_template_without_media_placeholder_is_refused() -> None:
    """testimage takes no media: a clear error naming the placeholders it would need."""
    template = load_template("testimage", template_dirs(None))
    with pytest.raises(UsageError) as caught:
        media_parameter(template, Path("a.png"))
    assert caught.value.code == "template_without_media"
    assert "PARAM_IMAGE" in caught.value.message

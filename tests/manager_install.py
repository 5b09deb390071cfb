"""Install the pinned ``comfyui-manager`` from PyPI into the real ComfyUI's cached venv, once.

Every package already in the venv is pinned by a constraints file made from ``pip freeze``,
so the install only adds Manager and its own dependencies (GitPython, PyGithub, uv, ...):
torch and ComfyUI's requirements stay as built. A marker next to the build's own
(``manager.json``) records the Manager version and the build it went into; a rebuilt venv
or another version means installing again. Concurrent sessions wait on the build's lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from comfycine.localserver import ServerInstall

MANAGER_VERSION = "4.3"
INSTALL_TIMEOUT = 900.0
LOCK_TIMEOUT = 3600.0
PIP_FLAGS = ("--disable-pip-version-check", "--no-input", "--progress-bar", "off")
MARKER = "manager.json"
CONSTRAINTS = "manager-constraints.txt"
LOG = "manager-build.log"


@dataclass(frozen=True)
class ManagerInstall:
    """Where the installed Manager's bundled DB is, and the constraints that pin the venv."""

    version: str
    bundled_dir: Path
    constraints: Path


def _build_identity(install: ServerInstall) -> str:
    """A digest of the build's own marker: it changes whenever the venv is rebuilt."""
    marker = install.root / "install.json"
    return hashlib.sha256(marker.read_bytes()).hexdigest() if marker.is_file() else ""


def _read_marker(install: ServerInstall) -> ManagerInstall | None:
    try:
        data = json.loads((install.root / MARKER).read_text(encoding="utf-8"))
        found = ManagerInstall(
            str(data["version"]), Path(data["bundled_dir"]), install.root / CONSTRAINTS
        )
        build = str(data["build"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    current = (
        found.version == MANAGER_VERSION
        and build == _build_identity(install)
        and (found.bundled_dir / "__init__.py").is_file()
        and found.constraints.is_file()
    )
    return found if current else None


@contextlib.contextmanager
def _build_lock(install: ServerInstall, log: Callable[[str], None]) -> Iterator[None]:
    """The lock the ComfyUI build holds (flock), taken with a bounded wait."""
    import fcntl  # POSIX only, like the build's own lock

    install.root.mkdir(parents=True, exist_ok=True)
    with open(install.root / ".build.lock", "a+b") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    log("Another process holds the real ComfyUI's build lock; waiting.")
                    announced = True
                if time.monotonic() > deadline:
                    raise TimeoutError("waiting for the real ComfyUI's build lock") from None
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], log_path: Path, cwd: Path | None = None) -> str:
    """Run ``cmd`` (bounded), its output appended to the log; return stdout or raise."""
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(f"\n$ {' '.join(cmd)}\n")
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd[1:4])} failed (see {log_path}):\n{tail}")
    return result.stdout


def _pinned(freeze: str) -> str:
    """``name==version`` lines of a ``pip freeze`` (editable or URL installs dropped)."""
    return "".join(f"{line}\n" for line in freeze.splitlines() if "==" in line)


def ensure_manager(install: ServerInstall, log: Callable[[str], None]) -> ManagerInstall:
    """Install comfyui-manager MANAGER_VERSION into the built venv unless already there."""
    found = _read_marker(install)
    if found is not None:
        return found
    with _build_lock(install, log):
        found = _read_marker(install)
        if found is not None:
            return found
        started = time.monotonic()
        log(f"Installing comfyui-manager {MANAGER_VERSION} into {install.python.parent.parent}")
        log_path = install.root / LOG
        log_path.write_text(f"comfyui-manager {MANAGER_VERSION}\n", encoding="utf-8")
        python = str(install.python)
        constraints = install.root / CONSTRAINTS
        constraints.write_text(_pinned(_run([python, "-m", "pip", "freeze"], log_path)))
        requirement = f"comfyui-manager=={MANAGER_VERSION}"
        _run(
            [python, "-m", "pip", "install", *PIP_FLAGS, requirement, "-c", str(constraints)],
            log_path,
        )
        # find_spec locates the package without running its __init__ (which needs ComfyUI).
        where = "import importlib.util as u; print(u.find_spec('comfyui_manager').origin)"
        origin = Path(_run([python, "-c", where], log_path, cwd=install.comfy_dir).strip())
        found = ManagerInstall(MANAGER_VERSION, origin.parent, constraints)
        marker = {
            "version": MANAGER_VERSION,
            "bundled_dir": str(found.bundled_dir),
            "build": _build_identity(install),
            "seconds": round(time.monotonic() - started, 1),
        }
        partial = install.root / (MARKER + ".partial")
        partial.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, install.root / MARKER)
        log(f"comfyui-manager {MANAGER_VERSION} installed in {marker['seconds']:.0f} s")
        return found

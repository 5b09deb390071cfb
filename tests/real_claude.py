"""A real Claude Code CLI, installed from the npm registry into the tests' cache.

The plugin tests validate the manifests against a schema written from Claude Code's
documentation; this runs the real ``claude`` on them too (``plugin validate``,
``marketplace add``, ``install``), as the README tells the filmmaker to. Installed once
per version (~235 MB with its native binary) next to the real ComfyUI; without npm or
the registry the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_server import real_cache_dir

CLAUDE_CODE_VERSION = "2.1.197"  # the version these tests were written against
INSTALL_TIMEOUT = 600
CALL_TIMEOUT = 120


def install_claude_code() -> Path | str:
    """The ``claude`` executable in the cache (installed if need be), or why there is none."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    folder = real_cache_dir() / f"claude-code-{CLAUDE_CODE_VERSION}"
    binary = folder / "node_modules" / ".bin" / "claude"
    if binary.exists():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(folder),
                "--no-audit",
                "--no-fund",
                f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return f"npm install @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION} failed: {exc}"
    return binary if binary.exists() else "the package installed no claude executable"


class ClaudeCode:
    """The real ``claude`` with its own home folder (nothing of this machine's is read)."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary, self.home = binary, home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            # No traffic but what a command needs (plugins from folders need none).
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``claude ARGS`` to its end, output captured."""
        return subprocess.run(
            [str(self.binary), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=CALL_TIMEOUT,
            check=False,
        )


@pytest.fixture(scope="session")
def claude_code_binary() -> Path:
    """The real ``claude`` executable (skips the test when it cannot be installed)."""
    found = install_claude_code()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture
def claude_code(claude_code_binary: Path, tmp_path: Path) -> Iterator[ClaudeCode]:
    """The real ``claude``, its home a fresh folder."""
    home = tmp_path / "home"
    home.mkdir()
    yield ClaudeCode(claude_code_binary, home)

"""A fake ``tailscale`` executable for tests: prints a recorded ``status --json`` state.

The states live in ``tests/fixtures/tailscale/`` (hand-written in the shape of
``ipnstate.Status``, see the README there). The fake exits with the code it is told,
so a test can prove that only the JSON is trusted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

STATES = Path(__file__).parent / "fixtures" / "tailscale"


def state_text(name: str) -> str:
    """The recorded ``status --json`` output called ``name`` (``healthy``, ``stopped``…)."""
    return (STATES / f"{name}.json").read_text(encoding="utf-8")


def write_fake_tailscale(
    directory: Path,
    *,
    state: str | None,
    exit_code: int = 0,
    stderr: str = "",
    sleep: float = 0.0,
) -> Path:
    """Write ``directory/tailscale``: prints ``state`` (None: nothing) and exits.

    It answers ``status --json`` only; any other arguments exit 2 (the doctor must not
    run other subcommands).
    """
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "tailscale"
    payload = str(STATES / f"{state}.json") if state else ""
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "if sys.argv[1:] != ['status', '--json']:\n"
        "    sys.exit(2)\n"
        f"time.sleep({sleep!r})\n"
        f"if {payload!r}:\n"
        f"    sys.stdout.write(open({payload!r}, encoding='utf-8').read())\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def put_first_on_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Make ``directory`` the first PATH entry for the rest of the test."""
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")

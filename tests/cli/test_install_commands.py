"""comfycine install-commands from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke


def test_user_install_writes_every_command(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--user installs the seven commands into ~/.claude/commands, then reports unchanged."""
    monkeypatch.setenv("HOME", str(tmp_path))
    result = invoke("install-commands", "--user", "--json")
    assert result.exit_code == 0, result
    installed = sorted(p.name for p in (tmp_path / ".claude" / "commands").glob("*.md"))
    assert len(installed) == 7 and "comfy-generate.md" in installed
    again = invoke("install-commands", "--json").envelope()["data"]["files"]
    assert {f["action"] for f in again} == {"unchanged"}


def test_project_install(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--project installs into ./.claude/commands."""
    monkeypatch.chdir(tmp_path)
    assert invoke("install-commands", "--project").exit_code == 0
    assert (tmp_path / ".claude" / "commands" / "comfy-debug.md").is_file()


def test_both_scopes_is_a_usage_error(isolation: Isolation) -> None:
    """--user with --project → exit 2."""
    assert invoke("install-commands", "--user", "--project").exit_code == 2

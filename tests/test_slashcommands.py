"""install-commands: idempotent, updates our old versions, keeps the filmmaker's edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.errors import UsageError
from comfycine.slashcommands import commands_dir, install_commands, shipped_commands_dir


def _source(tmp_path: Path, text: str = "v1\n") -> Path:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "comfy-x.md").write_text(text)
    return source


def _actions(result: object) -> dict[str, str]:
    return {f["name"]: f["action"] for f in result.files}  # type: ignore[attr-defined]


def test_the_shipped_commands_are_found() -> None:
    """The checkout's commands/ holds the seven files."""
    assert len(list(shipped_commands_dir().glob("comfy-*.md"))) == 7


def test_first_install_then_nothing_changes(tmp_path: Path) -> None:
    """Installing twice: installed, then unchanged."""
    source, dest = _source(tmp_path), tmp_path / "dest"
    assert _actions(install_commands(dest, source=source)) == {"comfy-x.md": "installed"}
    assert _actions(install_commands(dest, source=source)) == {"comfy-x.md": "unchanged"}
    assert (dest / "comfy-x.md").read_text() == "v1\n"


def test_our_old_version_is_updated(tmp_path: Path) -> None:
    """A file still as we installed it is replaced by the new version."""
    dest = tmp_path / "dest"
    install_commands(dest, source=_source(tmp_path, "v1\n"))
    result = install_commands(dest, source=_source(tmp_path, "v2\n"))
    assert _actions(result) == {"comfy-x.md": "updated"}
    assert (dest / "comfy-x.md").read_text() == "v2\n"


def test_an_edited_file_is_kept_unless_forced(tmp_path: Path) -> None:
    """The filmmaker's edit survives an update; --force replaces it."""
    dest = tmp_path / "dest"
    install_commands(dest, source=_source(tmp_path, "v1\n"))
    (dest / "comfy-x.md").write_text("my own version\n")
    result = install_commands(dest, source=_source(tmp_path, "v2\n"))
    assert result.kept == ["comfy-x.md"]
    assert (dest / "comfy-x.md").read_text() == "my own version\n"
    forced = install_commands(dest, source=_source(tmp_path, "v2\n"), force=True)
    assert _actions(forced) == {"comfy-x.md": "replaced"}
    assert (dest / "comfy-x.md").read_text() == "v2\n"


def test_a_foreign_file_of_the_same_name_is_kept(tmp_path: Path) -> None:
    """A file we never installed is never replaced without --force."""
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "comfy-x.md").write_text("someone else's\n")
    assert install_commands(dest, source=_source(tmp_path)).kept == ["comfy-x.md"]


def test_scopes(tmp_path: Path) -> None:
    """--user → ~/.claude/commands, --project → ./.claude/commands."""
    assert commands_dir("user", home=tmp_path) == tmp_path / ".claude" / "commands"
    assert commands_dir("project", cwd=tmp_path) == tmp_path / ".claude" / "commands"
    with pytest.raises(UsageError):
        commands_dir("global")

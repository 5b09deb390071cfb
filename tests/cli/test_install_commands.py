"""comfycine install-commands from the command line."""

from __future__ import annotations

import json
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


def test_the_skill_is_installed_too(isolation: Isolation) -> None:
    """The default install writes ~/.claude/skills/comfycine/SKILL.md beside the commands;
    a second run leaves it unchanged, --force rewrites an edited one."""
    home = isolation.root / "home"
    result = invoke("install-commands", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    skill = home / ".claude" / "skills" / "comfycine" / "SKILL.md"
    assert skill.is_file() and data["skills_dest"] == str(skill.parent.parent)
    assert {"name": "comfycine/SKILL.md", "path": str(skill), "action": "installed"} in data[
        "files"
    ]
    skill.write_text("my notes\n")
    kept = invoke("install-commands", "--json").envelope()["data"]
    assert kept["kept"] == ["comfycine/SKILL.md"] and skill.read_text() == "my notes\n"
    forced = invoke("install-commands", "--force", "--json").envelope()["data"]
    assert {f["name"]: f["action"] for f in forced["files"]}["comfycine/SKILL.md"] == "replaced"
    assert skill.read_text().startswith("---\nname: comfycine\n")


def test_project_install_writes_the_skill_under_the_project(isolation: Isolation) -> None:
    """--project: ./.claude/skills/comfycine/SKILL.md."""
    assert invoke("install-commands", "--project").exit_code == 0
    assert (isolation.root / ".claude" / "skills" / "comfycine" / "SKILL.md").is_file()


def test_remove_takes_the_copy_away(isolation: Isolation) -> None:
    """--remove deletes the commands and the skill it installed; nothing else."""
    home = isolation.root / "home"
    invoke("install-commands")
    (home / ".claude" / "commands" / "mine.md").write_text("the filmmaker's own\n")
    result = invoke("install-commands", "--remove")
    assert result.exit_code == 0, result
    assert "removed" in result.stdout and "Claude Code: comfycine is not installed" in result.stderr
    assert [p.name for p in (home / ".claude" / "commands").iterdir()] == ["mine.md"]
    assert not (home / ".claude" / "skills" / "comfycine").exists()


def test_a_copy_beside_the_plugin_is_reported(isolation: Isolation) -> None:
    """With the plugin enabled in Claude Code, the install says both are loaded, which one
    a typed command runs, and how to remove either; exit 0 all the same."""
    settings = isolation.root / "home" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"enabledPlugins": {"comfycine@comfycine": True}}))
    human = invoke("install-commands")
    assert human.exit_code == 0, human
    assert "Warning: comfycine is installed twice" in human.stderr
    assert "comfycine install-commands --remove" in human.stderr
    assert "claude plugin uninstall comfycine@comfycine" in human.stderr
    claude = invoke("install-commands", "--json").envelope()["data"]["claude"]
    assert [p["code"] for p in claude["problems"]] == ["copy_beside_plugin"]
    assert claude["plugins"][0]["id"] == "comfycine@comfycine"

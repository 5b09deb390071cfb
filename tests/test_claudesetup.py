"""What of comfycine Claude Code has, read from fake ~/.claude and ./.claude trees: the
plugin (once, twice), copies, and which one a request reaches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from comfycine.claudesetup import ClaudeSetup, find_setup
from comfycine.slashcommands import (
    commands_dir,
    install_commands,
    install_skills,
    shipped_commands_dir,
    skills_dir,
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home folder with a ~/.claude."""
    (tmp_path / "home" / ".claude").mkdir(parents=True)
    return tmp_path / "home"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (the current directory of the session)."""
    (tmp_path / "film").mkdir()
    return tmp_path / "film"


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def enable(folder: Path, *ids: str, name: str = "settings.json", value: bool = True) -> None:
    write(folder / name, {"enabledPlugins": {i: value for i in ids}, "model": "opus"})


def copy_into(scope: str, home: Path, project: Path) -> None:
    """What ``comfycine install-commands [--project]`` writes."""
    install_commands(commands_dir(scope, home=home, cwd=project, env={}))
    install_skills(skills_dir(scope, home=home, cwd=project, env={}))


def setup(home: Path, project: Path) -> ClaudeSetup:
    return find_setup(home=home, cwd=project, env={})


def codes(found: ClaudeSetup) -> list[str]:
    return [p["code"] for p in found.problems]


def test_nothing_installed(home: Path, project: Path) -> None:
    """No plugin, no copy: nothing to say but that."""
    found = setup(home, project)
    assert (found.plugins, found.copies, found.problems) == ([], [], [])
    assert found.claude_found and found.summary() == "comfycine is not installed"


def test_the_plugin_from_user_settings(home: Path, project: Path) -> None:
    """enabledPlugins names comfycine@<marketplace>: one plugin, no problem; other plugins
    are not ours."""
    enable(home / ".claude", "comfycine@comfycine", "comfycine-extras@comfycine")
    found = setup(home, project)
    assert [p.to_dict() for p in found.plugins] == [
        {"id": "comfycine@comfycine", "scopes": ["user"], "enabled": True, "version": None}
    ]
    assert found.problems == []


def test_the_plugin_from_installed_plugins_json(home: Path, project: Path) -> None:
    """An install the settings do not name yet is read from installed_plugins.json, with
    its version; a project install of another project does not count here."""
    write(
        home / ".claude" / "plugins" / "installed_plugins.json",
        {
            "version": 2,
            "plugins": {
                "comfycine@comfycine": [{"scope": "user", "version": "0.1.0"}],
                "comfycine@elsewhere": [
                    {"scope": "project", "projectPath": str(home / "other-film")}
                ],
            },
        },
    )
    found = setup(home, project)
    assert [(p.id, p.scopes, p.version) for p in found.plugins] == [
        ("comfycine@comfycine", ("user",), "0.1.0")
    ]
    assert found.summary() == "plugin comfycine@comfycine 0.1.0 (user)"


def test_a_plugin_installed_twice(home: Path, project: Path) -> None:
    """Two marketplaces providing comfycine: said, and the other one's uninstall named."""
    enable(home / ".claude", "comfycine@comfycine")
    enable(project / ".claude", "comfycine@my-fork")
    found = setup(home, project)
    assert codes(found) == ["plugin_installed_twice"]
    problem = found.problems[0]
    assert "comfycine@comfycine, comfycine@my-fork" in problem["message"]
    assert problem["fix"].startswith("Keep one: claude plugin uninstall comfycine@my-fork")


def test_a_disabled_duplicate_is_no_conflict(home: Path, project: Path) -> None:
    """A plugin turned off in the local settings loads nothing: no duplicate."""
    enable(home / ".claude", "comfycine@comfycine", "comfycine@my-fork")
    enable(project / ".claude", "comfycine@my-fork", name="settings.local.json", value=False)
    found = setup(home, project)
    assert [p.enabled for p in found.plugins] == [True, False]
    assert found.problems == []
    assert "disabled" in found.summary()


def test_an_old_copy_beside_the_plugin(home: Path, project: Path) -> None:
    """A copy in ~/.claude and the plugin: which one Claude uses, and both removals."""
    enable(home / ".claude", "comfycine@comfycine")
    copy_into("user", home, project)
    found = setup(home, project)
    assert codes(found) == ["copy_beside_plugin"]
    problem = found.problems[0]
    assert "A typed /comfy-generate runs the copy" in problem["message"]
    assert "/comfycine:comfy-generate" in problem["message"]
    assert "comfycine install-commands --remove" in problem["fix"]
    assert "claude plugin uninstall comfycine@comfycine" in problem["fix"]
    [copy] = found.copies
    assert (copy.scope, len(copy.commands), copy.skill, copy.outdated) == ("user", 7, True, False)


def test_a_project_copy_beside_the_plugin_names_project_removal(home: Path, project: Path) -> None:
    """The removal command matches where the copy is."""
    enable(home / ".claude", "comfycine@comfycine")
    copy_into("project", home, project)
    fix = setup(home, project).problems[0]["fix"]
    assert "comfycine install-commands --remove --project" in fix


def test_copies_in_both_scopes(home: Path, project: Path) -> None:
    """Personal and project copies: the personal one is used."""
    copy_into("user", home, project)
    copy_into("project", home, project)
    found = setup(home, project)
    assert codes(found) == ["copied_twice"]
    assert "uses the personal one" in found.problems[0]["message"]


def test_an_outdated_copy(home: Path, project: Path, tmp_path: Path) -> None:
    """A copy still as an older comfycine installed it: update it. An edited file is the
    filmmaker's, not outdated."""
    older = tmp_path / "older"
    shutil.copytree(shipped_commands_dir(), older)
    (older / "comfy-generate.md").write_text("an older version\n")
    install_commands(commands_dir("user", home=home, env={}), source=older)
    found = setup(home, project)
    assert codes(found) == ["copy_outdated"]
    assert found.problems[0]["fix"] == "Update it: comfycine install-commands."
    (home / ".claude" / "commands" / "comfy-generate.md").write_text("my own words\n")
    assert setup(home, project).problems == []


def test_an_outdated_skill(home: Path, project: Path, tmp_path: Path) -> None:
    """The skill as an older comfycine installed it counts as outdated too."""
    older = tmp_path / "older-skills"
    (older / "comfycine").mkdir(parents=True)
    (older / "comfycine" / "SKILL.md").write_text("---\nname: comfycine\n---\nold\n")
    install_skills(skills_dir("user", home=home, env={}), source=older)
    [copy] = setup(home, project).copies
    assert (copy.commands, copy.skill, copy.outdated) == ((), True, True)


def test_started_in_the_home_folder(home: Path) -> None:
    """~/.claude seen as the project's folder too is one copy, not two."""
    copy_into("user", home, home)
    found = setup(home, home)
    assert len(found.copies) == 1 and found.problems == []


def test_broken_files_are_ignored(home: Path, project: Path) -> None:
    """Unreadable or unexpected JSON in Claude Code's files never raises."""
    write(home / ".claude" / "settings.json", "{not json")
    write(home / ".claude" / "plugins" / "installed_plugins.json", {"plugins": ["comfycine"]})
    write(project / ".claude" / "settings.json", {"enabledPlugins": ["comfycine@x"]})
    write(project / ".claude" / "settings.local.json", {"enabledPlugins": {"comfycine@x": 1}})
    assert setup(home, project).plugins == []


def test_claude_config_dir(tmp_path: Path, project: Path) -> None:
    """$CLAUDE_CONFIG_DIR is where the user's settings are, not ~/.claude."""
    config = tmp_path / "claude-work"
    enable(config, "comfycine@comfycine")
    found = find_setup(
        home=tmp_path / "nohome", cwd=project, env={"CLAUDE_CONFIG_DIR": str(config)}
    )
    assert [p.id for p in found.plugins] == ["comfycine@comfycine"]

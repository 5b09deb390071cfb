"""The doctor's claude rung: comfycine in Claude Code, from fake ~/.claude trees."""

from __future__ import annotations

import json
from pathlib import Path

from comfycine.doctor.claude import check_claude
from comfycine.slashcommands import commands_dir, install_commands, install_skills, skills_dir


def _enable_plugin(home: Path, *ids: str) -> None:
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    settings = {"enabledPlugins": dict.fromkeys(ids, True)}
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))


def test_no_claude_code_is_a_skip_with_the_way_in(tmp_path: Path) -> None:
    """No ~/.claude: skipped, and the fix names the plugin install and the copy."""
    check = check_claude(home=tmp_path, cwd=tmp_path, env={})
    assert (check.status, check.value) == ("skip", "no Claude Code folder")
    assert "claude plugin install comfycine@comfycine" in check.fix
    assert "comfycine install-commands" in check.fix
    assert "marketplace add" in check.fix and not check.failed


def test_one_plugin_is_ok(tmp_path: Path) -> None:
    """The plugin alone: ok, named in the value and the details."""
    _enable_plugin(tmp_path, "comfycine@comfycine")
    check = check_claude(home=tmp_path, cwd=tmp_path / "film", env={})
    assert check.status == "ok" and "plugin comfycine@comfycine" in check.value
    assert check.to_dict()["details"]["plugins"][0]["id"] == "comfycine@comfycine"


def test_a_copy_beside_the_plugin_warns_with_both_fixes(tmp_path: Path) -> None:
    """The plugin and an old copy: a warning (never a failure) naming each removal."""
    _enable_plugin(tmp_path, "comfycine@comfycine")
    install_commands(commands_dir("user", home=tmp_path, env={}))
    install_skills(skills_dir("user", home=tmp_path, env={}))
    check = check_claude(home=tmp_path, cwd=tmp_path / "film", env={})
    assert check.status == "warn" and not check.failed
    assert "installed twice" in check.value
    assert "comfycine install-commands --remove" in check.fix
    assert "claude plugin uninstall comfycine@comfycine" in check.fix


def test_the_plugin_twice_warns(tmp_path: Path) -> None:
    """Two marketplaces: a warning naming the uninstall of the other."""
    _enable_plugin(tmp_path, "comfycine@comfycine", "comfycine@old-fork")
    check = check_claude(home=tmp_path, cwd=tmp_path / "film", env={})
    assert check.status == "warn"
    assert "claude plugin uninstall comfycine@old-fork" in check.fix

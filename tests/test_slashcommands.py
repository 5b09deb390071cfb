"""install-commands: idempotent, updates our old versions, keeps the filmmaker's edits;
the skill the same way; --remove takes only our files."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.errors import UsageError
from comfycine.slashcommands import (
    commands_dir,
    install_commands,
    install_skills,
    remove_installed,
    shipped_commands_dir,
    shipped_skills,
    shipped_skills_dir,
    skills_dir,
)


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
    assert commands_dir("user", home=tmp_path, env={}) == tmp_path / ".claude" / "commands"
    assert commands_dir("project", cwd=tmp_path) == tmp_path / ".claude" / "commands"
    with pytest.raises(UsageError):
        commands_dir("global")


def _skill_source(tmp_path: Path, text: str = "---\nname: x\n---\nv1\n") -> Path:
    source = tmp_path / "skills-src"
    (source / "x").mkdir(parents=True, exist_ok=True)
    (source / "x" / "SKILL.md").write_text(text)
    return source


def test_the_shipped_skill_is_found() -> None:
    """The checkout's skills/ holds the comfycine skill."""
    assert [p.name for p in shipped_skills()] == ["comfycine"]


def test_a_wheel_bundles_beside_the_package(tmp_path: Path) -> None:
    """Installed from a wheel, the bundled _commands and _skills win over a checkout's."""
    package = tmp_path / "comfycine"
    (package / "_commands").mkdir(parents=True)
    (package / "_skills").mkdir()
    assert shipped_commands_dir(package) == package / "_commands"
    assert shipped_skills_dir(package) == package / "_skills"
    (package / "_skills").rmdir()
    assert shipped_skills_dir(package) == tmp_path / "skills"


def test_skill_install_then_nothing_changes(tmp_path: Path) -> None:
    """The skill folder is installed, then unchanged; our old version is updated."""
    dest = tmp_path / "skills"
    result = install_skills(dest, source=_skill_source(tmp_path))
    assert _actions(result) == {"x/SKILL.md": "installed"}
    assert (dest / "x" / "SKILL.md").read_text().endswith("v1\n")
    assert _actions(install_skills(dest, source=_skill_source(tmp_path))) == {
        "x/SKILL.md": "unchanged"
    }
    newer = install_skills(dest, source=_skill_source(tmp_path, "---\nname: x\n---\nv2\n"))
    assert _actions(newer) == {"x/SKILL.md": "updated"}


def test_an_edited_skill_is_kept_unless_forced(tmp_path: Path) -> None:
    """The filmmaker's edit of SKILL.md survives an update; force replaces it."""
    dest = tmp_path / "skills"
    install_skills(dest, source=_skill_source(tmp_path))
    (dest / "x" / "SKILL.md").write_text("mine\n")
    v2 = _skill_source(tmp_path, "v2\n")
    assert install_skills(dest, source=v2).kept == ["x/SKILL.md"]
    assert (dest / "x" / "SKILL.md").read_text() == "mine\n"
    assert _actions(install_skills(dest, source=v2, force=True)) == {"x/SKILL.md": "replaced"}


def test_remove_takes_only_our_files(tmp_path: Path) -> None:
    """--remove deletes what we installed, keeps an edited file and anything else there."""
    commands, skills = tmp_path / "commands", tmp_path / "skills"
    source, skill_source = _source(tmp_path), _skill_source(tmp_path)
    install_commands(commands, source=source)
    install_skills(skills, source=skill_source)
    (commands / "mine.md").write_text("the filmmaker's own\n")
    (skills / "x" / "SKILL.md").write_text("edited\n")
    result = remove_installed(commands, skills, commands_source=source, skills_source=skill_source)
    assert _actions(result) == {"comfy-x.md": "removed", "x/SKILL.md": "kept"}
    assert sorted(p.name for p in commands.iterdir()) == ["mine.md"]
    assert (skills / "x" / "SKILL.md").read_text() == "edited\n"
    forced = remove_installed(
        commands, skills, force=True, commands_source=source, skills_source=skill_source
    )
    assert _actions(forced)["x/SKILL.md"] == "removed" and not (skills / "x").exists()


def test_claude_config_dir_moves_the_user_scope(tmp_path: Path) -> None:
    """$CLAUDE_CONFIG_DIR replaces ~/.claude, as in Claude Code; the project scope stays."""
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "work-claude")}
    assert commands_dir("user", home=tmp_path, env=env) == tmp_path / "work-claude" / "commands"
    assert skills_dir("user", home=tmp_path, env={}) == tmp_path / ".claude" / "skills"
    assert skills_dir("project", cwd=tmp_path, env=env) == tmp_path / ".claude" / "skills"

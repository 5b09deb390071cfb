"""``install-commands``: copy the Claude Code slash commands and the skill into place, safely.

Shipped in a checkout as ``commands/*.md`` and ``skills/<name>/`` (the same folders the
repository's Claude Code plugin serves), bundled in a wheel as ``comfycine/_commands`` and
``comfycine/_skills``. Installed under Claude Code's folder for one scope: ``user``
(``~/.claude``, or ``$CLAUDE_CONFIG_DIR``: every project) or ``project`` (``./.claude``)::

    commands/<name>.md            one per slash command (/comfy-generate ...)
    commands/.comfycine-commands.json
    skills/comfycine/SKILL.md     the skill Claude loads on its own for a matching request
    skills/comfycine/.comfycine-skill.json

Each manifest records the digest of every file as installed, so a later install can tell
our old version (updated) from a file the filmmaker edited (kept, unless ``force``).
Running it twice changes nothing. :func:`remove_installed` takes our files away again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .envnames import ENV_CLAUDE_CONFIG_DIR
from .errors import UsageError
from .files import write_new_file

MANIFEST = ".comfycine-commands.json"
SKILL_MANIFEST = ".comfycine-skill.json"
SCOPES = ("user", "project")


def _package() -> Path:
    return Path(__file__).resolve().parent


def shipped_commands_dir(package: Path | None = None) -> Path:
    """The shipped command files: bundled in a wheel, ``commands/`` in a checkout."""
    package = package or _package()
    bundled = package / "_commands"
    return bundled if bundled.is_dir() else package.parent / "commands"


def shipped_skills_dir(package: Path | None = None) -> Path:
    """The shipped skills (one folder each): bundled in a wheel, ``skills/`` in a checkout."""
    package = package or _package()
    bundled = package / "_skills"
    return bundled if bundled.is_dir() else package.parent / "skills"


def claude_dir(
    scope: str,
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Claude Code's folder for ``scope``: ``user`` (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``)
    or ``project`` (``./.claude``)."""
    if scope == "user":
        configured = (os.environ if env is None else env).get(ENV_CLAUDE_CONFIG_DIR)
        if configured:
            return Path(configured).expanduser()
        return (home or Path.home()) / ".claude"
    if scope == "project":
        return (cwd or Path.cwd()) / ".claude"
    raise UsageError(f"Unknown scope {scope!r}.", hint="Use --user or --project.")


def commands_dir(
    scope: str,
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Where Claude Code reads slash commands for ``scope``."""
    return claude_dir(scope, home=home, cwd=cwd, env=env) / "commands"


def skills_dir(
    scope: str,
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Where Claude Code reads skills (``<name>/SKILL.md``) for ``scope``."""
    return claude_dir(scope, home=home, cwd=cwd, env=env) / "skills"


@dataclass
class InstallResult:
    """What happened to each file: installed, updated, unchanged, replaced or kept (an
    install); removed, kept or absent (a removal)."""

    dest: Path
    files: list[dict[str, str]] = field(default_factory=list)

    @property
    def kept(self) -> list[str]:
        """Files left alone because the filmmaker edited them."""
        return [f["name"] for f in self.files if f["action"] == "kept"]

    def to_dict(self) -> dict[str, Any]:
        """``data`` of the JSON envelope."""
        return {"dest": str(self.dest), "files": self.files, "kept": self.kept}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _missing(what: str, source: Path) -> UsageError:
    return UsageError(
        f"No {what} found in {source}.",
        hint="Reinstall comfycine (pip install --force-reinstall comfycine).",
        code="commands_missing",
    )


def shipped_commands(source: Path | None = None) -> list[Path]:
    """The command files comfycine ships, by name."""
    return sorted((source or shipped_commands_dir()).glob("*.md"))


def shipped_skills(source: Path | None = None) -> list[Path]:
    """The skill folders comfycine ships (each holds a ``SKILL.md``), by name."""
    root = source or shipped_skills_dir()
    return sorted(p.parent for p in root.glob("*/SKILL.md"))


def _skill_files(skill: Path) -> list[Path]:
    return sorted(p for p in skill.rglob("*") if p.is_file() and p.name != SKILL_MANIFEST)


def install_commands(
    dest: Path, *, force: bool = False, source: Path | None = None
) -> InstallResult:
    """Install every shipped command into ``dest``; an edited file is kept unless ``force``."""
    shipped = shipped_commands(source)
    if not shipped:
        raise _missing("command files", source or shipped_commands_dir())
    files = [(p.name, p) for p in shipped]
    return _install(files, dest, dest / MANIFEST, force, label="")


def install_skills(dest: Path, *, force: bool = False, source: Path | None = None) -> InstallResult:
    """Install every shipped skill into the skills folder ``dest`` (``dest/<name>/…``)."""
    skills = shipped_skills(source)
    if not skills:
        raise _missing("skills", source or shipped_skills_dir())
    result = InstallResult(dest)
    for skill in skills:
        files = [(p.relative_to(skill).as_posix(), p) for p in _skill_files(skill)]
        target = dest / skill.name
        done = _install(files, target, target / SKILL_MANIFEST, force, label=f"{skill.name}/")
        result.files += done.files
    return result


def _install(
    files: list[tuple[str, Path]], dest: Path, manifest_path: Path, force: bool, *, label: str
) -> InstallResult:
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(manifest_path)
    result = InstallResult(dest)
    for name, path in files:
        new = path.read_bytes()
        target = dest / name
        action = _action(target, new, manifest.get(name), force)
        if action in {"installed", "updated", "replaced"}:
            write_new_file(target, new.decode("utf-8"), force=True)
        if action != "kept":
            manifest[name] = _digest(new)
        result.files.append({"name": label + name, "path": str(target), "action": action})
    write_new_file(manifest_path, json.dumps(manifest, indent=1, sort_keys=True), force=True)
    return result


def _action(target: Path, new: bytes, installed_digest: str | None, force: bool) -> str:
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        return "installed"
    if current == new:
        return "unchanged"
    if installed_digest == _digest(current):
        return "updated"  # still the version we installed: safe to replace
    return "replaced" if force else "kept"


def remove_installed(
    commands: Path,
    skills: Path,
    *,
    force: bool = False,
    commands_source: Path | None = None,
    skills_source: Path | None = None,
) -> InstallResult:
    """Remove the commands and skills comfycine installed under ``commands`` and ``skills``.

    A file is ours when it is byte for byte a shipped one or still as we installed it; an
    edited one is kept unless ``force``. Other files in those folders are never touched.
    """
    result = InstallResult(commands)
    shipped = {p.name: p.read_bytes() for p in shipped_commands(commands_source)}
    result.files += _remove(shipped, commands, commands / MANIFEST, force)
    for skill in shipped_skills(skills_source):
        files = {p.relative_to(skill).as_posix(): p.read_bytes() for p in _skill_files(skill)}
        target = skills / skill.name
        done = _remove(files, target, target / SKILL_MANIFEST, force)
        result.files += [{**f, "name": f"{skill.name}/{f['name']}"} for f in done]
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
    return result


def _remove(
    shipped: dict[str, bytes], dest: Path, manifest_path: Path, force: bool
) -> list[dict[str, str]]:
    manifest = _read_manifest(manifest_path)
    files = []
    for name in sorted({*shipped, *manifest}):
        target = dest / name
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            action = "absent"
        else:
            ours = _digest(current) == manifest.get(name) or current == shipped.get(name)
            action = "removed" if ours or force else "kept"
            if action == "removed":
                target.unlink()
        files.append({"name": name, "path": str(target), "action": action})
    manifest_path.unlink(missing_ok=True)  # what is left is the filmmaker's own
    return files

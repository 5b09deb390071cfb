"""What of comfycine Claude Code has: the plugin (from which marketplaces), copies made by
``install-commands``, and which of them a request reaches; and :func:`install_copy`, the
``install-commands`` entry point, which reports the same after copying.

:func:`find_setup` reads a few small files, never the network:

- the plugin: ``enabledPlugins`` (``comfycine@<marketplace>`` → true/false) in the user's
  ``settings.json``, the project's ``.claude/settings.json`` and ``settings.local.json``
  (documented: code.claude.com/docs/en/settings-reference#enabledplugins), and the names
  in ``plugins/installed_plugins.json`` (named only in Claude Code's changelog; its shape
  is undocumented, so only the ``plugins`` keys and, when present, each entry's
  ``scope``, ``version`` and ``projectPath`` are read; anything else is ignored);
- copies: ``commands/comfy-*.md`` and ``skills/comfycine/`` under ``~/.claude`` (or
  ``$CLAUDE_CONFIG_DIR``) and ``./.claude``.

Claude Code namespaces a plugin's commands and skills (``/comfycine:comfy-generate``), so
a copy and the plugin both load: a typed ``/comfy-generate`` runs the copy, and a request
in plain words may load either skill. :attr:`ClaudeSetup.problems` says so, with the
command that removes the other one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .slashcommands import (
    MANIFEST,
    SKILL_MANIFEST,
    claude_dir,
    commands_dir,
    install_commands,
    install_skills,
    remove_installed,
    shipped_commands,
    shipped_skills,
    skills_dir,
)

PLUGIN = "comfycine"
MARKETPLACE = "comfycine"  # the name in this repository's .claude-plugin/marketplace.json
SKILL = "comfycine"
_SETTINGS = (
    ("user", "settings.json"),
    ("project", "settings.json"),
    ("local", "settings.local.json"),
)


@dataclass(frozen=True)
class PluginInstall:
    """comfycine installed from one marketplace (``comfycine@<marketplace>``)."""

    marketplace: str
    scopes: tuple[str, ...]
    enabled: bool
    version: str | None = None

    @property
    def id(self) -> str:
        """``comfycine@<marketplace>``, as ``claude plugin`` commands take it."""
        return f"{PLUGIN}@{self.marketplace}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "scopes": list(self.scopes),
            "enabled": self.enabled,
            "version": self.version,
        }


@dataclass(frozen=True)
class CopyInstall:
    """The files ``install-commands`` copied into one scope's Claude Code folder."""

    scope: str
    folder: Path
    commands: tuple[str, ...]
    skill: bool
    outdated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "scope": self.scope,
            "folder": str(self.folder),
            "commands": list(self.commands),
            "skill": self.skill,
            "outdated": self.outdated,
        }


@dataclass(frozen=True)
class ClaudeSetup:
    """Every comfycine install Claude Code would load here."""

    plugins: list[PluginInstall]
    copies: list[CopyInstall]
    claude_found: bool = True
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def active_plugins(self) -> list[PluginInstall]:
        """The plugin installs that are enabled (a disabled one loads nothing)."""
        return [p for p in self.plugins if p.enabled]

    def summary(self) -> str:
        """One line: what is installed."""
        parts = [_describe_plugin(p) for p in self.plugins]
        parts += [_describe_copy(c) for c in self.copies]
        return "; ".join(parts) or "comfycine is not installed"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``plugins``, ``copies``, ``summary`` and ``problems``."""
        return {
            "summary": self.summary(),
            "plugins": [p.to_dict() for p in self.plugins],
            "copies": [c.to_dict() for c in self.copies],
            "problems": self.problems,
        }


def _describe_plugin(plugin: PluginInstall) -> str:
    version = f" {plugin.version}" if plugin.version else ""
    state = "" if plugin.enabled else ", disabled"
    return f"plugin {plugin.id}{version} ({'/'.join(plugin.scopes)}{state})"


def _describe_copy(copy: CopyInstall) -> str:
    what = [f"{len(copy.commands)} commands"] if copy.commands else []
    what += ["the skill"] if copy.skill else []
    stale = ", older than this comfycine" if copy.outdated else ""
    return f"copy in {copy.folder} ({' and '.join(what)}{stale})"


def find_setup(
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ClaudeSetup:
    """Look at Claude Code's files for comfycine (user folder and ``cwd``'s ``.claude``)."""
    cwd = cwd or Path.cwd()
    folders = {s: claude_dir(s, home=home, cwd=cwd, env=env) for s in ("user", "project")}
    plugins = _plugins(folders["user"], folders["project"], cwd)
    copies = [
        found
        for scope in ("user", "project")
        if (found := _copy(scope, home=home, cwd=cwd, env=env)) is not None
    ]
    if folders["user"].resolve() == folders["project"].resolve():
        copies = copies[:1]  # started in the home folder: one folder, not two scopes
    problems = _problems([p for p in plugins if p.enabled], copies)
    return ClaudeSetup(plugins, copies, folders["user"].is_dir(), problems)


def install_copy(scope: str, *, force: bool = False, remove: bool = False) -> dict[str, Any]:
    """``install-commands``: copy the commands and skills into ``scope`` (or remove our
    copy), then report what Claude Code has (``claude``: any plugin install beside it).

    Returns the envelope's ``data``: ``dest`` (commands), ``skills_dest``, ``files``
    (each ``{name, path, action}``), ``kept`` (edited files left alone) and ``claude``.
    """
    commands, skills = commands_dir(scope), skills_dir(scope)
    if remove:
        removed = remove_installed(commands, skills, force=force)
        files, kept = removed.files, removed.kept
    else:
        done = install_commands(commands, force=force)
        skill = install_skills(skills, force=force)
        files, kept = done.files + skill.files, done.kept + skill.kept
    return {
        "dest": str(commands),
        "skills_dest": str(skills),
        "removed": remove,
        "files": files,
        "kept": kept,
        "claude": find_setup().to_dict(),
    }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _plugins(user: Path, project: Path, cwd: Path) -> list[PluginInstall]:
    """comfycine per marketplace: settings say enabled or not, installed_plugins.json adds
    installs no setting names yet (enabled by default)."""
    scopes: dict[str, list[str]] = {}
    enabled: dict[str, bool] = {}
    versions: dict[str, str] = {}
    same_folder = user.resolve() == project.resolve()
    for scope, name in _SETTINGS:
        if scope != "user" and same_folder:
            continue  # started in the home folder: its settings are the user's
        data = _read_json((user if scope == "user" else project) / name)
        for key, value in _mapping(data, "enabledPlugins").items():
            market = _marketplace(key)
            if market is not None and isinstance(value, bool):
                scopes.setdefault(market, []).append(scope)
                enabled[market] = value  # user < project < local: the later file wins
    registry = _read_json(user / "plugins" / "installed_plugins.json")
    for key, installs in _mapping(registry, "plugins").items():
        market = _marketplace(key)
        for install in installs if isinstance(installs, list) else [installs]:
            if market is None or not isinstance(install, dict):
                continue
            if not _here(install.get("projectPath"), cwd):
                continue  # a project-scope install of another project
            bucket = scopes.setdefault(market, [])
            where, version = install.get("scope"), install.get("version")
            if isinstance(where, str) and where not in bucket:
                bucket.append(where)
            if isinstance(version, str):
                versions[market] = version
    return [
        PluginInstall(m, tuple(s), enabled.get(m, True), versions.get(m))
        for m, s in sorted(scopes.items())
    ]


def _mapping(data: Any, key: str) -> dict[Any, Any]:
    """``data[key]`` when both are JSON objects, else an empty one."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _marketplace(key: object) -> str | None:
    """The marketplace of a ``comfycine@<marketplace>`` key; None for any other plugin."""
    if not isinstance(key, str):
        return None
    name, at, market = key.partition("@")
    return market if at and name == PLUGIN and market else None


def _here(project: object, cwd: Path) -> bool:
    """Whether an install applies in ``cwd``: no project path, or this one (or a parent)."""
    if not isinstance(project, str) or not project:
        return True
    try:
        root = Path(project).expanduser().resolve()
        return cwd.resolve() == root or root in cwd.resolve().parents
    except OSError:
        return False


def _copy(
    scope: str, *, home: Path | None, cwd: Path, env: Mapping[str, str] | None
) -> CopyInstall | None:
    """The comfycine files in one scope's folder: ours by name (shipped or in our manifest);
    outdated when one is still an older version we installed (an edited one is theirs)."""
    commands = commands_dir(scope, home=home, cwd=cwd, env=env)
    skill = skills_dir(scope, home=home, cwd=cwd, env=env) / SKILL
    shipped = {p.name: p for p in shipped_commands()}
    manifest = _read_json(commands / MANIFEST)
    manifest = manifest if isinstance(manifest, dict) else {}
    present = sorted(n for n in set(shipped) | set(manifest) if (commands / n).is_file())
    has_skill = (skill / "SKILL.md").is_file()
    if not present and not has_skill:
        return None
    pairs = [(commands / n, shipped[n], manifest.get(n)) for n in present if n in shipped]
    skill_manifest = _read_json(skill / SKILL_MANIFEST)
    for folder in shipped_skills():
        if folder.name == SKILL and has_skill and isinstance(skill_manifest, dict):
            pairs.append((skill / "SKILL.md", folder / "SKILL.md", skill_manifest.get("SKILL.md")))
    outdated = any(_older(installed, new, digest) for installed, new, digest in pairs)
    return CopyInstall(scope, commands.parent, tuple(present), has_skill, outdated)


def _older(installed: Path, shipped: Path, digest: object) -> bool:
    """Whether ``installed`` is a version we installed that differs from ``shipped``."""
    try:
        current, new = installed.read_bytes(), shipped.read_bytes()
    except OSError:
        return False
    return current != new and hashlib.sha256(current).hexdigest() == digest


def _problems(active: list[PluginInstall], copies: list[CopyInstall]) -> list[dict[str, str]]:
    """Each way the installs get in each other's way: what Claude uses, and the fix."""
    found: list[dict[str, str]] = []
    if len(active) > 1:
        keep = next((p for p in active if p.marketplace == MARKETPLACE), active[0])
        others = [p.id for p in active if p is not keep]
        found.append(
            {
                "code": "plugin_installed_twice",
                "message": (
                    f"comfycine is installed from {len(active)} marketplaces "
                    f"({', '.join(p.id for p in active)}): Claude Code loads each under the "
                    "same /comfycine: names, and which one answers is not defined."
                ),
                "fix": "Keep one: "
                + "; ".join(f"claude plugin uninstall {other}" for other in others)
                + " (or /plugin uninstall … inside Claude Code).",
            }
        )
    if active and copies:
        plugin = active[0].id
        uninstall = "; ".join(f"claude plugin uninstall {p.id}" for p in active)
        where = " and ".join(str(c.folder) for c in copies)
        removal = "; ".join(_remove_command(c.scope) for c in copies)
        found.append(
            {
                "code": "copy_beside_plugin",
                "message": (
                    f"comfycine is installed twice: the plugin {plugin} and a copy in "
                    f"{where}. A typed /comfy-generate runs the copy (the plugin's is "
                    "/comfycine:comfy-generate); a request in plain words may load either "
                    "comfycine skill."
                ),
                "fix": (
                    f"Keep the plugin (claude plugin update {plugin} updates it): {removal}. "
                    f"Or keep the copy: {uninstall}."
                ),
            }
        )
    elif len(copies) > 1:
        found.append(
            {
                "code": "copied_twice",
                "message": (
                    f"comfycine is copied into both {copies[0].folder} and "
                    f"{copies[1].folder}: Claude Code uses the personal one "
                    f"({copies[0].folder}), which overrides a project's."
                ),
                "fix": f"Remove the project's copy: {_remove_command('project')}.",
            }
        )
    stale = [c for c in copies if c.outdated]
    if stale and not (active and copies):
        found.append(
            {
                "code": "copy_outdated",
                "message": f"The copy in {stale[0].folder} differs from this comfycine's files.",
                "fix": f"Update it: {_install_command(stale[0].scope)}.",
            }
        )
    return found


def _remove_command(scope: str) -> str:
    return "comfycine install-commands --remove" + (" --project" if scope == "project" else "")


def _install_command(scope: str) -> str:
    return "comfycine install-commands" + (" --project" if scope == "project" else "")

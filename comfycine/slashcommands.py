"""``install-commands``: copy the Claude Code slash commands into place, safely.

The commands are ``commands/*.md`` in a checkout (``comfycine/_commands`` in a wheel).
They go to ``~/.claude/commands`` (``--user``: every project, every terminal) or
``./.claude/commands`` (``--project``). A manifest beside them records the digest of each
file as installed, so a later install can tell our old version (updated) from a file the
filmmaker edited (kept, unless ``force``). Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .files import write_new_file

MANIFEST = ".comfycine-commands.json"


def shipped_commands_dir() -> Path:
    """The shipped command files: bundled in a wheel, ``commands/`` in a checkout."""
    package = Path(__file__).resolve().parent
    bundled = package / "_commands"
    return bundled if bundled.is_dir() else package.parent / "commands"


def commands_dir(scope: str, *, home: Path | None = None, cwd: Path | None = None) -> Path:
    """Where Claude Code reads commands: ``user`` (home) or ``project`` (current dir)."""
    if scope == "user":
        return (home or Path.home()) / ".claude" / "commands"
    if scope == "project":
        return (cwd or Path.cwd()) / ".claude" / "commands"
    raise UsageError(f"Unknown scope {scope!r}.", hint="Use --user or --project.")


@dataclass
class InstallResult:
    """What happened to each command file."""

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


def _read_manifest(dest: Path) -> dict[str, str]:
    try:
        data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def install_commands(
    dest: Path, *, force: bool = False, source: Path | None = None
) -> InstallResult:
    """Install every shipped command into ``dest``; an edited file is kept unless ``force``."""
    source = source or shipped_commands_dir()
    shipped = sorted(source.glob("*.md"))
    if not shipped:
        raise UsageError(
            f"No command files found in {source}.",
            hint="Reinstall comfycine (pip install --force-reinstall comfycine).",
            code="commands_missing",
        )
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    result = InstallResult(dest)
    for path in shipped:
        new = path.read_bytes()
        target = dest / path.name
        action = _action(target, new, manifest.get(path.name), force)
        if action in {"installed", "updated", "replaced"}:
            write_new_file(target, new.decode("utf-8"), force=True)
        if action != "kept":
            manifest[path.name] = _digest(new)
        result.files.append({"name": path.name, "path": str(target), "action": action})
    write_new_file(dest / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True), force=True)
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

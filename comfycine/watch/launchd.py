"""``watch install-launchd``: a LaunchAgent that keeps ``comfycine watch`` running on a Mac.

The plist follows ../shared/FIELD-FACTS.md §3: absolute ``ProgramArguments`` (launchd
expands neither ``~`` nor ``$VAR``), a ``PATH`` that includes Homebrew, ``RunAtLoad``,
``KeepAlive`` only after a failure (a clean stop stays stopped), logs under
``~/Library/Logs/comfycine/``. Secrets are never written into it: the agent reads them
from ``~/.config/comfycine/.env`` like any other comfycine.

Agents started by launchd do not inherit Terminal's Full Disk Access, so an exchange
folder under ``~/Desktop``, ``~/Documents``, ``~/Downloads`` or on ``/Volumes`` gets a
warning with the remedy (§3.3).
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..envnames import ENV_NAMES, SECRET_ENV_NAMES
from ..errors import UsageError
from ..files import write_new_file
from ..settings import Settings

LABEL = "com.comfycine.watch"
SYSTEM_PATH = ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
PROTECTED_HOME_FOLDERS = ("Desktop", "Documents", "Downloads")
THROTTLE_SECONDS = 30
# Settings the agent needs from this shell (it does not see the shell's environment).
# The exchange folder goes on the command line; secrets never go into the plist.
_SKIPPED_FIELDS = frozenset({"exchange_dir", "debug"})


def comfycine_program() -> list[str]:
    """The absolute command that runs comfycine (the installed script, else ``python -m``)."""
    found = shutil.which("comfycine")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "comfycine"]


def agent_environment(settings: Settings, program: Sequence[str]) -> dict[str, str]:
    """``PATH`` (the program's folder, Homebrew, system) and the settings set in this shell."""
    folders = [os.path.dirname(program[0]), *SYSTEM_PATH]
    environment = {"PATH": ":".join(dict.fromkeys(f for f in folders if f))}
    for name, env_names in ENV_NAMES.items():
        if name in _SKIPPED_FIELDS or any(n in SECRET_ENV_NAMES for n in env_names):
            continue
        value = getattr(settings, name, None)
        if value is not None and settings.sources.get(name) in ("env", "flag"):
            environment[env_names[0]] = str(value)
    return environment


def build_plist(
    *,
    program: Sequence[str],
    arguments: Sequence[str],
    home: Path,
    environment: dict[str, str],
    label: str = LABEL,
) -> dict[str, Any]:
    """The LaunchAgent as a dict (``plistlib.dumps`` turns it into the file)."""
    logs = home / "Library" / "Logs" / "comfycine"
    return {
        "Label": label,
        "ProgramArguments": [*program, *arguments],
        "EnvironmentVariables": environment,
        "WorkingDirectory": str(home),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": THROTTLE_SECONDS,
        "ProcessType": "Background",
        "StandardOutPath": str(logs / "watch.out.log"),
        "StandardErrorPath": str(logs / "watch.err.log"),
    }


def protected_folder(path: Path, home: Path) -> str | None:
    """The macOS-protected folder ``path`` lies in (``~/Documents``, ``/Volumes``), or None."""
    real = Path(os.path.realpath(path))
    real_home = Path(os.path.realpath(home))
    for name in PROTECTED_HOME_FOLDERS:
        folder = real_home / name
        if real == folder or folder in real.parents:
            return f"~/{name}"
    if real.parts[:2] == ("/", "Volumes"):
        return "/Volumes (an external drive)"
    return None


def tcc_warnings(settings: Settings, program: Sequence[str], home: Path) -> list[str]:
    """One warning per path the agent needs that macOS hides from background jobs."""
    checks = [
        ("The exchange folder", settings.exchange_dir),
        ("The output folder", settings.output_dir),
        ("The workflow folder", settings.workflow_dir),
        ("The comfycine program", Path(program[0])),
    ]
    warnings = []
    for what, path in checks:
        where = None if path is None else protected_folder(path, home)
        if where is not None:
            warnings.append(
                f"{what} {path} is under {where}, which macOS protects from background "
                "jobs: the agent will fail with 'Operation not permitted'. Grant Full Disk "
                f"Access to {program[0]} (System Settings › Privacy & Security), or use a "
                "folder such as ~/Movies/ComfyUI-Exchange."
            )
    return warnings


def _secret_warnings(settings: Settings) -> list[str]:
    """Secrets set only in this shell: the agent will not see them (they stay out of plists)."""
    found = []
    for name, env_names in ENV_NAMES.items():
        secret = any(n in SECRET_ENV_NAMES for n in env_names)
        if secret and settings.sources.get(name) == "env":
            found.append(
                f"{env_names[0]} is set in this shell only; the agent will not see it. "
                "Put it in ~/.config/comfycine/.env (never in the plist)."
            )
    return found


@dataclass
class LaunchdInstall:
    """What ``install-launchd`` wrote and the commands that load it."""

    path: Path
    label: str
    action: str  # created | replaced | unchanged
    arguments: list[str]
    bootstrap: str
    bootout: str
    logs: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the envelope's ``data``)."""
        return {
            "plist": str(self.path),
            "label": self.label,
            "action": self.action,
            "program_arguments": self.arguments,
            "bootstrap": self.bootstrap,
            "bootout": self.bootout,
            "logs": self.logs,
            "warnings": self.warnings,
        }


def install_launchd(
    settings: Settings,
    *,
    template: str | None = None,
    target: str | None = None,
    allow_spend: bool = False,
    dest_dir: Path | None = None,
    force: bool = False,
    program: Sequence[str] | None = None,
    home: Path | None = None,
) -> LaunchdInstall:
    """Write the LaunchAgent plist for ``comfycine watch``; never replace a different one.

    The file goes to ``dest_dir`` (default ``~/Library/LaunchAgents``) as
    ``com.comfycine.watch.plist``. An identical file is left as it is; a different one
    is replaced only with ``force`` (UsageError ``file_exists`` otherwise).
    ``allow_spend`` lets the watcher run partner (paid API) nodes (``--allow-spend``).
    """
    home = home or Path.home()
    program = list(program or comfycine_program())
    arguments = ["watch", "--json", "--exchange", str(settings.exchange_dir)]
    if template:
        arguments += ["--template", template]
    if target:
        arguments += ["--target", target]
    if allow_spend:
        arguments.append("--allow-spend")
    plist = build_plist(
        program=program,
        arguments=arguments,
        home=home,
        environment=agent_environment(settings, program),
    )
    content = plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=False).decode("utf-8")
    path = (dest_dir or home / "Library" / "LaunchAgents") / f"{LABEL}.plist"
    uid = os.getuid() if hasattr(os, "getuid") else 501
    bootout = f"launchctl bootout gui/{uid}/{LABEL}"
    action = "created"
    if path.exists():
        if path.read_text(encoding="utf-8", errors="replace") == content:
            action = "unchanged"
        elif not force:
            raise UsageError(
                f"{path} already exists with other settings.",
                hint="Pass --force to replace it (then reload it: "
                f"{bootout}, and the bootstrap line printed).",
                code="file_exists",
            )
        else:
            action = "replaced"
    if action != "unchanged":
        write_new_file(path, content, force=force)
        path.chmod(0o644)
    logs = [str(plist["StandardOutPath"]), str(plist["StandardErrorPath"])]
    Path(logs[0]).parent.mkdir(parents=True, exist_ok=True)
    warnings = tcc_warnings(settings, program, home) + _secret_warnings(settings)
    if sys.platform != "darwin":
        warnings.append(
            "launchd is macOS's service manager: here, run `comfycine watch --once` "
            "from cron or a systemd user timer instead."
        )
    return LaunchdInstall(
        path=path,
        label=LABEL,
        action=action,
        arguments=[*program, *arguments],
        bootstrap=f"launchctl bootstrap gui/{uid} {shlex.quote(str(path))}",
        bootout=bootout,
        logs=logs,
        warnings=warnings,
    )

"""The ``claude`` rung: what of comfycine Claude Code has on this Mac, and whether two
installs get in each other's way (the plugin twice, a copy beside the plugin).

Reads a few of Claude Code's small files (:mod:`comfycine.claudesetup`); no network.
Never fails the ladder: a problem here is a warning with the command that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..claudesetup import MARKETPLACE, PLUGIN, find_setup
from ..slashcommands import shipped_commands_dir
from .checks import OK, SKIP, WARN, Check


def check_claude(
    *, home: Path | None = None, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Check:
    """The ``claude`` rung: ok with one install, warn on a conflict, skip with none."""
    setup = find_setup(home=home, cwd=cwd, env=env)
    details = setup.to_dict()
    if not setup.plugins and not setup.copies:
        why = "no Claude Code folder" if not setup.claude_found else setup.summary()
        return Check("claude", SKIP, why, _install_hint(), details=details)
    if setup.problems:
        first = setup.problems[0]
        fixes = " ".join(p["fix"] for p in setup.problems)
        return Check(
            "claude", WARN, f"{setup.summary()}. {first['message']}", fixes, details=details
        )
    return Check("claude", OK, setup.summary(), details=details)


def _install_hint() -> str:
    """How to add comfycine to Claude Code: the plugin from this checkout, or a copy."""
    checkout = shipped_commands_dir().parent
    source = (
        str(checkout)
        if (checkout / ".claude-plugin" / "marketplace.json").is_file()
        else "<a clone of the comfycine repository, or its GitHub owner/repo>"
    )
    return (
        f"For Claude Code: claude plugin marketplace add {source}, then claude plugin install "
        f"{PLUGIN}@{MARKETPLACE}; or copy the commands and skill: comfycine install-commands."
    )

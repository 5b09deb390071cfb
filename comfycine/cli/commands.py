"""``install-commands``: put the Claude Code slash commands where Claude Code finds them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt
from comfycine.cli.render import Output


def _print_install(out: Output, data: dict[str, Any]) -> None:
    for item in data["files"]:
        out.write_stdout(f"{item['action']:9} {item['path']}")
    if data["kept"]:
        out.info(
            "Kept your edited version of: " + ", ".join(data["kept"]) + " (--force replaces them)."
        )
    out.info("Restart Claude Code to load new commands; then type / to see them.")


def install_commands(
    user: Annotated[
        bool, typer.Option("--user", help="Into ~/.claude/commands: every project (default).")
    ] = False,
    project: Annotated[
        bool, typer.Option("--project", help="Into ./.claude/commands: this project only.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace command files you edited too.")
    ] = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Install the /comfy-* slash commands for Claude Code (safe to run again)."""
    from comfycine.errors import UsageError
    from comfycine.slashcommands import commands_dir
    from comfycine.slashcommands import install_commands as install

    if user and project:
        raise UsageError(
            "Choose --user or --project, not both.", hint="See: comfycine install-commands --help"
        )
    result = install(commands_dir("project" if project else "user"), force=force)
    Output("install-commands", as_json=json).success(result.to_dict(), _print_install)

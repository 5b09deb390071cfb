"""``install-commands``: put the slash commands and the skill where Claude Code finds them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt
from comfycine.cli.render import Output


def _print_install(out: Output, data: dict[str, Any]) -> None:
    for item in data["files"]:
        if item["action"] != "absent":
            out.write_stdout(f"{item['action']:9} {item['path']}")
    if data["kept"]:
        verb = "Kept" if data["removed"] else "Kept your edited version of"
        out.info(f"{verb}: " + ", ".join(data["kept"]) + " (--force takes them too).")
    claude = data["claude"]
    for problem in claude["problems"]:
        out.info(f"Warning: {problem['message']}\n  fix: {problem['fix']}")
    if not data["removed"]:
        out.info("Restart Claude Code to load new commands; then type / to see them.")
    out.info(f"Claude Code: {claude['summary']}.")


def install_commands(
    user: Annotated[
        bool,
        typer.Option(
            "--user", help="Into ~/.claude (or $CLAUDE_CONFIG_DIR): every project (default)."
        ),
    ] = False,
    project: Annotated[
        bool, typer.Option("--project", help="Into ./.claude: this project only.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace (or remove) files you edited too.")
    ] = False,
    remove: Annotated[
        bool,
        typer.Option("--remove", help="Remove the copy instead (keep the plugin, say)."),
    ] = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Install the /comfy-* slash commands and the comfycine skill for Claude Code.

    They go to commands/ and skills/comfycine/ of the chosen folder (safe to run again).
    Also says whether Claude Code has the comfycine plugin too, and which one it uses.
    """
    from comfycine.claudesetup import install_copy
    from comfycine.errors import UsageError

    if user and project:
        raise UsageError(
            "Choose --user or --project, not both.", hint="See: comfycine install-commands --help"
        )
    data = install_copy("project" if project else "user", force=force, remove=remove)
    Output("install-commands", as_json=json).success(data, _print_install)

"""``docs/cli.md``: every command's ``--help``, generated so the reference cannot drift.

``scripts/gen-cli-docs.py`` writes it; a test regenerates it and fails on any difference.
"""

from __future__ import annotations

from typing import Any

WIDTH = 100


def _walk(command: Any, path: list[str], parent: Any) -> list[tuple[list[str], str]]:
    ctx = command.make_context(
        path[-1],
        [],
        parent=parent,
        resilient_parsing=True,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    pages = [(path, command.get_help(ctx))]
    for name in sorted(getattr(command, "commands", {}) or {}):
        sub = command.commands[name]
        if not getattr(sub, "hidden", False):
            pages += _walk(sub, [*path, name], ctx)
    return pages


def render_cli_reference() -> str:
    """The markdown of the whole CLI reference."""
    import typer.main

    from comfycine.cli.app import build_app

    root = typer.main.get_command(build_app())
    pages = _walk(root, ["comfycine"], None)
    lines = [
        "# comfycine command reference",
        "",
        "Generated from `--help` by `python scripts/gen-cli-docs.py`; a test fails when this",
        "file and the CLI disagree. Exit codes and the JSON envelope: see `specs.md`.",
        "",
    ]
    lines += [f"- [`{' '.join(path)}`](#{'-'.join(path)})" for path, _ in pages[1:]]
    for path, text in pages:
        lines += ["", f'<a id="{"-".join(path)}"></a>', f"## {' '.join(path)}", "", "```text"]
        lines += [line.rstrip() for line in text.strip("\n").splitlines()]
        lines += ["```"]
    return "\n".join(lines) + "\n"

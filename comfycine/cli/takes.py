"""``comfycine take FILE``: what made a file, read from the file alone (no ledger needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt
from comfycine.cli.render import Output


def take(
    file: Annotated[Path, typer.Argument(help="A rendered file (PNG, MP4, WebM...) or its .json.")],
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the recipe inside a rendered file: template, values, seeds, models, job.

    Works on another Mac, months later: the recipe travels in the file (PNG text chunks,
    video tags) or in the sidecar .json beside it.
    """
    from comfycine.takes.recipe import read_recipe

    output = Output("take", as_json=json)
    recipe = read_recipe(file)
    data = {"file": str(file), **recipe.to_dict(with_graph=True)}
    output.success(data, _print_recipe)


def _print_recipe(output: Output, data: dict[str, Any]) -> None:
    for key in ("file", "template", "job", "sweep", "parent", "target", "server", "comfycine"):
        if data.get(key):
            output.write_stdout(f"{key:10} {data[key]}")
    for name, value in (data.get("params") or {}).items():
        output.write_stdout(f"{'set':10} {name}={value}")
    for name, value in (data.get("seeds") or {}).items():
        output.write_stdout(f"{'seed':10} {name}={value}")
    for model in data.get("models") or ():
        output.write_stdout(f"{'model':10} {model}")
    if not data.get("template") and not data.get("job"):
        output.info("Made by ComfyUI, not comfycine: only its graph is known.")


def review(
    sweep: Annotated[
        str | None, typer.Option(help="The sweep to review (its id, from generate --takes).")
    ] = None,
    since: Annotated[
        float | None, typer.Option(help="Only the jobs of the last H hours (default: recent).")
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Write the page, do not open it (agents).")
    ] = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write one self-contained review page of takes (previews, players, values, retake
    commands) and open it in the browser."""
    import time

    from comfycine.cli.options import load_settings
    from comfycine.takes.review import open_in_browser
    from comfycine.takes.reviewing import review as write_page

    settings = load_settings()
    output = Output("review", as_json=json)
    after = None if since is None else time.time() - since * 3600
    page = write_page(settings, sweep=sweep, since=after)
    data = page.to_dict()
    data["opened"] = False if no_open else open_in_browser(page.path)
    output.success(data, lambda out, d: out.write_stdout(d["page"]))

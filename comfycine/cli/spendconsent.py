"""``--allow-spend``, or a yes at a terminal, for graphs with partner (paid API) nodes.

The library refuses such a graph before anything is sent (ConsentRequired, exit 9,
code ``spend_not_allowed``, the nodes and prices in ``details.nodes``). Here, a person
at a terminal (stdin and stderr both TTYs) is shown the nodes and asked once; a yes
runs the same call again with consent. Off a terminal the refusal goes out as it is,
its hint naming the exact command with ``--allow-spend``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from comfycine.errors import ConsentRequired, join_sentences

T = TypeVar("T")


def interactive() -> bool:
    """Whether a person can answer: stdin and stderr both terminals."""
    from comfycine.cli.render import is_tty

    return is_tty(sys.stdin) and is_tty(sys.stderr)


def _ask(error: ConsentRequired) -> bool:
    from comfycine.sanitize import clean_text

    lines = ["These partner nodes bill your Comfy account when they run:"]
    for node in error.details.get("nodes") or ():
        price = (node.get("price") or {}).get("text") or "price not given by the server"
        name = node.get("display_name") or node.get("class_type")
        lines.append(f"  node {node.get('node')}: {name} ({node.get('class_type')}): {price}")
    import typer  # only when a person is asked

    typer.echo(clean_text("\n".join(lines)), err=True)
    return bool(typer.confirm("Run it, billed to your Comfy account?", default=False, err=True))


def with_spend_consent(
    run: Callable[[bool], T],
    allow_spend: bool,
    *,
    command: str | None = None,
    before_ask: Callable[[], None] | None = None,
) -> T:
    """``run(allow_spend)``; a spend refused for want of consent asks at a terminal.

    Nothing was sent when the refusal came (the gate runs first), so a yes simply runs
    it again with consent. ``command`` (the same command line) goes into the refusal's
    hint with ``--allow-spend`` when nobody can be asked; ``before_ask`` clears a live
    progress display off the terminal first.
    """
    try:
        return run(allow_spend)
    except ConsentRequired as exc:
        if allow_spend or exc.code != "spend_not_allowed":
            raise
        if not interactive():
            if command:
                exc.hint = join_sentences("To let it spend, run:", f"{command} --allow-spend")
            raise
        if before_ask is not None:
            before_ask()
        if not _ask(exc):
            raise
    return run(True)

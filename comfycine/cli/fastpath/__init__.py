"""The agent's hot commands without Typer: the same bodies, parsed by a small table.

An agent calls ``status``, ``wait``, ``generate`` and ``workflow show`` many times per
request, each call a fresh process; importing Typer (and click) costs about 60 ms of
each. :func:`fast_call` recognises the plain forms of those command lines with a table
derived from the Typer declarations and calls the same typer-free bodies
(``cli/bodies``) with the same values. Anything it does not recognise goes to Typer.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from comfycine.cli.fastpath.parse import parse

BODIES = {
    "generate": ("comfycine.cli.bodies.jobs", "generate"),
    "status": ("comfycine.cli.bodies.jobs", "status"),
    "wait": ("comfycine.cli.bodies.jobs", "wait"),
    "workflow show": ("comfycine.cli.bodies.workflow", "show"),
}


def fast_call(argv: list[str]) -> Callable[[], None] | None:
    """The body to run for ``argv`` with its parsed values bound, or None (use Typer)."""
    parsed = parse(argv)
    if parsed is None:
        return None
    key, values = parsed
    module, name = BODIES[key]
    body = getattr(import_module(module), name)
    return lambda: body(**values)

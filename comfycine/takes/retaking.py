"""``retake`` as a library call: find the take, choose where it renders, run it.

The target defaults to the one the take ran on, when this Mac knows it and it costs
nothing; a take from a billed target (Comfy Cloud, a deployment) is rendered on the
default target unless ``--target`` names the billed one again: spending needs consent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import ComfycineError
from ..generation import run_prepared
from ..jobs import Observer
from ..results import JobResult
from ..settings import Settings
from ..targets import Target, resolve_target
from .lineage import find_take_source
from .recipe import Recipe
from .retake import Retake, plan_retake


@dataclass(frozen=True)
class RetakeResult:
    """The new take and how it was made."""

    result: JobResult
    retake: Retake

    def to_dict(self) -> dict[str, object]:
        """``data`` of the envelope: the job as ``generate`` shows it, and ``retake``."""
        return {**self.result.to_dict(), "retake": self.retake.describe()}


def choose_target(settings: Settings, recipe: Recipe, name: str | None, notes: list[str]) -> Target:
    """``name`` if given; else the take's own target when known here and not billed."""
    if name is not None:
        return resolve_target(settings, name)
    default = resolve_target(settings, None)
    if not recipe.target or recipe.target == default.name:
        return default
    try:
        original = resolve_target(settings, recipe.target)
    except ComfycineError:
        notes.append(f"The take ran on {recipe.target}, unknown here: rendering on {default.name}.")
        return default
    if original.billed:
        notes.append(
            f"The take ran on {recipe.target} (billed): rendering on {default.name}; add"
            f" --target {recipe.target} to render it there."
        )
        return default
    return original


def retake(
    settings: Settings,
    ref: str,
    *,
    assignments: Sequence[str] = (),
    prompt: str | None = None,
    seed: str | None = None,
    target: str | None = None,
    force: bool = False,
    detach: bool = False,
    timeout: float | None = None,
    observer: Observer | None = None,
    validate: bool = True,
    keep_target: bool = True,
    on_note: Callable[[str], None] | None = None,
    allow_spend: bool = False,
) -> RetakeResult:
    """Render the take ``ref`` (a file or a job) again, with the changes given.

    ``keep_target`` False renders on the default target (``--url`` chose the server).
    ``on_note`` hears what the user should know before it runs (a changed template
    rendered with ``force``, another target chosen...). Partner (paid API) nodes are
    refused (ConsentRequired, exit 9) unless ``allow_spend``.
    Errors as :func:`comfycine.takes.retake.plan_retake` and ``generate``.
    """
    source = find_take_source(settings, ref)
    notes: list[str] = []
    if keep_target:
        chosen = choose_target(settings, source.recipe, target, notes)
    else:
        chosen = resolve_target(settings, target)
    planned = plan_retake(
        settings,
        source,
        chosen.url,
        assignments=assignments,
        prompt=prompt,
        seed=seed,
        force=force,
        validate=validate,
    )
    planned.notes[:0] = notes
    planned.job.allow_spend = allow_spend
    if on_note is not None:
        for note in planned.notes:
            on_note(note)
    result = asyncio.run(
        run_prepared(
            settings, planned.job, target=chosen, detach=detach, timeout=timeout, observer=observer
        )
    )
    return RetakeResult(result, planned)

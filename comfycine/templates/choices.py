"""Dynamic prompts in templates: ``{a|b|c}`` in a prompt is drawn per take, like a seed.

ComfyUI's frontend rewrites a text encoder's prompt each time it queues it: comments
removed, each ``{a|b|c}`` replaced by one option at random (see
:mod:`comfycine.graph.dynprompt`). A template imported from such a workflow keeps that
text, and comfycine does the same at render time: the job's values keep the text as
written, the graph gets the drawn one, and the seed that drew it is recorded with the
job's seeds as ``<name>_choices``, so a retake draws the same options again.

Only a prompt parameter with a choice in it is touched: a plain prompt (with ``//`` in a
URL, say) goes out exactly as typed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .placeholders import Kind

if TYPE_CHECKING:
    from .discovery import Template

SUFFIX = "_choices"
_CHOICE = re.compile(r"\{[^{}]*\|")
_SEED_MAX = 2**32 - 1


def has_choice(text: object) -> bool:
    """Whether a prompt holds a ``{a|b}`` choice."""
    return isinstance(text, str) and bool(_CHOICE.search(text))


def draw_choices(
    template: Template, values: Mapping[str, Any], seeds: Mapping[str, int] | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """``values`` with each prompt's choices drawn, and ``{"<name>_choices": seed}``.

    ``seeds`` holds recorded ``<name>_choices`` seeds (a retake): the same draws again.
    """
    from ..graph.dynprompt import Draws, resolve

    drawn = dict(values)
    used: dict[str, int] = {}
    for name, param in template.parameters.items():
        if param.kind is not Kind.PROMPT or not has_choice(values.get(name)):
            continue
        key = name + SUFFIX
        seed = (seeds or {}).get(key)
        if not isinstance(seed, int) or isinstance(seed, bool):
            seed = random.randint(0, _SEED_MAX)
        drawn[name] = resolve(str(values[name]), Draws(seed))
        used[key] = seed
    return drawn, used

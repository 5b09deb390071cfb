"""Rendering a bound template into the API graph sent to ComfyUI, and describing parameters."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError
from .placeholders import find_placeholders, node_title
from .values import describe_step

if TYPE_CHECKING:
    from .discovery import Template


def render_graph(
    template: Template, values: Mapping[str, Any], uploaded: Mapping[str, str]
) -> dict[str, Any]:
    """A deep copy of the template's graph with every parameter written in.

    ``values`` are typed values by parameter (``Binding.values``); ``uploaded`` maps each
    media parameter to the server-side name its file was uploaded as. Every seed target
    gets its seed, and every node gets a ``_meta.title`` (its class_type when it had
    none). Raises ParameterError, never sending a placeholder, when a value is missing or
    a name is not a parameter.
    """
    problems: list[str] = []
    params = template.parameters
    problems += [f"{name!r} is not a parameter" for name in values if name not in params]
    problems += [
        f"{name!r} is not a media parameter"
        for name in uploaded
        if name not in params or not params[name].kind.is_media
    ]
    graph = copy.deepcopy(template.graph)
    for name, param in params.items():
        source = uploaded if param.kind.is_media else values
        if name not in source:
            what = "no uploaded file" if param.kind.is_media else "no value"
            problems.append(f"{name} has {what}")
            continue
        for target in param.targets:
            graph[target.node_id]["inputs"][target.input] = source[name]
    for node in graph.values():
        meta = node.get("_meta")
        if not isinstance(meta, dict):
            meta = node["_meta"] = {}
        meta["title"] = node_title(node)
    if not problems:
        problems += [f"placeholder left at {where}" for where in find_placeholders(graph)]
    if problems:
        raise ParameterError(
            f"Cannot render {template.name}: " + "; ".join(problems),
            details={"template": template.name, "problems": problems},
        )
    return graph


def describe_parameters(template: Template) -> list[dict[str, Any]]:
    """Every parameter as a JSON-ready dict, for ``workflow show`` and ``--json``.

    Keys: name, kind, placeholder, required, default, seed, randomized, bounds (min, max,
    multiple_of, offset, step: only those set), choices, help, targets
    (``"node_id.input (title)"``).
    """
    described = []
    for param in template.parameters.values():
        bounds: dict[str, Any] = {}
        if param.minimum is not None:
            bounds["min"] = param.minimum
        if param.maximum is not None:
            bounds["max"] = param.maximum
        if param.multiple_of is not None:
            bounds["multiple_of"] = param.multiple_of
            bounds["offset"] = param.offset
            bounds["step"] = describe_step(param.multiple_of, param.offset)
        described.append(
            {
                "name": param.name,
                "kind": param.kind.value,
                "placeholder": param.placeholder,
                "required": param.required,
                "default": param.default,
                "seed": param.is_seed,
                "randomized": param.randomized,
                "bounds": bounds,
                "choices": list(param.choices) if param.choices is not None else None,
                "help": param.help,
                "targets": [t.label() for t in param.targets],
            }
        )
    return described

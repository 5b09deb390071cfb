"""Retakes of a take that did not come from a template: its graph sent again as it ran.

A ``workflow run`` take, a file plain ComfyUI made, or a template take whose template is
gone (with ``--force``). Changes are written into the graph: ``--set NODE.INPUT=VALUE``
(a node id or its title; VALUE read as JSON when it parses) and ``--seed N|random``
(every literal ``seed``/``noise_seed`` input).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..generation import PreparedJob
from ..templates.binding import SEED_RANDOM_MAX
from ..templates.placeholders import SEED_INPUTS
from .lineage import TakeSource

RANDOM = "random"


def graph_job(
    source: TakeSource,
    assignments: Sequence[str],
    prompt: str | None,
    seed: str | None,
    validate: bool,
    notes: list[str],
) -> PreparedJob:
    """The graph as it ran, with ``NODE.INPUT=VALUE`` and ``--seed`` written in."""
    recipe = source.recipe
    if prompt is not None:
        raise ParameterError(
            f"Take {source.short} was not made from a template: --prompt has nowhere to go.",
            hint="Set the text input of its node: --set NODE.text=… (see: comfycine take "
            f"{source.ref} --json)",
        )
    graph = copy.deepcopy(recipe.graph)
    params = set_graph_inputs(graph, assignments)
    seeds = _set_graph_seeds(graph, seed)
    if not seeds and seed is not None:
        raise ParameterError(
            f"Take {source.short} has no seed input to set.",
            hint=f"Set an input with --set NODE.INPUT=VALUE (see: comfycine take {source.ref})",
        )
    label = recipe.workflow or recipe.template or _label_of(source.ref)
    notes.append(f"Rendering the graph of take {source.short} as it ran.")
    return PreparedJob(
        label=label,
        build=lambda _uploaded: graph,
        params=params,
        seeds=seeds,
        preflight=True if validate else None,
    )


def _label_of(ref: str) -> str:
    name = Path(ref).name.split(".")[0]
    return name or "retake"


def set_graph_inputs(graph: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """Write ``NODE.INPUT=VALUE`` (node id or title) into ``graph``; the values set.

    VALUE is read as JSON when it parses (numbers, true/false), else as text. An input
    that does not exist or is a link from another node is a ParameterError listing all.
    """
    problems: list[str] = []
    done: dict[str, Any] = {}
    for item in assignments:
        where, sep, raw = item.partition("=")
        node_ref, dot, name = where.strip().rpartition(".")
        node_id = _node_id(graph, node_ref) if sep and dot else None
        inputs = graph[node_id].get("inputs") if node_id is not None else None
        if not isinstance(inputs, dict) or name not in inputs:
            problems.append(f"{where.strip() or item!r} is not an input of this graph")
            continue
        if isinstance(inputs[name], list):
            problems.append(f"{where.strip()} comes from another node; it cannot be set")
            continue
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        inputs[name] = value
        done[f"{node_id}.{name}"] = value
    if problems:
        raise ParameterError(
            "; ".join(problems),
            hint="A graph take is changed with --set NODE.INPUT=VALUE (see: comfycine take"
            " FILE --json)",
            details={"problems": problems},
        )
    return done


def _node_id(graph: Mapping[str, Any], ref: str) -> str | None:
    if ref in graph:
        return ref
    titled = [
        node_id
        for node_id, node in graph.items()
        if isinstance(node, Mapping) and (node.get("_meta") or {}).get("title") == ref
    ]
    return titled[0] if len(titled) == 1 else None


def _set_graph_seeds(graph: dict[str, Any], seed: str | None) -> dict[str, int]:
    """Every literal seed input of ``graph``: set to ``seed`` (a number or ``random``,
    one draw for each), or as it is; ``{"NODE.INPUT": value}``."""
    seeds: dict[str, int] = {}
    drawn = random.Random() if seed is not None and seed.strip().lower() == RANDOM else None
    for node_id, node in graph.items():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if not isinstance(inputs, dict):
            continue
        for name in SEED_INPUTS & set(inputs):
            if isinstance(inputs[name], bool) or not isinstance(inputs[name], int):
                continue
            if drawn is not None:
                inputs[name] = drawn.randint(0, SEED_RANDOM_MAX)
            elif seed is not None:
                inputs[name] = _seed_number(seed)
            seeds[f"{node_id}.{name}"] = inputs[name]
    return seeds


def _seed_number(seed: str) -> int:
    text = seed.strip()
    if not text.isascii() or not text.isdigit():
        raise ParameterError(
            f"--seed expects a whole number 0 or more, or 'random', got {seed!r}.",
            hint="For example: --seed 42, or --seed random",
        )
    return int(text)

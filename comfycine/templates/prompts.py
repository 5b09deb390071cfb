"""Where a workflow's prompt texts are: the literal text feeding each sampler side.

A sampler (KSampler, KSamplerAdvanced, CFGGuider, Wan's image-to-video nodes, …) takes
``positive`` and ``negative`` conditioning; a guider of SamplerCustomAdvanced takes the
positive side as ``conditioning`` (BasicGuider) or ``cond1`` (DualCFGGuider). Walking up
those links through conditioning nodes reaches the text encoder whose text inputs
(``text``, ``prompt``; ``t5xxl`` and ``clip_l`` of the Flux encoder; ``text_g`` and
``text_l`` of SDXL's) hold the words. Partner (API) nodes have no sampler: their own
``prompt`` (``prompt_text``) / ``negative_prompt`` inputs hold the text.
"""

from __future__ import annotations

from collections import deque
from typing import Any, TypeGuard

from ..graph.schema import Catalog

PROMPT_PLACEHOLDER = "PARAM_PROMPT"
NEGATIVE_PLACEHOLDER = "PARAM_STR_NEGATIVE"
# The text inputs of an encoder, the main one first (its text becomes the default).
TEXT_INPUTS = ("text", "prompt", "t5xxl", "clip_l", "text_g", "text_l")
# A node's own text inputs, for nodes that take words directly (partner nodes).
OWN_TEXT_INPUTS = {"positive": ("prompt", "prompt_text"), "negative": ("negative_prompt",)}
# Where a side starts: any node's input of that name; a guider's positive-side inputs.
GUIDER_POSITIVE_INPUTS = ("conditioning", "cond1")
GUIDER = "GUIDER"
CONDITIONING = "CONDITIONING"
SIDES = ("positive", "negative")


def _is_link(value: Any) -> TypeGuard[list[Any]]:
    return isinstance(value, list) and len(value) == 2


def literal_text(graph: dict[str, Any], node_id: str, name: str) -> tuple[str, str] | None:
    """The (node, input) holding the text of ``node_id``'s input ``name``, one link away.

    A literal string is its own holder; a link to a text box node (PrimitiveString and
    the like, with exactly one literal string) makes that node the holder.
    """
    value = ((graph.get(node_id) or {}).get("inputs") or {}).get(name)
    if isinstance(value, str):
        return node_id, name
    if _is_link(value):
        source_id = str(value[0])
        source = graph.get(source_id) or {}
        strings = [k for k, v in (source.get("inputs") or {}).items() if isinstance(v, str)]
        if len(strings) == 1:
            return source_id, strings[0]
    return None


def _text_inputs(graph: dict[str, Any], node_id: str, catalog: Catalog) -> list[tuple[str, str]]:
    """The literal texts that ``node_id`` encodes: (node, input) each, following one link."""
    node = graph.get(node_id) or {}
    inputs = node.get("inputs") or {}
    schema = catalog.get(str(node.get("class_type")))
    found: list[tuple[str, str]] = []
    for name in TEXT_INPUTS:
        spec = schema.inputs.get(name) if schema else None
        if name not in inputs or (spec is not None and spec.type != "STRING"):
            continue
        holder = literal_text(graph, node_id, name)
        if holder is not None and holder not in found:
            found.append(holder)
    return found


def _starts(graph: dict[str, Any], catalog: Catalog, side: str) -> list[str]:
    """The nodes feeding each sampler's or guider's ``side`` input, in graph order."""
    starts: list[str] = []
    for node in graph.values():
        inputs = node.get("inputs") or {}
        names = [side]
        if side == "positive":
            schema = catalog.get(str(node.get("class_type")))
            if schema is not None and GUIDER in schema.outputs:
                names += GUIDER_POSITIVE_INPUTS
        for name in names:
            if _is_link(inputs.get(name)):
                starts.append(str(inputs[name][0]))
                break
    return starts


def find_prompt_inputs(graph: dict[str, Any], catalog: Catalog, side: str) -> list[tuple[str, str]]:
    """The text inputs that feed a sampler's ``side`` ("positive"/"negative") input.

    Walks up from every sampler's or guider's ``side`` input through conditioning links;
    the first node on each path with STRING text inputs is the encoder, and all of them
    count (the Flux encoder's ``t5xxl`` first, then ``clip_l``).
    """
    found: list[tuple[str, str]] = []
    for start in _starts(graph, catalog, side):
        queue, seen = deque([start]), set()
        while queue:
            node_id = queue.popleft()
            if node_id in seen or node_id not in graph:
                continue
            seen.add(node_id)
            targets = _text_inputs(graph, node_id, catalog)
            if targets:
                found.extend(t for t in targets if t not in found)
                continue
            current = graph[node_id]
            schema = catalog.get(str(current.get("class_type")))
            inputs = current.get("inputs") or {}
            # A node carrying both sides (LTXVConditioning, WanImageToVideo) passes each
            # on separately: only its input of this side leads to this side's text.
            both = all(_is_link(inputs.get(s)) for s in SIDES)
            for name, value in inputs.items():
                if both and name in SIDES and name != side:
                    continue
                spec = schema.inputs.get(name) if schema else None
                if _is_link(value) and (spec is None or spec.type == CONDITIONING):
                    queue.append(str(value[0]))
    return found


def find_own_text_inputs(
    graph: dict[str, Any], catalog: Catalog, side: str
) -> list[tuple[str, str]]:
    """The ``prompt`` (positive) or ``negative_prompt`` text of nodes that take words directly.

    Only STRING inputs of the catalog count, so a combo called ``prompt`` is left alone.
    """
    found: list[tuple[str, str]] = []
    for node_id, node in graph.items():
        schema = catalog.get(str(node.get("class_type")))
        for name in OWN_TEXT_INPUTS[side]:
            spec = schema.inputs.get(name) if schema else None
            if spec is None or spec.type != "STRING" or name not in (node.get("inputs") or {}):
                continue
            target = literal_text(graph, node_id, name)
            if target is not None and target not in found:
                found.append(target)
    return found


def place_text(
    graph: dict[str, Any], targets: list[tuple[str, str]], placeholder: str, warnings: list[str]
) -> tuple[list[str], str | None]:
    """Put ``placeholder`` into the targets holding the first target's text.

    Returns the ``node.input`` labels replaced and the old text (None when it was a
    placeholder already: a template imported again). A target of another node holding
    another text is left as it is, with a warning; another text input of the first
    node (Flux's ``clip_l`` beside ``t5xxl``) takes the placeholder too, with a note.
    """
    if not targets:
        return [], None
    first_node, first_input = targets[0]
    text = graph[first_node]["inputs"][first_input]
    placed: list[str] = []
    for node_id, name in targets:
        old = graph[node_id]["inputs"][name]
        if old != text and node_id != first_node:
            warnings.append(
                f"node {node_id} input {name!r} holds a different text; left as it is "
                f"(only the text of node {first_node} became {placeholder})"
            )
            continue
        if old != text:
            warnings.append(
                f"node {node_id} input {name!r} held another text; it takes {placeholder} "
                f"too, like {first_input!r}"
            )
        graph[node_id]["inputs"][name] = placeholder
        placed.append(f"{node_id}.{name}")
    already = isinstance(text, str) and text.startswith("PARAM_")
    return placed, text if isinstance(text, str) and not already else None

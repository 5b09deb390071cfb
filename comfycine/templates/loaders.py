"""Placeholders for a workflow's media loaders: the pictures and clips it reads.

A loader is a node with an upload input (``image_upload`` / ``video_upload`` in
``/object_info``): LoadImage → ``PARAM_IMAGE``, LoadImageMask (its only output a MASK) →
``PARAM_MASK``, LoadVideo → ``PARAM_VIDEO``. One loader of a kind takes the kind's name
(``image``); several are named by their custom title (``Start_image`` → ``start_image``)
or by the first telling input the picture reaches (``start_frame`` of a first/last-frame
node, through a resize), else numbered (``image_2``).
"""

from __future__ import annotations

import re
from typing import Any

from ..graph.schema import Catalog, NodeSchema

MEDIA_KINDS = {"image": "IMAGE", "video": "VIDEO"}
EMPTY_SCHEMA = NodeSchema("", "", "", "", {}, (), (), False)  # for a class the server lacks
# Input names that say nothing about a picture's role (the loader feeds "an image").
_GENERIC_MEDIA_INPUTS = frozenset({"image", "images", "pixels", "video", "mask", "input"})
_MEDIA_TYPES = frozenset({"IMAGE", "VIDEO", "MASK"})
_SLUG = re.compile(r"[^a-z0-9]+")


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, else ``base_2``, ``base_3``…: the first not in ``taken`` (then taken)."""
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _slug(text: str) -> str | None:
    slug = _SLUG.sub("_", text.lower()).strip("_")
    return slug if slug and slug[0].isalpha() else None


def _media_role(
    graph: dict[str, Any], catalog: Catalog, node_id: str, schema: NodeSchema
) -> str | None:
    """A name for a loader: its custom title, else the first telling input it feeds."""
    title = ((graph[node_id].get("_meta") or {}).get("title") or "").strip()
    if title and title not in (schema.display_name, schema.name):
        return _slug(title.removeprefix(schema.display_name))
    frontier, seen = [node_id], {node_id}
    for _ in range(4):  # a few hops: loader -> resize -> the node that uses it
        following: list[str] = []
        for other_id, other in graph.items():
            other_schema = catalog.get(str(other.get("class_type"))) or EMPTY_SCHEMA
            for name, value in (other.get("inputs") or {}).items():
                if not (isinstance(value, list) and len(value) == 2 and str(value[0]) in frontier):
                    continue
                spec = other_schema.inputs.get(name)
                if spec is None or spec.type not in _MEDIA_TYPES:
                    continue  # an encoder's output, a size: no longer the picture itself
                if name not in _GENERIC_MEDIA_INPUTS:
                    return _slug(name)
                if other_id not in seen:
                    seen.add(other_id)
                    following.append(other_id)
        frontier = following
    return None


def place_media(
    graph: dict[str, Any], catalog: Catalog, taken: set[str]
) -> list[tuple[str, str, str]]:
    """Put placeholders in the loaders' upload inputs (LoadImage, LoadImageMask, LoadVideo).

    Changes ``graph`` in place; returns ``(name, placeholder, "node.input")`` for each.
    Names in ``taken`` are avoided, and the chosen ones added to it.
    """
    loaders: list[tuple[str, str, str, NodeSchema]] = []
    for node_id, node in graph.items():
        schema = catalog.get(str(node.get("class_type")))
        for name, spec in (schema.inputs if schema else {}).items():
            value = (node.get("inputs") or {}).get(name)
            if spec.upload in MEDIA_KINDS and isinstance(value, str) and schema is not None:
                if value.startswith("PARAM_"):
                    continue
                kind = MEDIA_KINDS[spec.upload]
                if kind == "IMAGE" and set(schema.outputs) == {"MASK"}:
                    kind = "MASK"
                loaders.append((node_id, name, kind, schema))
    made: list[tuple[str, str, str]] = []
    for node_id, name, kind, schema in loaders:
        alone = sum(1 for loader in loaders if loader[2] == kind) == 1
        base = kind.lower()
        role = None if alone else _media_role(graph, catalog, node_id, schema)
        chosen = unique_name(role if role and role not in taken else base, taken)
        placeholder = f"PARAM_{kind}" if chosen == base else f"PARAM_{kind}_{chosen.upper()}"
        graph[node_id]["inputs"][name] = placeholder
        made.append((chosen, placeholder, f"{node_id}.{name}"))
    return made

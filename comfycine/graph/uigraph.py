"""Reading a UI (save) format workflow: its links, nodes, inputs and subgraph levels.

Schema 0.4 saves links as ``[id, origin, slot, target, slot, type]`` tuples, schema 1 as
objects; a subgraph definition saves its links as objects, its border as the nodes
``-10`` (inputs) and ``-20`` (outputs). These helpers read both without judging them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODE_NEVER = 2  # "muted": not run
MODE_BYPASS = 4  # not run; its outputs are wired to its inputs of the same type
NOTE_TYPES = frozenset({"Note", "MarkdownNote"})  # frontend-only, carry no data
REROUTE_TYPES = frozenset({"Reroute", "Reroute (rgthree)"})
PRIMITIVE_NODE = "PrimitiveNode"
INPUT_NODE, OUTPUT_NODE = "-10", "-20"  # a subgraph's border nodes in its links
# Titles the frontend gives its own node classes when the workflow saves none.
FRONTEND_TITLES = {
    PRIMITIVE_NODE: "Primitive",
    "Reroute": "Reroute",
    "Note": "Note",
    "MarkdownNote": "Markdown Note",
}


@dataclass(frozen=True)
class Link:
    """One link of a graph level."""

    origin: str
    slot: int
    target: str
    target_slot: int
    type: str


@dataclass(eq=False)
class Scope:
    """One graph level: the root, or one instance of a subgraph definition."""

    nodes: dict[str, dict[str, Any]]
    links: dict[str, Link]
    path: tuple[str, ...] = ()
    definition: dict[str, Any] | None = None
    instance: dict[str, Any] | None = None
    parent: Scope | None = None

    def exec_id(self, node_id: str) -> str:
        """The id the node gets in the API graph."""
        return ":".join((*self.path, node_id))


def as_int(value: Any, default: int = -1) -> int:
    """``int(value)``, or ``default`` when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_links(raw: Any) -> dict[str, Link]:
    """Links of schema 0.4 (tuples) and schema 1 (objects), by link id."""
    links: dict[str, Link] = {}
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, list) and len(item) >= 5:
            key, origin, slot, target, target_slot = item[:5]
            kind = item[5] if len(item) > 5 else ""
        elif isinstance(item, dict):
            key, origin, slot = item.get("id"), item.get("origin_id"), item.get("origin_slot")
            target, target_slot, kind = (
                item.get("target_id"),
                item.get("target_slot"),
                item.get("type", ""),
            )
        else:
            continue
        links[str(key)] = Link(
            str(origin), as_int(slot), str(target), as_int(target_slot), str(kind)
        )
    return links


def nodes_by_id(raw: Any) -> dict[str, dict[str, Any]]:
    """The node dicts of a list, by id (as text), in their saved order."""
    if not isinstance(raw, list):
        return {}
    return {str(n.get("id")): n for n in raw if isinstance(n, dict)}


def inputs_of(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A node's saved input slots."""
    return [i for i in node.get("inputs") or () if isinstance(i, dict)]


def input_name(entry: dict[str, Any]) -> str:
    """The name an input slot gives its value: its widget's name, else its own."""
    widget = entry.get("widget")
    if isinstance(widget, dict) and isinstance(widget.get("name"), str):
        return str(widget["name"])
    return str(entry.get("name", ""))


def border_inputs(definition: dict[str, Any] | None) -> list[str]:
    """The input names of a subgraph definition, in order."""
    raw = (definition or {}).get("inputs")
    return [str(i.get("name")) for i in raw or () if isinstance(i, dict)]


def types_match(a: Any, b: Any) -> bool:
    """LiteGraph's rule: "*"/"" match anything; "A,B" matches either (case-insensitive)."""
    left, right = str(a or "").lower().split(","), str(b or "").lower().split(",")
    return any(x in ("", "*") or y in ("", "*") or x == y for x in left for y in right)


def bypass_input(node: dict[str, Any], slot: int, wanted: str) -> int:
    """The input a bypassed node's output ``slot`` is wired to (the frontend's rule), or -1."""
    inputs = inputs_of(node)
    outputs = [o for o in node.get("outputs") or () if isinstance(o, dict)]
    out_type = outputs[slot].get("type", "") if 0 <= slot < len(outputs) else ""
    if wanted in ("*", ""):
        return slot if len(inputs) > slot else (0 if inputs else -1)
    if (
        0 <= slot < len(inputs)
        and types_match(inputs[slot].get("type"), out_type)
        and types_match(inputs[slot].get("type"), wanted)
    ):
        return slot
    for index, entry in enumerate(inputs):
        if entry.get("type") == wanted:
            return index
    for index, entry in enumerate(inputs):
        if types_match(entry.get("type"), out_type) and types_match(entry.get("type"), wanted):
            return index
    return -1
